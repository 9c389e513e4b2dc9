// Package autoscaling validates autoscaling/v2 HorizontalPodAutoscalers.
//
// All functions are pure: they take versioned, already-defaulted objects and
// return a field.ErrorList whose paths are rooted at the object (for example
// "spec.metrics[0].resource.target.averageUtilization"). An empty list means
// the object is valid. Rules and user-visible messages follow upstream
// Kubernetes (pkg/apis/autoscaling/validation and the HPA registry strategy)
// where practical, with alpha feature gates (HPAScaleToZero) off.
package autoscaling

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	pathvalidation "k8s.io/apimachinery/pkg/api/validation/path"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

const (
	// MaxPeriodSeconds is the largest allowed scaling policy period.
	MaxPeriodSeconds int32 = 1800
	// MaxStabilizationWindowSeconds is the largest allowed stabilization window.
	MaxStabilizationWindowSeconds int32 = 3600
)

// refOptions tunes the apiVersion check of a CrossVersionObjectReference.
type refOptions struct {
	// allowEmptyGroup accepts an apiVersion in the core group ("v1" or "").
	allowEmptyGroup bool
	// allowInvalidAPIVersion skips the apiVersion check entirely (used on
	// updates that do not touch an already-stored reference).
	allowInvalidAPIVersion bool
}

// specOptions gathers the context-dependent knobs of spec validation.
type specOptions struct {
	minReplicasLowerBound int32
	scaleTargetRef        refOptions
	objectMetrics         refOptions
}

// optionsFor derives the validation options for newHPA, given the stored
// oldHPA on update (nil on create), mirroring the upstream strategy.
func optionsFor(newHPA, oldHPA *autoscalingv2.HorizontalPodAutoscaler) specOptions {
	opts := specOptions{
		minReplicasLowerBound: 1,
		objectMetrics:         refOptions{allowEmptyGroup: true},
	}
	if oldHPA != nil && oldHPA.Spec.MinReplicas != nil && *oldHPA.Spec.MinReplicas == 0 {
		opts.minReplicasLowerBound = 0
	}
	newRef := newHPA.Spec.ScaleTargetRef
	switch {
	case oldHPA != nil && oldHPA.Spec.ScaleTargetRef.APIVersion == newRef.APIVersion && oldHPA.Spec.ScaleTargetRef.Kind == newRef.Kind:
		// The reference was accepted before; do not reject unrelated updates.
		opts.scaleTargetRef.allowInvalidAPIVersion = true
	case newRef.Kind == "ReplicationController":
		// The only scalable kind in the core group.
		opts.scaleTargetRef.allowEmptyGroup = true
	}
	if oldHPA != nil {
		for _, m := range oldHPA.Spec.Metrics {
			if m.Type == autoscalingv2.ObjectMetricSourceType && m.Object != nil &&
				checkAPIVersion(m.Object.DescribedObject.APIVersion, opts.objectMetrics) != nil {
				opts.objectMetrics.allowInvalidAPIVersion = true
				break
			}
		}
	}
	return opts
}

// ValidateHorizontalPodAutoscaler validates an HPA on creation.
//
// metadata is namespaced with a DNS-subdomain name. minReplicas, when set,
// must be >= 1; maxReplicas must be >= 1 and >= minReplicas. scaleTargetRef
// needs a kind and name that are valid path segments and an apiVersion with
// an API group (the core group only for ReplicationController). Each metric
// must have a supported type with exactly the matching source populated and a
// valid target; behavior rules bound stabilization windows (0..3600s),
// policies (value > 0, period 1..1800s), selectPolicy and tolerance (>= 0).
func ValidateHorizontalPodAutoscaler(hpa *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMeta(&hpa.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateSpec(&hpa.Spec, field.NewPath("spec"), optionsFor(hpa, nil))...)
	return allErrs
}

// ValidateHorizontalPodAutoscalerUpdate validates an update of oldHPA to
// newHPA. The whole spec is mutable and is revalidated, with two allowances
// for objects stored earlier: minReplicas may stay 0 if it already was 0, and
// scaleTargetRef/describedObject apiVersions that were already stored are
// not rechecked.
func ValidateHorizontalPodAutoscalerUpdate(newHPA, oldHPA *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newHPA.ObjectMeta, &oldHPA.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateSpec(&newHPA.Spec, field.NewPath("spec"), optionsFor(newHPA, oldHPA))...)
	return allErrs
}

// ValidateHorizontalPodAutoscalerStatusUpdate validates a status update:
// metadata follows the generic update rules and status.currentReplicas and
// status.desiredReplicas must be non-negative.
func ValidateHorizontalPodAutoscalerStatusUpdate(newHPA, oldHPA *autoscalingv2.HorizontalPodAutoscaler) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newHPA.ObjectMeta, &oldHPA.ObjectMeta, field.NewPath("metadata"))
	status := field.NewPath("status")
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(newHPA.Status.CurrentReplicas), status.Child("currentReplicas"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(newHPA.Status.DesiredReplicas), status.Child("desiredReplicas"))...)
	if newHPA.Status.ObservedGeneration != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(*newHPA.Status.ObservedGeneration, status.Child("observedGeneration"))...)
	}
	return allErrs
}

func validateSpec(spec *autoscalingv2.HorizontalPodAutoscalerSpec, fldPath *field.Path, opts specOptions) field.ErrorList {
	var allErrs field.ErrorList
	if spec.MinReplicas != nil && *spec.MinReplicas < opts.minReplicasLowerBound {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("minReplicas"), *spec.MinReplicas,
			fmt.Sprintf("must be greater than or equal to %d", opts.minReplicasLowerBound)))
	}
	if spec.MaxReplicas < 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxReplicas"), spec.MaxReplicas, "must be greater than 0"))
	}
	if spec.MinReplicas != nil && spec.MaxReplicas < *spec.MinReplicas {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("maxReplicas"), spec.MaxReplicas, "must be greater than or equal to `minReplicas`"))
	}
	allErrs = append(allErrs, validateCrossVersionObjectReference(spec.ScaleTargetRef, fldPath.Child("scaleTargetRef"), opts.scaleTargetRef)...)
	allErrs = append(allErrs, validateMetrics(spec.Metrics, fldPath.Child("metrics"), spec.MinReplicas, opts)...)
	allErrs = append(allErrs, validateBehavior(spec.Behavior, fldPath.Child("behavior"))...)
	return allErrs
}

func validateCrossVersionObjectReference(ref autoscalingv2.CrossVersionObjectReference, fldPath *field.Path, opts refOptions) field.ErrorList {
	var allErrs field.ErrorList
	allErrs = append(allErrs, validatePathSegment(ref.Kind, fldPath.Child("kind"))...)
	allErrs = append(allErrs, validatePathSegment(ref.Name, fldPath.Child("name"))...)
	if err := checkAPIVersion(ref.APIVersion, opts); err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("apiVersion"), ref.APIVersion, err.Error()))
	}
	return allErrs
}

func validatePathSegment(value string, fldPath *field.Path) field.ErrorList {
	if value == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	var allErrs field.ErrorList
	for _, msg := range pathvalidation.IsValidPathSegmentName(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// checkAPIVersion returns why apiVersion is unusable as the apiVersion of a
// referenced object, or nil.
func checkAPIVersion(apiVersion string, opts refOptions) error {
	if opts.allowInvalidAPIVersion {
		return nil
	}
	gv, err := schema.ParseGroupVersion(apiVersion)
	if err != nil {
		return err
	}
	if gv.Group == "" && !opts.allowEmptyGroup {
		return errors.New("must specify an API group, e.g. apps/v1")
	}
	return nil
}

func validMetricSourceTypes() []autoscalingv2.MetricSourceType {
	return []autoscalingv2.MetricSourceType{
		autoscalingv2.ContainerResourceMetricSourceType,
		autoscalingv2.ExternalMetricSourceType,
		autoscalingv2.ObjectMetricSourceType,
		autoscalingv2.PodsMetricSourceType,
		autoscalingv2.ResourceMetricSourceType,
	}
}

func validateMetrics(metrics []autoscalingv2.MetricSpec, fldPath *field.Path, minReplicas *int32, opts specOptions) field.ErrorList {
	var allErrs field.ErrorList
	hasObjectOrExternal := false
	for i, m := range metrics {
		allErrs = append(allErrs, validateMetricSpec(m, fldPath.Index(i), opts)...)
		if m.Type == autoscalingv2.ObjectMetricSourceType || m.Type == autoscalingv2.ExternalMetricSourceType {
			hasObjectOrExternal = true
		}
	}
	if minReplicas != nil && *minReplicas == 0 && !hasObjectOrExternal {
		allErrs = append(allErrs, field.Forbidden(fldPath, "must specify at least one Object or External metric to support scaling to zero replicas"))
	}
	return allErrs
}

func validateMetricSpec(spec autoscalingv2.MetricSpec, fldPath *field.Path, opts specOptions) field.ErrorList {
	var allErrs field.ErrorList
	switch {
	case spec.Type == "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), "must specify a metric source type"))
	case !slices.Contains(validMetricSourceTypes(), spec.Type):
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), spec.Type, validMetricSourceTypes()))
	}

	// Sources that are populated, in field order; only the first populated
	// one is validated in depth.
	var present []string
	if spec.Object != nil {
		present = append(present, "object")
		if len(present) == 1 {
			allErrs = append(allErrs, validateObjectSource(spec.Object, fldPath.Child("object"), opts.objectMetrics)...)
		}
	}
	if spec.External != nil {
		present = append(present, "external")
		if len(present) == 1 {
			allErrs = append(allErrs, validateExternalSource(spec.External, fldPath.Child("external"))...)
		}
	}
	if spec.Pods != nil {
		present = append(present, "pods")
		if len(present) == 1 {
			allErrs = append(allErrs, validatePodsSource(spec.Pods, fldPath.Child("pods"))...)
		}
	}
	if spec.Resource != nil {
		present = append(present, "resource")
		if len(present) == 1 {
			allErrs = append(allErrs, validateResourceSource(spec.Resource, fldPath.Child("resource"))...)
		}
	}
	if spec.ContainerResource != nil {
		present = append(present, "containerResource")
		if len(present) == 1 {
			allErrs = append(allErrs, validateContainerResourceSource(spec.ContainerResource, fldPath.Child("containerResource"))...)
		}
	}

	expected := ""
	switch spec.Type {
	case autoscalingv2.ObjectMetricSourceType:
		expected = "object"
	case autoscalingv2.PodsMetricSourceType:
		expected = "pods"
	case autoscalingv2.ResourceMetricSourceType:
		expected = "resource"
	case autoscalingv2.ExternalMetricSourceType:
		expected = "external"
	case autoscalingv2.ContainerResourceMetricSourceType:
		expected = "containerResource"
	}
	if expected != "" && !slices.Contains(present, expected) {
		allErrs = append(allErrs, field.Required(fldPath.Child(expected), "must populate information for the given metric source"))
	}
	if len(present) > 1 {
		for _, p := range present {
			if p != expected {
				allErrs = append(allErrs, field.Forbidden(fldPath.Child(p), "must populate the given metric source only"))
			}
		}
	}
	return allErrs
}

func validateObjectSource(src *autoscalingv2.ObjectMetricSource, fldPath *field.Path, opts refOptions) field.ErrorList {
	allErrs := validateCrossVersionObjectReference(src.DescribedObject, fldPath.Child("describedObject"), opts)
	allErrs = append(allErrs, validateMetricIdentifier(src.Metric, fldPath.Child("metric"))...)
	allErrs = append(allErrs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	if src.Target.Value == nil && src.Target.AverageValue == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("target", "averageValue"), "must set either a target value or averageValue"))
	}
	return allErrs
}

func validateExternalSource(src *autoscalingv2.ExternalMetricSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateMetricIdentifier(src.Metric, fldPath.Child("metric"))
	allErrs = append(allErrs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	if src.Target.Value == nil && src.Target.AverageValue == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("target", "averageValue"), "must set either a target value for metric or a per-pod target"))
	}
	if src.Target.Value != nil && src.Target.AverageValue != nil {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("target", "value"), "may not set both a target value for metric and a per-pod target"))
	}
	return allErrs
}

func validatePodsSource(src *autoscalingv2.PodsMetricSource, fldPath *field.Path) field.ErrorList {
	allErrs := validateMetricIdentifier(src.Metric, fldPath.Child("metric"))
	allErrs = append(allErrs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	if src.Target.AverageValue == nil {
		allErrs = append(allErrs, field.Required(fldPath.Child("target", "averageValue"), "must specify a positive target averageValue"))
	}
	return allErrs
}

func validateResourceSource(src *autoscalingv2.ResourceMetricSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if src.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), "must specify a resource name"))
	}
	allErrs = append(allErrs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	allErrs = append(allErrs, validateUtilizationOrValue(src.Target, fldPath.Child("target"))...)
	return allErrs
}

func validateContainerResourceSource(src *autoscalingv2.ContainerResourceMetricSource, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if src.Name == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("name"), "must specify a resource name"))
	} else {
		allErrs = append(allErrs, validateContainerResourceName(src.Name, fldPath.Child("name"))...)
	}
	if src.Container == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("container"), "must specify a container"))
	} else {
		for _, msg := range utilvalidation.IsDNS1123Label(src.Container) {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("container"), src.Container, msg))
		}
	}
	allErrs = append(allErrs, validateMetricTarget(src.Target, fldPath.Child("target"))...)
	allErrs = append(allErrs, validateUtilizationOrValue(src.Target, fldPath.Child("target"))...)
	return allErrs
}

// validateUtilizationOrValue requires exactly one of averageUtilization and
// averageValue, as resource-based metrics need.
func validateUtilizationOrValue(target autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	if target.AverageUtilization == nil && target.AverageValue == nil {
		return field.ErrorList{field.Required(fldPath.Child("averageUtilization"), "must set either a target raw value or a target utilization")}
	}
	if target.AverageUtilization != nil && target.AverageValue != nil {
		return field.ErrorList{field.Forbidden(fldPath.Child("averageValue"), "may not set both a target raw value and a target utilization")}
	}
	return nil
}

// validateContainerResourceName accepts the standard container resources
// (cpu, memory, ephemeral-storage, hugepages-<size>) and qualified
// extended-resource names ("example.com/gpu").
func validateContainerResourceName(name corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(string(name)) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	if len(allErrs) > 0 {
		return allErrs
	}
	s := string(name)
	if !strings.Contains(s, "/") {
		switch {
		case name == corev1.ResourceCPU, name == corev1.ResourceMemory, name == corev1.ResourceEphemeralStorage,
			strings.HasPrefix(s, corev1.ResourceHugePagesPrefix):
		default:
			allErrs = append(allErrs, field.Invalid(fldPath, name, "must be a standard resource for containers"))
		}
	} else if strings.HasPrefix(s, corev1.DefaultResourceRequestsPrefix) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, "doesn't follow extended resource name standard"))
	}
	return allErrs
}

func validateMetricTarget(mt autoscalingv2.MetricTarget, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch mt.Type {
	case autoscalingv2.UtilizationMetricType, autoscalingv2.ValueMetricType, autoscalingv2.AverageValueMetricType:
	case "":
		allErrs = append(allErrs, field.Required(fldPath.Child("type"), "must specify a metric target type"))
	default:
		allErrs = append(allErrs, field.Invalid(fldPath.Child("type"), mt.Type, "must be either Utilization, Value, or AverageValue"))
	}
	if mt.Value != nil && mt.Value.Sign() != 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("value"), mt.Value.String(), "must be positive"))
	}
	if mt.AverageValue != nil && mt.AverageValue.Sign() != 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("averageValue"), mt.AverageValue.String(), "must be positive"))
	}
	if mt.AverageUtilization != nil && *mt.AverageUtilization < 1 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("averageUtilization"), *mt.AverageUtilization, "must be greater than 0"))
	}
	return allErrs
}

func validateMetricIdentifier(id autoscalingv2.MetricIdentifier, fldPath *field.Path) field.ErrorList {
	if id.Name == "" {
		return field.ErrorList{field.Required(fldPath.Child("name"), "must specify a metric name")}
	}
	var allErrs field.ErrorList
	for _, msg := range pathvalidation.IsValidPathSegmentName(id.Name) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("name"), id.Name, msg))
	}
	return allErrs
}

func validateBehavior(behavior *autoscalingv2.HorizontalPodAutoscalerBehavior, fldPath *field.Path) field.ErrorList {
	if behavior == nil {
		return nil
	}
	allErrs := validateScalingRules(behavior.ScaleUp, fldPath.Child("scaleUp"))
	allErrs = append(allErrs, validateScalingRules(behavior.ScaleDown, fldPath.Child("scaleDown"))...)
	return allErrs
}

func validSelectPolicies() []autoscalingv2.ScalingPolicySelect {
	return []autoscalingv2.ScalingPolicySelect{
		autoscalingv2.DisabledPolicySelect, autoscalingv2.MaxChangePolicySelect, autoscalingv2.MinChangePolicySelect,
	}
}

func validateScalingRules(rules *autoscalingv2.HPAScalingRules, fldPath *field.Path) field.ErrorList {
	if rules == nil {
		return nil
	}
	var allErrs field.ErrorList
	if w := rules.StabilizationWindowSeconds; w != nil {
		if *w < 0 {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w, "must be greater than or equal to zero"))
		}
		if *w > MaxStabilizationWindowSeconds {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("stabilizationWindowSeconds"), *w,
				fmt.Sprintf("must be less than or equal to %v", MaxStabilizationWindowSeconds)))
		}
	}
	if rules.SelectPolicy != nil && !slices.Contains(validSelectPolicies(), *rules.SelectPolicy) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("selectPolicy"), *rules.SelectPolicy, validSelectPolicies()))
	}
	policiesPath := fldPath.Child("policies")
	if len(rules.Policies) == 0 {
		allErrs = append(allErrs, field.Required(policiesPath, "must specify at least one Policy"))
	}
	for i, p := range rules.Policies {
		allErrs = append(allErrs, validateScalingPolicy(p, policiesPath.Index(i))...)
	}
	if rules.Tolerance != nil && rules.Tolerance.Sign() < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("tolerance"), rules.Tolerance.String(), "must be greater than or equal to zero"))
	}
	return allErrs
}

func validateScalingPolicy(p autoscalingv2.HPAScalingPolicy, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	valid := []autoscalingv2.HPAScalingPolicyType{autoscalingv2.PercentScalingPolicy, autoscalingv2.PodsScalingPolicy}
	if !slices.Contains(valid, p.Type) {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("type"), p.Type, valid))
	}
	if p.Value <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("value"), p.Value, "must be greater than zero"))
	}
	if p.PeriodSeconds <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("periodSeconds"), p.PeriodSeconds, "must be greater than zero"))
	}
	if p.PeriodSeconds > MaxPeriodSeconds {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("periodSeconds"), p.PeriodSeconds,
			fmt.Sprintf("must be less than or equal to %v", MaxPeriodSeconds)))
	}
	return allErrs
}
