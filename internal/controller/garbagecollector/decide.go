package garbagecollector

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// OwnerState is what became of one owner of an object.
type OwnerState int

const (
	// Solid: the owner exists and is not deleting its dependents.
	Solid OwnerState = iota
	// Dangling: no object with the owner's name and UID exists.
	Dangling
	// Waiting: the owner is being deleted in the foreground and waits for
	// its dependents to go.
	Waiting
)

// Verdict is what to do with an object after looking at its owners.
type Verdict struct {
	// RemoveOwners are owner UIDs to take off the object's
	// ownerReferences (it keeps a solid owner).
	RemoveOwners []types.UID
	// Delete says to delete the object, with Policy.
	Delete bool
	Policy metav1.DeletionPropagation
}

// Decide is upstream's attemptToDeleteItem rule. An object with a solid
// owner stays (references to dangling or waiting owners are removed); an
// object whose owners are all gone or waiting is deleted: in the
// foreground when an owner waits for it and it has dependents of its own
// (so that the wait covers them), else as its own finalizers ask
// (orphan, foreground) or in the background.
func Decide(obj metav1.Object, states map[types.UID]OwnerState, hasDependents bool) Verdict {
	refs := obj.GetOwnerReferences()
	if len(refs) == 0 || obj.GetDeletionTimestamp() != nil {
		return Verdict{}
	}
	var solid, dangling, waiting []types.UID
	for _, r := range refs {
		switch states[r.UID] {
		case Solid:
			solid = append(solid, r.UID)
		case Dangling:
			dangling = append(dangling, r.UID)
		case Waiting:
			waiting = append(waiting, r.UID)
		}
	}
	if len(solid) > 0 {
		return Verdict{RemoveOwners: append(dangling, waiting...)}
	}
	if len(waiting) > 0 && hasDependents {
		return Verdict{Delete: true, Policy: metav1.DeletePropagationForeground}
	}
	policy := metav1.DeletePropagationBackground
	switch fins := obj.GetFinalizers(); {
	case slices.Contains(fins, metav1.FinalizerOrphanDependents):
		policy = metav1.DeletePropagationOrphan
	case slices.Contains(fins, metav1.FinalizerDeleteDependents):
		policy = metav1.DeletePropagationForeground
	}
	return Verdict{Delete: true, Policy: policy}
}

// Blocking returns the dependents whose reference to owner has
// blockOwnerDeletion: a foreground deletion of owner waits for them.
func Blocking(owner types.UID, dependents []metav1.Object) []metav1.Object {
	var out []metav1.Object
	for _, d := range dependents {
		for _, r := range d.GetOwnerReferences() {
			if r.UID == owner && r.BlockOwnerDeletion != nil && *r.BlockOwnerDeletion {
				out = append(out, d)
				break
			}
		}
	}
	return out
}

// WithoutOwners returns refs minus those to the given UIDs.
func WithoutOwners(refs []metav1.OwnerReference, uids ...types.UID) []metav1.OwnerReference {
	out := []metav1.OwnerReference{}
	for _, r := range refs {
		if !slices.Contains(uids, r.UID) {
			out = append(out, r)
		}
	}
	return out
}
