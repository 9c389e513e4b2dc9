package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// ValidateDaemonSet validates a DaemonSet on creation.
//
// metadata is namespaced with a DNS-subdomain name. In spec: selector is
// required, valid and non-empty and must match the template's labels; the
// template must be a valid pod template with restartPolicy Always and no
// activeDeadlineSeconds; minReadySeconds and revisionHistoryLimit >= 0;
// updateStrategy.type is OnDelete or RollingUpdate, and a RollingUpdate
// needs rollingUpdate with non-negative int-or-percent maxUnavailable and
// maxSurge, each <= 100%, exactly one of them non-zero.
func ValidateDaemonSet(ds *appsv1.DaemonSet) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMeta(&ds.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDaemonSetSpec(&ds.Spec, false, field.NewPath("spec"))...)
	return allErrs
}

// ValidateDaemonSetUpdate validates an update of oldDS to newDS: metadata
// follows the generic update rules, newDS's spec is validated as on creation
// (label values that the stored selector already used are tolerated) and
// spec.selector is immutable.
func ValidateDaemonSetUpdate(newDS, oldDS *appsv1.DaemonSet) field.ErrorList {
	allowInvalidLabelValue := metavalidation.LabelSelectorHasInvalidLabelValue(oldDS.Spec.Selector)
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newDS.ObjectMeta, &oldDS.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDaemonSetSpec(&newDS.Spec, allowInvalidLabelValue, field.NewPath("spec"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newDS.Spec.Selector, oldDS.Spec.Selector, field.NewPath("spec", "selector"))...)
	return allErrs
}

// ValidateDaemonSetStatusUpdate validates a status update: metadata follows
// the generic update rules, every counter is non-negative and
// collisionCount is never decremented.
func ValidateDaemonSetStatusUpdate(newDS, oldDS *appsv1.DaemonSet) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newDS.ObjectMeta, &oldDS.ObjectMeta, field.NewPath("metadata"))
	fldPath := field.NewPath("status")
	allErrs = append(allErrs, validateDaemonSetStatus(&newDS.Status, fldPath)...)
	allErrs = append(allErrs, validateCollisionCountUpdate(newDS.Status.CollisionCount, oldDS.Status.CollisionCount, fldPath.Child("collisionCount"))...)
	return allErrs
}

func validateDaemonSetSpec(spec *appsv1.DaemonSetSpec, allowInvalidLabelValue bool, fldPath *field.Path) field.ErrorList {
	selector, allErrs := validateSelector(spec.Selector, "daemonset", allowInvalidLabelValue, fldPath.Child("selector"))
	allErrs = append(allErrs, validateReplicatedTemplate(&spec.Template, selector, "DaemonSet", fldPath.Child("template"))...)
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, validateDaemonSetUpdateStrategy(&spec.UpdateStrategy, fldPath.Child("updateStrategy"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.RevisionHistoryLimit, fldPath.Child("revisionHistoryLimit"))...)
	return allErrs
}

func validateDaemonSetUpdateStrategy(strategy *appsv1.DaemonSetUpdateStrategy, fldPath *field.Path) field.ErrorList {
	switch strategy.Type {
	case appsv1.OnDeleteDaemonSetStrategyType:
		return nil
	case appsv1.RollingUpdateDaemonSetStrategyType:
		if strategy.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "")}
		}
		return validateRollingUpdateDaemonSet(strategy.RollingUpdate, fldPath.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(fldPath, strategy.Type,
			[]appsv1.DaemonSetUpdateStrategyType{appsv1.RollingUpdateDaemonSetStrategyType, appsv1.OnDeleteDaemonSetStrategyType})}
	}
}

func validateRollingUpdateDaemonSet(ru *appsv1.RollingUpdateDaemonSet, fldPath *field.Path) field.ErrorList {
	maxUnavailable, maxSurge := intOrPercent(ru.MaxUnavailable), intOrPercent(ru.MaxSurge)
	unavailablePath, surgePath := fldPath.Child("maxUnavailable"), fldPath.Child("maxSurge")
	allErrs := validatePositiveIntOrPercent(maxUnavailable, unavailablePath)
	allErrs = append(allErrs, validatePositiveIntOrPercent(maxSurge, surgePath)...)
	allErrs = append(allErrs, notMoreThan100Percent(maxUnavailable, unavailablePath)...)
	allErrs = append(allErrs, notMoreThan100Percent(maxSurge, surgePath)...)
	hasUnavailable := intOrPercentValue(maxUnavailable) != 0
	hasSurge := intOrPercentValue(maxSurge) != 0
	switch {
	case hasUnavailable && hasSurge:
		allErrs = append(allErrs, field.Invalid(surgePath, maxSurge.String(), "may not be set when maxUnavailable is non-zero"))
	case !hasUnavailable && !hasSurge:
		allErrs = append(allErrs, field.Required(unavailablePath, "cannot be 0 when maxSurge is 0"))
	}
	return allErrs
}

func validateDaemonSetStatus(status *appsv1.DaemonSetStatus, fldPath *field.Path) field.ErrorList {
	allErrs := nonNegative(int64(status.CurrentNumberScheduled), fldPath.Child("currentNumberScheduled"))
	allErrs = append(allErrs, nonNegative(int64(status.NumberMisscheduled), fldPath.Child("numberMisscheduled"))...)
	allErrs = append(allErrs, nonNegative(int64(status.DesiredNumberScheduled), fldPath.Child("desiredNumberScheduled"))...)
	allErrs = append(allErrs, nonNegative(int64(status.NumberReady), fldPath.Child("numberReady"))...)
	allErrs = append(allErrs, nonNegative(status.ObservedGeneration, fldPath.Child("observedGeneration"))...)
	allErrs = append(allErrs, nonNegative(int64(status.UpdatedNumberScheduled), fldPath.Child("updatedNumberScheduled"))...)
	allErrs = append(allErrs, nonNegative(int64(status.NumberAvailable), fldPath.Child("numberAvailable"))...)
	allErrs = append(allErrs, nonNegative(int64(status.NumberUnavailable), fldPath.Child("numberUnavailable"))...)
	allErrs = append(allErrs, nonNegativePtr(status.CollisionCount, fldPath.Child("collisionCount"))...)
	return allErrs
}
