package controller

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

// AdoptPatch is the strategic merge patch that makes ref the controller
// of the object with uid (upstream's ControllerRefManager adoption); the
// uid precondition makes it fail on a recreated object of the same name.
func AdoptPatch(ref *metav1.OwnerReference, uid types.UID) []byte {
	return fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"apiVersion":%q,"kind":%q,"name":%q,"uid":%q,"controller":true,"blockOwnerDeletion":true}],"uid":%q}}`,
		ref.APIVersion, ref.Kind, ref.Name, ref.UID, uid)
}

// ReleasePatch is the strategic merge patch that removes the owner
// reference to owner from the object with uid.
func ReleasePatch(owner, uid types.UID) []byte {
	return fmt.Appendf(nil, `{"metadata":{"ownerReferences":[{"$patch":"delete","uid":%q}],"uid":%q}}`, owner, uid)
}
