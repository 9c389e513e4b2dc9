package validation

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateResourceQuotaResourceName checks a quota resource name: valid
// resource name, and if unprefixed a standard quota resource.
func validateResourceQuotaResourceName(value corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	allErrs := validateResourceName(value, fldPath)
	if !strings.Contains(string(value), "/") && !isStandardQuotaResourceName(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, isInvalidQuotaResource))
	}
	return allErrs
}

func standardResourceQuotaScopes() sets.Set[corev1.ResourceQuotaScope] {
	return sets.New(corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating,
		corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort,
		corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity,
		corev1.ResourceQuotaScopeVolumeAttributesClass)
}

// isResourceQuotaScopeValidForResource reports whether a (standard) quota
// resource may be limited under the given scope.
func isResourceQuotaScopeValidForResource(scope corev1.ResourceQuotaScope, name corev1.ResourceName) bool {
	podObject := name == corev1.ResourcePods
	podCompute := sets.New(corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceLimitsCPU,
		corev1.ResourceLimitsMemory, corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory).Has(name)
	switch scope {
	case corev1.ResourceQuotaScopeTerminating, corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeNotBestEffort,
		corev1.ResourceQuotaScopePriorityClass, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
		return podObject || podCompute
	case corev1.ResourceQuotaScopeBestEffort:
		return podObject
	case corev1.ResourceQuotaScopeVolumeAttributesClass:
		return name == corev1.ResourcePersistentVolumeClaims || name == corev1.ResourceRequestsStorage
	}
	return true
}

func validateResourceList(rl corev1.ResourceList, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, k := range sortedResourceNames(rl) {
		p := fldPath.Key(string(k))
		allErrs = append(allErrs, validateResourceQuotaResourceName(k, p)...)
		allErrs = append(allErrs, validateResourceQuantityValue(k, rl[k], p)...)
	}
	return allErrs
}

func conflictingScopes(scopes sets.Set[corev1.ResourceQuotaScope]) bool {
	return (scopes.Has(corev1.ResourceQuotaScopeBestEffort) && scopes.Has(corev1.ResourceQuotaScopeNotBestEffort)) ||
		(scopes.Has(corev1.ResourceQuotaScopeTerminating) && scopes.Has(corev1.ResourceQuotaScopeNotTerminating))
}

// validateResourceQuotaSpec checks hard limits, scopes and the scope
// selector.
func validateResourceQuotaSpec(spec *corev1.ResourceQuotaSpec, fld *field.Path) field.ErrorList {
	allErrs := validateResourceList(spec.Hard, fld.Child("hard"))
	hard := sortedResourceNames(spec.Hard)
	std := standardResourceQuotaScopes()
	if len(spec.Scopes) > 0 {
		p := fld.Child("scopes")
		seen := sets.New[corev1.ResourceQuotaScope]()
		for _, scope := range spec.Scopes {
			if !std.Has(scope) {
				allErrs = append(allErrs, field.Invalid(p, spec.Scopes, "unsupported scope"))
			}
			for _, k := range hard {
				if isStandardQuotaResourceName(k) && !isResourceQuotaScopeValidForResource(scope, k) {
					allErrs = append(allErrs, field.Invalid(p, spec.Scopes, "unsupported scope applied to resource"))
				}
			}
			seen.Insert(scope)
		}
		if conflictingScopes(seen) {
			allErrs = append(allErrs, field.Invalid(p, spec.Scopes, "conflicting scopes"))
		}
	}
	if spec.ScopeSelector != nil {
		p := fld.Child("scopeSelector", "matchExpressions")
		seen := sets.New[corev1.ResourceQuotaScope]()
		for _, req := range spec.ScopeSelector.MatchExpressions {
			if !std.Has(req.ScopeName) {
				allErrs = append(allErrs, field.Invalid(p.Child("scopeName"), req.ScopeName, "unsupported scope"))
			}
			for _, k := range hard {
				if isStandardQuotaResourceName(k) && !isResourceQuotaScopeValidForResource(req.ScopeName, k) {
					allErrs = append(allErrs, field.Invalid(p, spec.ScopeSelector, "unsupported scope applied to resource"))
				}
			}
			switch req.ScopeName {
			case corev1.ResourceQuotaScopeBestEffort, corev1.ResourceQuotaScopeNotBestEffort, corev1.ResourceQuotaScopeTerminating,
				corev1.ResourceQuotaScopeNotTerminating, corev1.ResourceQuotaScopeCrossNamespacePodAffinity:
				if req.Operator != corev1.ScopeSelectorOpExists {
					allErrs = append(allErrs, field.Invalid(p.Child("operator"), req.Operator,
						"must be 'Exists' when scope is any of ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or ResourceQuotaScopeCrossNamespacePodAffinity"))
				}
			}
			switch req.Operator {
			case corev1.ScopeSelectorOpIn, corev1.ScopeSelectorOpNotIn:
				if len(req.Values) == 0 {
					allErrs = append(allErrs, field.Required(p.Child("values"), "must be at least one value when `operator` is 'In' or 'NotIn' for scope selector"))
				}
			case corev1.ScopeSelectorOpExists, corev1.ScopeSelectorOpDoesNotExist:
				if len(req.Values) != 0 {
					allErrs = append(allErrs, field.Invalid(p.Child("values"), req.Values, "must be no value when `operator` is 'Exist' or 'DoesNotExist' for scope selector"))
				}
			default:
				allErrs = append(allErrs, field.Invalid(p.Child("operator"), req.Operator, "not a valid selector operator"))
			}
			seen.Insert(req.ScopeName)
		}
		if conflictingScopes(seen) {
			allErrs = append(allErrs, field.Invalid(p, spec.Scopes, "conflicting scopes"))
		}
	}
	return allErrs
}

// ValidateResourceQuota validates a ResourceQuota on creation: metadata
// (name a DNS subdomain), spec.hard (quota resource names, non-negative
// quantities, integers for countable resources), scopes and scope selector,
// and status.hard/used.
func ValidateResourceQuota(rq *corev1.ResourceQuota) field.ErrorList {
	if rq == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMeta(&rq.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateResourceQuotaSpec(&rq.Spec, field.NewPath("spec"))...)
	allErrs = append(allErrs, validateResourceList(rq.Status.Hard, field.NewPath("status", "hard"))...)
	allErrs = append(allErrs, validateResourceList(rq.Status.Used, field.NewPath("status", "used"))...)
	return allErrs
}

// ValidateResourceQuotaUpdate validates newRQ's metadata and spec; the set
// of spec.scopes is immutable.
func ValidateResourceQuotaUpdate(newRQ, oldRQ *corev1.ResourceQuota) field.ErrorList {
	if newRQ == nil || oldRQ == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newRQ.ObjectMeta, &oldRQ.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateResourceQuotaSpec(&newRQ.Spec, field.NewPath("spec"))...)
	oldScopes, newScopes := sets.New[corev1.ResourceQuotaScope](), sets.New[corev1.ResourceQuotaScope]()
	oldScopes.Insert(oldRQ.Spec.Scopes...)
	newScopes.Insert(newRQ.Spec.Scopes...)
	if !oldScopes.Equal(newScopes) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "scopes"), newRQ.Spec.Scopes, fieldImmutableErrorMsg))
	}
	return allErrs
}

// ValidateResourceQuotaStatusUpdate validates a status update: metadata
// rules, resourceVersion present, and status.hard/used entries.
func ValidateResourceQuotaStatusUpdate(newRQ, oldRQ *corev1.ResourceQuota) field.ErrorList {
	if newRQ == nil || oldRQ == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newRQ.ObjectMeta, &oldRQ.ObjectMeta, field.NewPath("metadata"))
	if len(newRQ.ResourceVersion) == 0 {
		allErrs = append(allErrs, field.Required(field.NewPath("resourceVersion"), ""))
	}
	allErrs = append(allErrs, validateResourceList(newRQ.Status.Hard, field.NewPath("status", "hard"))...)
	allErrs = append(allErrs, validateResourceList(newRQ.Status.Used, field.NewPath("status", "used"))...)
	return allErrs
}

// validateLimitRangeTypeName requires a qualified name; unprefixed names
// must be Pod, Container or PersistentVolumeClaim.
func validateLimitRangeTypeName(value corev1.LimitType, fldPath *field.Path) field.ErrorList {
	allErrs := validateQualifiedName(string(value), fldPath)
	if len(allErrs) != 0 {
		return allErrs
	}
	if !strings.Contains(string(value), "/") {
		switch value {
		case corev1.LimitTypePod, corev1.LimitTypeContainer, corev1.LimitTypePersistentVolumeClaim:
		default:
			allErrs = append(allErrs, field.Invalid(fldPath, value, "must be a standard limit type or fully qualified"))
		}
	}
	return allErrs
}

func validateLimitRangeResourceName(t corev1.LimitType, value corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	if t == corev1.LimitTypePod || t == corev1.LimitTypeContainer {
		return validateContainerResourceName(value, fldPath)
	}
	return validateResourceName(value, fldPath)
}

// ValidateLimitRange validates a LimitRange: metadata (name a DNS
// subdomain), unique limit types, resource names per type, and the
// ordering min <= defaultRequest <= default <= max, maxLimitRequestRatio
// >= 1 and consistent with max/min.
func ValidateLimitRange(lr *corev1.LimitRange) field.ErrorList {
	if lr == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMeta(&lr.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	fldPath := field.NewPath("spec", "limits")
	types := sets.New[corev1.LimitType]()
	for i := range lr.Spec.Limits {
		p := fldPath.Index(i)
		limit := &lr.Spec.Limits[i]
		allErrs = append(allErrs, validateLimitRangeTypeName(limit.Type, p.Child("type"))...)
		if types.Has(limit.Type) {
			allErrs = append(allErrs, field.Duplicate(p.Child("type"), limit.Type))
		}
		types.Insert(limit.Type)

		keys := sets.New[corev1.ResourceName]()
		collect := func(rl corev1.ResourceList, name string) {
			for _, k := range sortedResourceNames(rl) {
				allErrs = append(allErrs, validateLimitRangeResourceName(limit.Type, k, p.Child(name).Key(string(k)))...)
				keys.Insert(k)
			}
		}
		collect(limit.Max, "max")
		collect(limit.Min, "min")
		if limit.Type == corev1.LimitTypePod {
			if len(limit.Default) > 0 {
				allErrs = append(allErrs, field.Forbidden(p.Child("default"), "may not be specified when `type` is 'Pod'"))
			}
			if len(limit.DefaultRequest) > 0 {
				allErrs = append(allErrs, field.Forbidden(p.Child("defaultRequest"), "may not be specified when `type` is 'Pod'"))
			}
		} else {
			collect(limit.Default, "default")
			collect(limit.DefaultRequest, "defaultRequest")
		}
		if limit.Type == corev1.LimitTypePersistentVolumeClaim {
			_, minOK := limit.Min[corev1.ResourceStorage]
			_, maxOK := limit.Max[corev1.ResourceStorage]
			if !minOK && !maxOK {
				allErrs = append(allErrs, field.Required(p.Child("limits"), "either minimum or maximum storage value is required, but neither was provided"))
			}
		}
		collect(limit.MaxLimitRequestRatio, "maxLimitRequestRatio")

		for _, k := range sets.List(keys) {
			minQ, minOK := limit.Min[k]
			maxQ, maxOK := limit.Max[k]
			defQ, defOK := limit.Default[k]
			if limit.Type == corev1.LimitTypePod {
				defOK = false
			}
			reqQ, reqOK := limit.DefaultRequest[k]
			if limit.Type == corev1.LimitTypePod {
				reqOK = false
			}
			ratio, ratioOK := limit.MaxLimitRequestRatio[k]
			key := string(k)
			if minOK && maxOK && minQ.Cmp(maxQ) > 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("min").Key(key), minQ.String(), fmt.Sprintf("min value %s is greater than max value %s", minQ.String(), maxQ.String())))
			}
			if reqOK && minOK && minQ.Cmp(reqQ) > 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(key), reqQ.String(), fmt.Sprintf("min value %s is greater than default request value %s", minQ.String(), reqQ.String())))
			}
			if reqOK && maxOK && reqQ.Cmp(maxQ) > 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(key), reqQ.String(), fmt.Sprintf("default request value %s is greater than max value %s", reqQ.String(), maxQ.String())))
			}
			if reqOK && defOK && reqQ.Cmp(defQ) > 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(key), reqQ.String(), fmt.Sprintf("default request value %s is greater than default limit value %s", reqQ.String(), defQ.String())))
			}
			if defOK && minOK && minQ.Cmp(defQ) > 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("default").Key(key), minQ.String(), fmt.Sprintf("min value %s is greater than default value %s", minQ.String(), defQ.String())))
			}
			if defOK && maxOK && defQ.Cmp(maxQ) > 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("default").Key(key), maxQ.String(), fmt.Sprintf("default value %s is greater than max value %s", defQ.String(), maxQ.String())))
			}
			if ratioOK && ratio.Cmp(*resource.NewQuantity(1, resource.DecimalSI)) < 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("maxLimitRequestRatio").Key(key), ratio.String(), fmt.Sprintf("ratio %s is less than 1", ratio.String())))
			}
			if ratioOK && minOK && maxOK {
				ratioV := float64(ratio.Value())
				minV, maxV := minQ.Value(), maxQ.Value()
				if ratio.Value() < resource.MaxMilliValue && minV < resource.MaxMilliValue && maxV < resource.MaxMilliValue {
					ratioV = float64(ratio.MilliValue()) / 1000
					minV, maxV = minQ.MilliValue(), maxQ.MilliValue()
				}
				if minV != 0 {
					if limitRatio := float64(maxV) / float64(minV); ratioV > limitRatio {
						allErrs = append(allErrs, field.Invalid(p.Child("maxLimitRequestRatio").Key(key), ratio.String(), fmt.Sprintf("ratio %s is greater than max/min = %f", ratio.String(), limitRatio)))
					}
				}
			}
			if !isOvercommitAllowed(k) && defOK && reqOK && defQ.Cmp(reqQ) != 0 {
				allErrs = append(allErrs, field.Invalid(p.Child("defaultRequest").Key(key), reqQ.String(), fmt.Sprintf("default value %s must equal to defaultRequest value %s in %s", defQ.String(), reqQ.String(), k)))
			}
		}
	}
	return allErrs
}

// ValidateLimitRangeUpdate validates newLR fully plus metadata update rules.
func ValidateLimitRangeUpdate(newLR, oldLR *corev1.LimitRange) field.ErrorList {
	if newLR == nil || oldLR == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newLR.ObjectMeta, &oldLR.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, ValidateLimitRange(newLR)...)
}
