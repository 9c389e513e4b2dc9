package controller

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
