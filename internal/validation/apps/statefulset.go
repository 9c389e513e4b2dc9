package apps

import (
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// StatefulSetSpecUpdateForbiddenMessage is the detail of the Forbidden error
// reported when an update changes a StatefulSet spec field that may not
// change.
const StatefulSetSpecUpdateForbiddenMessage = "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"

// ValidateStatefulSet validates a StatefulSet on creation.
//
// metadata is namespaced and the name must be a DNS label (it prefixes pod
// hostnames). In spec: podManagementPolicy is OrderedReady or Parallel;
// updateStrategy.type is RollingUpdate (partition >= 0, maxUnavailable a
// positive int or percentage <= 100%) or OnDelete (no rollingUpdate);
// persistentVolumeClaimRetentionPolicy values are Retain or Delete;
// replicas, minReadySeconds, revisionHistoryLimit and ordinals.start >= 0;
// serviceName, when set, is a DNS label; selector is required, valid,
// non-empty and matches the template's labels; volumeClaimTemplates need
// unique DNS-label names; the template must be a valid pod template (the
// claim templates count as volumes) with restartPolicy Always and no
// activeDeadlineSeconds.
//
// Upstream only checks the template's labels and annotations, leaving a TODO
// to validate the pod spec together with the claim templates; Skiff does
// that full check.
func ValidateStatefulSet(sts *appsv1.StatefulSet) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMeta(&sts.ObjectMeta, true, apimachineryvalidation.NameIsDNSLabel, field.NewPath("metadata"))
	allErrs = append(allErrs, validateStatefulSetSpec(&sts.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateStatefulSetUpdate validates an update of oldSTS to newSTS.
// Metadata follows the generic update rules and newSTS's spec is validated
// as on creation. Only replicas, ordinals, template, updateStrategy,
// revisionHistoryLimit, persistentVolumeClaimRetentionPolicy and
// minReadySeconds may change; any other spec change is Forbidden at "spec"
// (a changed selector is additionally reported as immutable).
func ValidateStatefulSetUpdate(newSTS, oldSTS *appsv1.StatefulSet) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newSTS.ObjectMeta, &oldSTS.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateStatefulSetSpec(&newSTS.Spec, field.NewPath("spec"))...)

	// Compare the specs with every mutable field taken from the old object.
	masked := newSTS.Spec.DeepCopy()
	masked.Replicas = oldSTS.Spec.Replicas
	masked.Ordinals = oldSTS.Spec.Ordinals
	masked.Template = oldSTS.Spec.Template
	masked.UpdateStrategy = oldSTS.Spec.UpdateStrategy
	masked.RevisionHistoryLimit = oldSTS.Spec.RevisionHistoryLimit
	masked.PersistentVolumeClaimRetentionPolicy = oldSTS.Spec.PersistentVolumeClaimRetentionPolicy
	masked.MinReadySeconds = oldSTS.Spec.MinReadySeconds
	if !apiequality.Semantic.DeepEqual(*masked, oldSTS.Spec) {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec"), StatefulSetSpecUpdateForbiddenMessage))
	}
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newSTS.Spec.Selector, oldSTS.Spec.Selector, field.NewPath("spec", "selector"))...)
	return allErrs
}

// ValidateStatefulSetStatusUpdate validates a status update: metadata
// follows the generic update rules, every counter is non-negative, ready,
// current, updated and available replicas do not exceed status.replicas,
// available does not exceed ready, and collisionCount is never decremented.
func ValidateStatefulSetStatusUpdate(newSTS, oldSTS *appsv1.StatefulSet) field.ErrorList {
	fldPath := field.NewPath("status")
	allErrs := validateStatefulSetStatus(&newSTS.Status, fldPath)
	allErrs = append(allErrs, corevalidation.ValidateObjectMetaUpdate(&newSTS.ObjectMeta, &oldSTS.ObjectMeta, field.NewPath("metadata"))...)
	allErrs = append(allErrs, validateCollisionCountUpdate(newSTS.Status.CollisionCount, oldSTS.Status.CollisionCount, fldPath.Child("collisionCount"))...)
	return allErrs
}

func validateStatefulSetSpec(spec *appsv1.StatefulSetSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList

	switch spec.PodManagementPolicy {
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("podManagementPolicy"), ""))
	case appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement:
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("podManagementPolicy"), spec.PodManagementPolicy,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.OrderedReadyPodManagement, appsv1.ParallelPodManagement)))
	}

	strategyPath := fldPath.Child("updateStrategy")
	switch spec.UpdateStrategy.Type {
	case "":
		allErrs = append(allErrs, field.Required(strategyPath, ""))
	case appsv1.OnDeleteStatefulSetStrategyType:
		if spec.UpdateStrategy.RollingUpdate != nil {
			allErrs = append(allErrs, field.Invalid(strategyPath.Child("rollingUpdate"), spec.UpdateStrategy.RollingUpdate,
				fmt.Sprintf("only allowed for updateStrategy '%s'", appsv1.RollingUpdateStatefulSetStrategyType)))
		}
	case appsv1.RollingUpdateStatefulSetStrategyType:
		if spec.UpdateStrategy.RollingUpdate != nil {
			allErrs = append(allErrs, validateRollingUpdateStatefulSet(spec.UpdateStrategy.RollingUpdate, strategyPath.Child("rollingUpdate"))...)
		}
	default:
		allErrs = append(allErrs, field.Invalid(strategyPath, spec.UpdateStrategy.Type,
			fmt.Sprintf("must be '%s' or '%s'", appsv1.RollingUpdateStatefulSetStrategyType, appsv1.OnDeleteStatefulSetStrategyType)))
	}

	if p := spec.PersistentVolumeClaimRetentionPolicy; p != nil {
		policyPath := fldPath.Child("persistentVolumeClaimRetentionPolicy")
		allErrs = append(allErrs, validateRetentionPolicyType(p.WhenDeleted, policyPath.Child("whenDeleted"))...)
		allErrs = append(allErrs, validateRetentionPolicyType(p.WhenScaled, policyPath.Child("whenScaled"))...)
	}

	allErrs = append(allErrs, nonNegativePtr(spec.Replicas, fldPath.Child("replicas"))...)
	allErrs = append(allErrs, nonNegative(int64(spec.MinReadySeconds), fldPath.Child("minReadySeconds"))...)
	allErrs = append(allErrs, nonNegativePtr(spec.RevisionHistoryLimit, fldPath.Child("revisionHistoryLimit"))...)
	if spec.Ordinals != nil {
		allErrs = append(allErrs, nonNegative(int64(spec.Ordinals.Start), fldPath.Child("ordinals", "start"))...)
	}
	if spec.ServiceName != "" {
		for _, msg := range utilvalidation.IsDNS1123Label(spec.ServiceName) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("serviceName"), spec.ServiceName, msg))
		}
	}

	selector, selErrs := validateSelector(spec.Selector, "statefulset", false, fldPath.Child("selector"))
	allErrs = append(allErrs, selErrs...)

	claimNames, claimErrs := validateVolumeClaimTemplates(spec.VolumeClaimTemplates, fldPath.Child("volumeClaimTemplates"))
	allErrs = append(allErrs, claimErrs...)

	templatePath := fldPath.Child("template")
	allErrs = append(allErrs, validateTemplateMatchesSelector(selector, &spec.Template, templatePath)...)
	allErrs = append(allErrs, corevalidation.ValidatePodTemplateSpec(templateWithClaims(&spec.Template, claimNames), templatePath)...)
	allErrs = append(allErrs, validateWorkloadPodSpec(&spec.Template.Spec, "StatefulSet", templatePath.Child("spec"))...)
	return allErrs
}

func validateRollingUpdateStatefulSet(ru *appsv1.RollingUpdateStatefulSetStrategy, fldPath *field.Path) field.ErrorList {
	allErrs := nonNegativePtr(ru.Partition, fldPath.Child("partition"))
	if ru.MaxUnavailable != nil {
		p := fldPath.Child("maxUnavailable")
		allErrs = append(allErrs, validatePositiveIntOrPercent(*ru.MaxUnavailable, p)...)
		if intOrPercentValue(*ru.MaxUnavailable) == 0 {
			allErrs = append(allErrs, field.Invalid(p, ru.MaxUnavailable.String(), "cannot be 0"))
		}
		allErrs = append(allErrs, notMoreThan100Percent(*ru.MaxUnavailable, p)...)
	}
	return allErrs
}

func validateRetentionPolicyType(t appsv1.PersistentVolumeClaimRetentionPolicyType, fldPath *field.Path) field.ErrorList {
	switch t {
	case appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType:
		return nil
	default:
		return field.ErrorList{field.NotSupported(fldPath, t, []appsv1.PersistentVolumeClaimRetentionPolicyType{
			appsv1.RetainPersistentVolumeClaimRetentionPolicyType, appsv1.DeletePersistentVolumeClaimRetentionPolicyType})}
	}
}

// validateVolumeClaimTemplates checks that every claim template has a
// unique DNS-label name (it becomes a pod volume name). It returns the
// names that are valid, in order.
func validateVolumeClaimTemplates(claims []corev1.PersistentVolumeClaim, fldPath *field.Path) ([]string, field.ErrorList) {
	var allErrs field.ErrorList
	var names []string
	seen := sets.New[string]()
	for i, c := range claims {
		namePath := fldPath.Index(i).Child("metadata", "name")
		if c.Name == "" {
			allErrs = append(allErrs, field.Required(namePath, ""))
			continue
		}
		msgs := utilvalidation.IsDNS1123Label(c.Name)
		for _, msg := range msgs {
			allErrs = append(allErrs, field.Invalid(namePath, c.Name, msg))
		}
		if seen.Has(c.Name) {
			allErrs = append(allErrs, field.Duplicate(namePath, c.Name))
			continue
		}
		seen.Insert(c.Name)
		if len(msgs) == 0 {
			names = append(names, c.Name)
		}
	}
	return names, allErrs
}

// templateWithClaims returns template with a persistentVolumeClaim volume
// appended for each claim template not already named among the template's
// volumes, mirroring what the StatefulSet controller does when it creates
// pods. The input is not modified.
func templateWithClaims(template *corev1.PodTemplateSpec, claimNames []string) *corev1.PodTemplateSpec {
	if len(claimNames) == 0 {
		return template
	}
	existing := sets.New[string]()
	for _, v := range template.Spec.Volumes {
		existing.Insert(v.Name)
	}
	out := template.DeepCopy()
	for _, name := range claimNames {
		if existing.Has(name) {
			continue
		}
		out.Spec.Volumes = append(out.Spec.Volumes, corev1.Volume{
			Name: name,
			VolumeSource: corev1.VolumeSource{
				PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: name},
			},
		})
	}
	return out
}

func validateStatefulSetStatus(status *appsv1.StatefulSetStatus, fldPath *field.Path) field.ErrorList {
	allErrs := nonNegative(int64(status.Replicas), fldPath.Child("replicas"))
	allErrs = append(allErrs, nonNegative(int64(status.ReadyReplicas), fldPath.Child("readyReplicas"))...)
	allErrs = append(allErrs, nonNegative(int64(status.CurrentReplicas), fldPath.Child("currentReplicas"))...)
	allErrs = append(allErrs, nonNegative(int64(status.UpdatedReplicas), fldPath.Child("updatedReplicas"))...)
	allErrs = append(allErrs, nonNegative(int64(status.AvailableReplicas), fldPath.Child("availableReplicas"))...)
	allErrs = append(allErrs, nonNegative(status.ObservedGeneration, fldPath.Child("observedGeneration"))...)
	allErrs = append(allErrs, nonNegativePtr(status.CollisionCount, fldPath.Child("collisionCount"))...)
	const msg = "cannot be greater than status.replicas"
	allErrs = append(allErrs, notGreaterThan(status.ReadyReplicas, status.Replicas, msg, fldPath.Child("readyReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.CurrentReplicas, status.Replicas, msg, fldPath.Child("currentReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.UpdatedReplicas, status.Replicas, msg, fldPath.Child("updatedReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.AvailableReplicas, status.Replicas, msg, fldPath.Child("availableReplicas"))...)
	allErrs = append(allErrs, notGreaterThan(status.AvailableReplicas, status.ReadyReplicas, "cannot be greater than status.readyReplicas", fldPath.Child("availableReplicas"))...)
	return allErrs
}
