package validation

import (
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateObjectMeta validates the metadata of an object on creation.
//
// It requires name (or generateName, checked as a prefix) and validates the
// name with nameFn; when namespaced is true the namespace is required and must
// be a DNS-1123 label, otherwise it must be empty. Labels, annotations
// (including the 256KiB total size limit), ownerReferences, finalizers and
// managedFields are validated; unprefixed finalizers must be one of the
// standard Kubernetes finalizers. Errors are rooted at fldPath (normally
// field.NewPath("metadata")).
func ValidateObjectMeta(meta *metav1.ObjectMeta, namespaced bool, nameFn apimachineryvalidation.ValidateNameFunc, fldPath *field.Path) field.ErrorList {
	if meta == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	allErrs := apimachineryvalidation.ValidateObjectMeta(meta, namespaced, nameFn, fldPath)
	for i := range meta.Finalizers {
		allErrs = append(allErrs, validateKubeFinalizerName(meta.Finalizers[i], fldPath.Child("finalizers").Index(i))...)
	}
	return allErrs
}

// ValidateObjectMetaUpdate validates the metadata of an object on update.
//
// name, namespace, uid, creationTimestamp, deletionTimestamp and
// deletionGracePeriodSeconds are immutable; resourceVersion must be set;
// generation may not decrease; finalizers may not be added once the object is
// being deleted; labels, annotations, ownerReferences and managedFields of
// newMeta are validated.
func ValidateObjectMetaUpdate(newMeta, oldMeta *metav1.ObjectMeta, fldPath *field.Path) field.ErrorList {
	if newMeta == nil || oldMeta == nil {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	allErrs := apimachineryvalidation.ValidateObjectMetaUpdate(newMeta, oldMeta, fldPath)
	for i := range newMeta.Finalizers {
		allErrs = append(allErrs, validateKubeFinalizerName(newMeta.Finalizers[i], fldPath.Child("finalizers").Index(i))...)
	}
	return allErrs
}
