// Package apps validates apps/v1 workloads (Deployment, ReplicaSet,
// DaemonSet, StatefulSet) and the autoscaling/v1 Scale subresource.
//
// All functions are pure: they take versioned, already-defaulted objects and
// return a field.ErrorList whose paths are rooted at the object (for example
// "spec.template.metadata.labels"). An empty list means the object is valid.
// Rules and user-visible messages follow upstream Kubernetes
// (pkg/apis/apps/validation plus the apps/v1 registry strategies, such as
// selector immutability) where practical. Pod templates are checked with the
// sibling package internal/validation.
package apps

import (
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// nonNegative reports an Invalid error at fldPath when value < 0.
func nonNegative(value int64, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(value, fldPath)
}

// nonNegativePtr is nonNegative for optional fields; nil is accepted.
func nonNegativePtr[T int32 | int64](value *T, fldPath *field.Path) field.ErrorList {
	if value == nil {
		return nil
	}
	return nonNegative(int64(*value), fldPath)
}

// validateSelector checks a workload's spec.selector: it is required, must
// be a syntactically valid label selector, and may not be empty (an empty
// selector would match every pod in the namespace). kind names the workload
// in the error message ("deployment", "replicaset", ...). It returns the
// parsed selector, or nil when none could be built.
func validateSelector(sel *metav1.LabelSelector, kind string, allowInvalidLabelValue bool, fldPath *field.Path) (labels.Selector, field.ErrorList) {
	if sel == nil {
		return nil, field.ErrorList{field.Required(fldPath, "")}
	}
	opts := metavalidation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: allowInvalidLabelValue}
	allErrs := metavalidation.ValidateLabelSelector(sel, opts, fldPath)
	if len(sel.MatchLabels)+len(sel.MatchExpressions) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, sel, fmt.Sprintf("empty selector is invalid for %s", kind)))
	}
	selector, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		// Only report the parse failure when the field checks above did not
		// already explain it and stored invalid label values are not being
		// tolerated.
		if len(allErrs) == 0 && !allowInvalidLabelValue {
			allErrs = append(allErrs, field.Invalid(fldPath, sel, "invalid label selector"))
		}
		return nil, allErrs
	}
	return selector, allErrs
}

// validateTemplateMatchesSelector requires the pod template's labels to be
// selected by selector (nil selector: nothing to check).
func validateTemplateMatchesSelector(selector labels.Selector, template *corev1.PodTemplateSpec, templatePath *field.Path) field.ErrorList {
	if selector == nil || selector.Empty() || selector.Matches(labels.Set(template.Labels)) {
		return nil
	}
	return field.ErrorList{field.Invalid(templatePath.Child("metadata", "labels"), template.Labels, "`selector` does not match template `labels`")}
}

// validateWorkloadPodSpec applies the pod-spec rules shared by long-running
// workloads: restartPolicy must be Always and activeDeadlineSeconds unset.
// kind ("Deployment", ...) appears in the activeDeadlineSeconds message.
func validateWorkloadPodSpec(spec *corev1.PodSpec, kind string, specPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.RestartPolicy != corev1.RestartPolicyAlways {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("restartPolicy"), spec.RestartPolicy, []corev1.RestartPolicy{corev1.RestartPolicyAlways}))
	}
	if spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, field.Forbidden(specPath.Child("activeDeadlineSeconds"), fmt.Sprintf("activeDeadlineSeconds in %s is not Supported", kind)))
	}
	return allErrs
}

// validateReplicatedTemplate validates the pod template of a Deployment,
// ReplicaSet or DaemonSet: its labels must match selector, the template must
// be a valid pod template, and the workload pod-spec rules apply.
func validateReplicatedTemplate(template *corev1.PodTemplateSpec, selector labels.Selector, kind string, fldPath *field.Path) field.ErrorList {
	allErrs := validateTemplateMatchesSelector(selector, template, fldPath)
	allErrs = append(allErrs, corevalidation.ValidatePodTemplateSpec(template, fldPath)...)
	allErrs = append(allErrs, validateWorkloadPodSpec(&template.Spec, kind, fldPath.Child("spec"))...)
	return allErrs
}

// intOrPercent returns the IntOrString behind an optional field; an unset
// value counts as the integer 0, as in the internal API types.
func intOrPercent(v *intstr.IntOrString) intstr.IntOrString {
	if v == nil {
		return intstr.FromInt32(0)
	}
	return *v
}

// validatePositiveIntOrPercent accepts a non-negative integer or a
// percentage string such as "25%".
func validatePositiveIntOrPercent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch v.Type {
	case intstr.String:
		for _, msg := range utilvalidation.IsValidPercent(v.StrVal) {
			allErrs = append(allErrs, field.Invalid(fldPath, v.String(), msg))
		}
	case intstr.Int:
		allErrs = append(allErrs, nonNegative(int64(v.IntVal), fldPath)...)
	default:
		allErrs = append(allErrs, field.Invalid(fldPath, v.String(), "must be an integer or percentage (e.g '5%')"))
	}
	return allErrs
}

// percentValue returns the number in a valid percentage string.
func percentValue(v intstr.IntOrString) (int, bool) {
	if v.Type != intstr.String || len(utilvalidation.IsValidPercent(v.StrVal)) != 0 {
		return 0, false
	}
	n, err := strconv.Atoi(v.StrVal[:len(v.StrVal)-1])
	if err != nil {
		return 0, false
	}
	return n, true
}

// intOrPercentValue returns the integer or the percentage number of v
// (invalid strings count as 0).
func intOrPercentValue(v intstr.IntOrString) int {
	if n, ok := percentValue(v); ok {
		return n
	}
	if v.Type == intstr.Int {
		return int(v.IntVal)
	}
	return 0
}

// notMoreThan100Percent rejects percentages above 100%.
func notMoreThan100Percent(v intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	if n, ok := percentValue(v); ok && n > 100 {
		return field.ErrorList{field.Invalid(fldPath, v.String(), "must not be greater than 100%")}
	}
	return nil
}

// isDecremented reports whether an optional counter went down (or was
// cleared) between oldVal and newVal.
func isDecremented(newVal, oldVal *int32) bool {
	if oldVal == nil {
		return false
	}
	return newVal == nil || *newVal < *oldVal
}

// validateCollisionCountUpdate rejects a decremented status.collisionCount.
func validateCollisionCountUpdate(newVal, oldVal *int32, fldPath *field.Path) field.ErrorList {
	if !isDecremented(newVal, oldVal) {
		return nil
	}
	var value int32
	if newVal != nil {
		value = *newVal
	}
	return field.ErrorList{field.Invalid(fldPath, value, "cannot be decremented")}
}

// notGreaterThan reports Invalid at fldPath when value > limit.
func notGreaterThan(value, limit int32, msg string, fldPath *field.Path) field.ErrorList {
	if value > limit {
		return field.ErrorList{field.Invalid(fldPath, value, msg)}
	}
	return nil
}
