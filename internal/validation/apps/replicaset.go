package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// ValidateReplicaSet validates a ReplicaSet on creation: namespaced metadata
// with a DNS-subdomain name; replicas and minReadySeconds >= 0; selector
// required, valid, non-empty and matching the template's labels; a valid
// pod template with restartPolicy Always and no activeDeadlineSeconds.
func ValidateReplicaSet(rs *appsv1.ReplicaSet) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMeta(&rs.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateReplicaSetSpec(&rs.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateReplicaSetUpdate validates an update of oldRS to newRS: metadata
// follows the generic update rules, newRS's spec is validated as on creation
// and spec.selector is immutable.
func ValidateReplicaSetUpdate(newRS, oldRS *appsv1.ReplicaSet) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newRS.ObjectMeta, &oldRS.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateReplicaSetSpec(&newRS.Spec, field.NewPath("spec"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newRS.Spec.Selector, oldRS.Spec.Selector, field.NewPath("spec", "selector"))...)
	return allErrs
}

// ValidateReplicaSetStatusUpdate validates a status update: metadata follows
// the generic update rules, every counter is non-negative, fullyLabeled,
// ready and available replicas do not exceed status.replicas and available
// does not exceed ready.
func ValidateReplicaSetStatusUpdate(newRS, oldRS *appsv1.ReplicaSet) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newRS.ObjectMeta, &oldRS.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateReplicaSetStatus(&newRS.Status, field.NewPath("status"))...)
	return allErrs
}

func validateReplicaSetSpec(spec *appsv1.ReplicaSetSpec, fldPath *field.Path) field.ErrorList {
	allErrs := nonNegativePtr(spec.Replicas, fldPath.Child("replicas"))
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	selector, selErrs := validateSelector(spec.Selector, "replicaset", false, fldPath.Child("selector"))
	allErrs = append(allErrs, selErrs...)
	allErrs = append(allErrs, validateReplicatedTemplate(&spec.Template, selector, "ReplicaSet", fldPath.Child("template"))...)
	return allErrs
}

func validateReplicaSetStatus(status *appsv1.ReplicaSetStatus, fldPath *field.Path) field.ErrorList {
	allErrs := nonNegative(int64(status.Replicas), fldPath.Child("replicas"))
	allErrs = append(allErrs, nonNegative(int64(status.FullyLabeledReplicas), fldPath.Child("fullyLabeledReplicas"))...)
	allErrs = append(allErrs, nonNegative(int64(status.ReadyReplicas), fldPath.Child("readyReplicas"))...)
	allErrs = append(allErrs, nonNegative(int64(status.AvailableReplicas), fldPath.Child("availableReplicas"))...)
	allErrs = append(allErrs, nonNegativePtr(status.TerminatingReplicas, fldPath.Child("terminatingReplicas"))...)
	allErrs = append(allErrs, nonNegative(status.ObservedGeneration, fldPath.Child("observedGeneration"))...)
	const msg = "cannot be greater than status.replicas"
	allErrs = append(allErrs, notGreaterThan(status.FullyLabeledReplicas, status.Replicas, msg, fldPath.Child("fullyLabeledReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.ReadyReplicas, status.Replicas, msg, fldPath.Child("readyReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.AvailableReplicas, status.Replicas, msg, fldPath.Child("availableReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.AvailableReplicas, status.ReadyReplicas, "cannot be greater than readyReplicas", fldPath.Child("availableReplicas"))...)
	return allErrs
}
