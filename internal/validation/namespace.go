package validation

import (
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidateNamespace validates a Namespace on creation: metadata
// (cluster-scoped, name a DNS-1123 label) and spec.finalizers (qualified
// names; unprefixed ones must be standard, e.g. "kubernetes").
func ValidateNamespace(ns *corev1.Namespace) field.ErrorList {
	if ns == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMeta(&ns.ObjectMeta, false, apimachineryvalidation.ValidateNamespaceName, field.NewPath("metadata"))
	for _, f := range ns.Spec.Finalizers {
		allErrs = append(allErrs, validateFinalizerName(string(f), field.NewPath("spec", "finalizers"))...)
	}
	return allErrs
}

// ValidateNamespaceUpdate validates newNs fully plus metadata update rules.
func ValidateNamespaceUpdate(newNs, oldNs *corev1.Namespace) field.ErrorList {
	if newNs == nil || oldNs == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateNamespace(newNs)
	return append(allErrs, ValidateObjectMetaUpdate(&newNs.ObjectMeta, &oldNs.ObjectMeta, field.NewPath("metadata"))...)
}

// ValidateNamespaceStatusUpdate validates a status update: the phase must be
// Active while the namespace is not being deleted and Terminating once it
// is.
func ValidateNamespaceStatusUpdate(newNs, oldNs *corev1.Namespace) field.ErrorList {
	if newNs == nil || oldNs == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newNs.ObjectMeta, &oldNs.ObjectMeta, field.NewPath("metadata"))
	p := field.NewPath("status", "phase")
	if newNs.DeletionTimestamp.IsZero() {
		if newNs.Status.Phase != corev1.NamespaceActive {
			allErrs = append(allErrs, field.Invalid(p, newNs.Status.Phase, "may only be 'Active' if `deletionTimestamp` is empty"))
		}
	} else if newNs.Status.Phase != corev1.NamespaceTerminating {
		allErrs = append(allErrs, field.Invalid(p, newNs.Status.Phase, "may only be 'Terminating' if `deletionTimestamp` is not empty"))
	}
	return allErrs
}

// ValidateNamespaceFinalizeUpdate validates an update through the finalize
// subresource: metadata rules and each spec.finalizers entry.
func ValidateNamespaceFinalizeUpdate(newNs, oldNs *corev1.Namespace) field.ErrorList {
	if newNs == nil || oldNs == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newNs.ObjectMeta, &oldNs.ObjectMeta, field.NewPath("metadata"))
	for i, f := range newNs.Spec.Finalizers {
		allErrs = append(allErrs, validateFinalizerName(string(f), field.NewPath("spec", "finalizers").Index(i))...)
	}
	return allErrs
}
