package apps

import (
	appsv1 "k8s.io/api/apps/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// ValidateDeployment validates a Deployment on creation.
//
// metadata is namespaced with a DNS-subdomain name. In spec: replicas >= 0;
// selector is required, valid and non-empty and must match the template's
// labels; the template must be a valid pod template with restartPolicy
// Always and no activeDeadlineSeconds; strategy.type is Recreate (no
// rollingUpdate allowed) or RollingUpdate (rollingUpdate required, maxSurge
// and maxUnavailable non-negative ints or percentages, not both 0,
// maxUnavailable <= 100%); minReadySeconds and revisionHistoryLimit >= 0;
// progressDeadlineSeconds >= 0 and > minReadySeconds.
func ValidateDeployment(d *appsv1.Deployment) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMeta(&d.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDeploymentSpec(&d.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateDeploymentUpdate validates an update of oldD to newD: metadata
// follows the generic update rules, newD's spec is validated as on creation
// and spec.selector is immutable.
func ValidateDeploymentUpdate(newD, oldD *appsv1.Deployment) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newD.ObjectMeta, &oldD.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateDeploymentSpec(&newD.Spec, field.NewPath("spec"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newD.Spec.Selector, oldD.Spec.Selector, field.NewPath("spec", "selector"))...)
	return allErrs
}

// ValidateDeploymentStatusUpdate validates a status update: metadata follows
// the generic update rules, every counter is non-negative, updated, ready
// and available replicas do not exceed status.replicas, available does not
// exceed ready, and collisionCount is never decremented.
func ValidateDeploymentStatusUpdate(newD, oldD *appsv1.Deployment) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newD.ObjectMeta, &oldD.ObjectMeta, field.NewPath("metadata"))
	fldPath := field.NewPath("status")
	allErrs = append(allErrs, validateDeploymentStatus(&newD.Status, fldPath)...)
	allErrs = append(allErrs, validateCollisionCountUpdate(newD.Status.CollisionCount, oldD.Status.CollisionCount, fldPath.Child("collisionCount"))...)
	return allErrs
}

func validateDeploymentSpec(spec *appsv1.DeploymentSpec, fldPath *field.Path) field.ErrorList {
	allErrs := nonNegativePtr(spec.Replicas, fldPath.Child("replicas"))
	selector, selErrs := validateSelector(spec.Selector, "deployment", false, fldPath.Child("selector"))
	allErrs = append(allErrs, selErrs...)
	allErrs = append(allErrs, validateReplicatedTemplate(&spec.Template, selector, "Deployment", fldPath.Child("template"))...)
	allErrs = append(allErrs, validateDeploymentStrategy(&spec.Strategy, fldPath.Child("strategy"))...)
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.RevisionHistoryLimit, fldPath.Child("revisionHistoryLimit"))...)
	if spec.ProgressDeadlineSeconds != nil {
		p := fldPath.Child("progressDeadlineSeconds")
		allErrs = append(allErrs, nonNegative(int64(*spec.ProgressDeadlineSeconds), p)...)
		if *spec.ProgressDeadlineSeconds <= spec.MinReadySeconds {
			allErrs = append(allErrs, field.Invalid(p, *spec.ProgressDeadlineSeconds, "must be greater than minReadySeconds"))
		}
	}
	return allErrs
}

func validateDeploymentStrategy(strategy *appsv1.DeploymentStrategy, fldPath *field.Path) field.ErrorList {
	switch strategy.Type {
	case appsv1.RecreateDeploymentStrategyType:
		if strategy.RollingUpdate != nil {
			return field.ErrorList{field.Forbidden(fldPath.Child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")}
		}
		return nil
	case appsv1.RollingUpdateDeploymentStrategyType:
		if strategy.RollingUpdate == nil {
			return field.ErrorList{field.Required(fldPath.Child("rollingUpdate"), "this should be defaulted and never be nil")}
		}
		return validateRollingUpdateDeployment(strategy.RollingUpdate, fldPath.Child("rollingUpdate"))
	default:
		return field.ErrorList{field.NotSupported(fldPath, strategy.Type,
			[]appsv1.DeploymentStrategyType{appsv1.RecreateDeploymentStrategyType, appsv1.RollingUpdateDeploymentStrategyType})}
	}
}

func validateRollingUpdateDeployment(ru *appsv1.RollingUpdateDeployment, fldPath *field.Path) field.ErrorList {
	maxUnavailable, maxSurge := intOrPercent(ru.MaxUnavailable), intOrPercent(ru.MaxSurge)
	allErrs := validatePositiveIntOrPercent(maxUnavailable, fldPath.Child("maxUnavailable"))
	allErrs = append(allErrs, validatePositiveIntOrPercent(maxSurge, fldPath.Child("maxSurge"))...)
	if intOrPercentValue(maxUnavailable) == 0 && intOrPercentValue(maxSurge) == 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxUnavailable"), maxUnavailable.String(), "may not be 0 when `maxSurge` is 0"))
	}
	allErrs = append(allErrs, notMoreThan100Percent(maxUnavailable, fldPath.Child("maxUnavailable"))...)
	return allErrs
}

func validateDeploymentStatus(status *appsv1.DeploymentStatus, fldPath *field.Path) field.ErrorList {
	allErrs := nonNegative(status.ObservedGeneration, fldPath.Child("observedGeneration"))
	allErrs = append(allErrs, nonNegative(int64(status.Replicas), fldPath.Child("replicas"))...)
	allErrs = append(allErrs, nonNegative(int64(status.UpdatedReplicas), fldPath.Child("updatedReplicas"))...)
	allErrs = append(allErrs, nonNegative(int64(status.ReadyReplicas), fldPath.Child("readyReplicas"))...)
	allErrs = append(allErrs, nonNegative(int64(status.AvailableReplicas), fldPath.Child("availableReplicas"))...)
	allErrs = append(allErrs, nonNegative(int64(status.UnavailableReplicas), fldPath.Child("unavailableReplicas"))...)
	allErrs = append(allErrs, nonNegativePtr(status.TerminatingReplicas, fldPath.Child("terminatingReplicas"))...)
	allErrs = append(allErrs, nonNegativePtr(status.CollisionCount, fldPath.Child("collisionCount"))...)
	const msg = "cannot be greater than status.replicas"
	allErrs = append(allErrs, notGreaterThan(status.UpdatedReplicas, status.Replicas, msg, fldPath.Child("updatedReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.ReadyReplicas, status.Replicas, msg, fldPath.Child("readyReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.AvailableReplicas, status.Replicas, msg, fldPath.Child("availableReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.AvailableReplicas, status.ReadyReplicas, "cannot be greater than readyReplicas", fldPath.Child("availableReplicas"))...)
	return allErrs
}
