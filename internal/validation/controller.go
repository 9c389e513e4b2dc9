package validation

import (
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ValidatePodTemplate validates a core/v1 PodTemplate object: metadata
// (name a DNS subdomain, namespaced) and the template under "template".
func ValidatePodTemplate(pt *corev1.PodTemplate) field.ErrorList {
	if pt == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMeta(&pt.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, ValidatePodTemplateSpec(&pt.Template, field.NewPath("template"))...)
}

// ValidatePodTemplateUpdate validates newPT's template plus metadata update
// rules; templates are otherwise mutable.
func ValidatePodTemplateUpdate(newPT, oldPT *corev1.PodTemplate) field.ErrorList {
	if newPT == nil || oldPT == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newPT.ObjectMeta, &oldPT.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidatePodTemplateSpec(&newPT.Template, field.NewPath("template"))...)
}

// ValidateReplicationController validates a ReplicationController: metadata
// (name a DNS subdomain) and spec (non-empty selector matching the template
// labels, non-negative replicas and minReadySeconds, a template with
// restartPolicy Always and no activeDeadlineSeconds).
func ValidateReplicationController(rc *corev1.ReplicationController) field.ErrorList {
	if rc == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMeta(&rc.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateReplicationControllerSpec(&rc.Spec, field.NewPath("spec"))...)
}

// ValidateReplicationControllerUpdate validates newRC's spec plus metadata
// update rules.
func ValidateReplicationControllerUpdate(newRC, oldRC *corev1.ReplicationController) field.ErrorList {
	if newRC == nil || oldRC == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newRC.ObjectMeta, &oldRC.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateReplicationControllerSpec(&newRC.Spec, field.NewPath("spec"))...)
}

// ValidateReplicationControllerStatusUpdate validates a status update:
// metadata rules and non-negative, mutually consistent replica counts.
func ValidateReplicationControllerStatusUpdate(newRC, oldRC *corev1.ReplicationController) field.ErrorList {
	if newRC == nil || oldRC == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newRC.ObjectMeta, &oldRC.ObjectMeta, field.NewPath("metadata"))
	st := newRC.Status
	p := field.NewPath("status")
	allErrs = append(allErrs, validateNonnegativeField(int64(st.Replicas), p.Child("replicas"))...)
	allErrs = append(allErrs, validateNonnegativeField(int64(st.FullyLabeledReplicas), p.Child("fullyLabeledReplicas"))...)
	allErrs = append(allErrs, validateNonnegativeField(int64(st.ReadyReplicas), p.Child("readyReplicas"))...)
	allErrs = append(allErrs, validateNonnegativeField(int64(st.AvailableReplicas), p.Child("availableReplicas"))...)
	allErrs = append(allErrs, validateNonnegativeField(st.ObservedGeneration, p.Child("observedGeneration"))...)
	const msg = "cannot be greater than status.replicas"
	if st.FullyLabeledReplicas > st.Replicas {
		allErrs = append(allErrs, field.Invalid(p.Child("fullyLabeledReplicas"), st.FullyLabeledReplicas, msg))
	}
	if st.ReadyReplicas > st.Replicas {
		allErrs = append(allErrs, field.Invalid(p.Child("readyReplicas"), st.ReadyReplicas, msg))
	}
	if st.AvailableReplicas > st.Replicas {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), st.AvailableReplicas, msg))
	}
	if st.AvailableReplicas > st.ReadyReplicas {
		allErrs = append(allErrs, field.Invalid(p.Child("availableReplicas"), st.AvailableReplicas, "cannot be greater than readyReplicas"))
	}
	return allErrs
}

func validateReplicationControllerSpec(spec *corev1.ReplicationControllerSpec, fldPath *field.Path) field.ErrorList {
	allErrs := validateNonnegativeField(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))
	selector := labels.Set(spec.Selector).AsSelector()
	if selector.Empty() {
		allErrs = append(allErrs, field.Required(fldPath.Child("selector"), ""))
	}
	if spec.Replicas != nil {
		allErrs = append(allErrs, validateNonnegativeField(int64(*spec.Replicas), fldPath.Child("replicas"))...)
	}
	tp := fldPath.Child("template")
	if spec.Template == nil {
		return append(allErrs, field.Required(tp, ""))
	}
	if !selector.Empty() && !selector.Matches(labels.Set(spec.Template.Labels)) {
		allErrs = append(allErrs, field.Invalid(tp.Child("metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	allErrs = append(allErrs, ValidatePodTemplateSpec(spec.Template, tp)...)
	if spec.Template.Spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(tp.Child("spec", "restartPolicy"), spec.Template.Spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if spec.Template.Spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(tp.Child("spec", "activeDeadlineSeconds"), "activeDeadlineSeconds in ReplicationController is not Supported"))
	}
	return allErrs
}
