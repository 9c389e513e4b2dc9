package controller

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
)

// AdoptPatch is the strategic merge patch by which a controller adopts
// an orphan: ref (controller and blockOwnerDeletion set) joins its
// ownerReferences. The object's uid is part of the patch, so that a
// namesake created since the decision fails the patch instead of being
// adopted (upstream's ControllerRefManager).
func AdoptPatch(ref *metav1.OwnerReference, uid types.UID) []byte {
	return fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q}}`,
		ref.APIVersion, ref.Kind, ref.Name, ref.UID, uid)
}

// ReleasePatch is the strategic merge patch by which the owner with UID
// owner releases the object with uid: its ownerReference is removed.
func ReleasePatch(owner, uid types.UID) []byte {
	return fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],"uid":%q}}`, owner, uid)
}

// Claims is how a controller's candidates split under upstream's
// ControllerRefManager rules (SplitClaims).
type Claims[T metav1.Object] struct {
	// Owned are the objects the owner controls once the claim is
	// written: those it controls that match, and the adoptees.
	Owned []T
	// Adopt are matching orphans, not being deleted, of an owner not
	// being deleted.
	Adopt []T
	// Release are objects the owner controls that no longer match
	// (none while the owner is being deleted).
	Release []T
}

// SplitClaims sorts candidates for owner: another controller's are left
// out; the owner's that match are owned, those that do not are released
// unless the owner is being deleted; orphans that match are adopted
// unless either is being deleted.
func SplitClaims[T metav1.Object](owner metav1.Object, candidates []T, matches func(T) bool) Claims[T] {
	var c Claims[T]
	deleting := owner.GetDeletionTimestamp() != nil
	for _, o := range candidates {
		ref := metav1.GetControllerOfNoCopy(o)
		switch {
		case ref != nil && ref.UID != owner.GetUID():
		case ref != nil && matches(o):
			c.Owned = append(c.Owned, o)
		case ref != nil:
			if !deleting {
				c.Release = append(c.Release, o)
			}
		case !deleting && o.GetDeletionTimestamp() == nil && matches(o):
			c.Adopt = append(c.Adopt, o)
			c.Owned = append(c.Owned, o)
		}
	}
	return c
}

// ClaimWrites are the writes of a claim.
type ClaimWrites[T metav1.Object] struct {
	// Recheck re-reads the owner live before the first adoption and
	// fails when it is gone or being deleted (upstream's
	// RecheckDeletionTimestamp; see RecheckDeletion). Required when
	// there is something to adopt.
	Recheck func(ctx context.Context) error
	// Adopt makes the owner the object's controller and returns the
	// object as written (see PatchClaims).
	Adopt func(ctx context.Context, obj T) (T, error)
	// Release removes the owner's reference (see PatchClaims).
	Release func(ctx context.Context, obj T) error
}

// Write adopts (after Recheck) and releases, and returns the owned
// objects: an adoptee as Adopt returned it, one gone meanwhile left out.
// An object gone (or, released, no longer the owner's: Invalid) is not
// an error; the first other error stops the claim.
func (c Claims[T]) Write(ctx context.Context, w ClaimWrites[T]) ([]T, error) {
	adopted := make(map[types.UID]T, len(c.Adopt))
	lost := map[types.UID]bool{}
	if len(c.Adopt) > 0 {
		if err := w.Recheck(ctx); err != nil {
			return nil, err
		}
	}
	for _, o := range c.Adopt {
		out, err := w.Adopt(ctx, o)
		if apierrors.IsNotFound(err) {
			lost[o.GetUID()] = true
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("adopt %s/%s: %w", o.GetNamespace(), o.GetName(), err)
		}
		adopted[o.GetUID()] = out
	}
	for _, o := range c.Release {
		err := w.Release(ctx, o)
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsInvalid(err) {
			return nil, fmt.Errorf("release %s/%s: %w", o.GetNamespace(), o.GetName(), err)
		}
	}
	owned := make([]T, 0, len(c.Owned))
	for _, o := range c.Owned {
		if lost[o.GetUID()] {
			continue
		}
		if a, ok := adopted[o.GetUID()]; ok {
			o = a
		}
		owned = append(owned, o)
	}
	return owned, nil
}

// ClaimObjects claims the candidates matching sel for owner (upstream's
// ControllerRefManager ClaimObject over a list): SplitClaims, then
// Write. filter, when set, must also accept a match (a StatefulSet's
// member names).
func ClaimObjects[T metav1.Object](ctx context.Context, owner metav1.Object, sel labels.Selector, filter func(T) bool, candidates []T, w ClaimWrites[T]) ([]T, error) {
	matches := func(o T) bool {
		return sel.Matches(labels.Set(o.GetLabels())) && (filter == nil || filter(o))
	}
	return SplitClaims(owner, candidates, matches).Write(ctx, w)
}

// Patcher is a typed client's Patch method
// (client.CoreV1().Pods(ns).Patch, ...).
type Patcher[T any] func(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (T, error)

// PatchClaims are the ClaimWrites of the owner whose controller
// reference is ref: after recheck (see RecheckDeletion), an AdoptPatch
// of ref or a ReleasePatch of ref.UID through patch (the objects' typed
// client's Patch).
func PatchClaims[T metav1.Object](ref *metav1.OwnerReference, patch Patcher[T], recheck func(context.Context) error) ClaimWrites[T] {
	return ClaimWrites[T]{
		Recheck: recheck,
		Adopt: func(ctx context.Context, o T) (T, error) {
			return patch(ctx, o.GetName(), types.StrategicMergePatchType, AdoptPatch(ref, o.GetUID()), metav1.PatchOptions{})
		},
		Release: func(ctx context.Context, o T) error {
			_, err := patch(ctx, o.GetName(), types.StrategicMergePatchType, ReleasePatch(ref.UID, o.GetUID()), metav1.PatchOptions{})
			return err
		},
	}
}

// RecheckDeletion is ClaimWrites.Recheck: it reads owner (a kind, in
// lower case for messages) through get and fails when it is gone,
// replaced (another UID) or being deleted.
func RecheckDeletion[O metav1.Object](owner metav1.Object, kind string, get func(ctx context.Context, name string, opts metav1.GetOptions) (O, error)) func(context.Context) error {
	return func(ctx context.Context) error {
		fresh, err := get(ctx, owner.GetName(), metav1.GetOptions{})
		if err != nil {
			return fmt.Errorf("recheck before adoption: %w", err)
		}
		if fresh.GetUID() != owner.GetUID() || fresh.GetDeletionTimestamp() != nil {
			return fmt.Errorf("%s %s/%s is gone or being deleted: not adopting", kind, owner.GetNamespace(), owner.GetName())
		}
		return nil
	}
}
