package validation

import (
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	unversionedvalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Detail strings shared with upstream Kubernetes.
const (
	isNegativeErrorMsg     = apimachineryvalidation.IsNegativeErrorMsg
	fieldImmutableErrorMsg = apimachineryvalidation.FieldImmutableErrorMsg
	isNotIntegerErrorMsg   = "must be an integer"
	isNotPositiveErrorMsg  = "must be greater than zero"
	isInvalidQuotaResource = "must be a standard resource for quota"
	fileModeErrorMsg       = "must be a number between 0 and 0777 (octal), both inclusive"

	// maxClientIPServiceAffinitySeconds is the upper bound of
	// spec.sessionAffinityConfig.clientIP.timeoutSeconds (one day).
	maxClientIPServiceAffinitySeconds = 86400
)

// validateDNS1123Label reports Invalid at fldPath for each reason value is
// not an RFC 1123 label.
func validateDNS1123Label(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Label(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateDNS1123Subdomain reports Invalid at fldPath for each reason value is
// not an RFC 1123 subdomain.
func validateDNS1123Subdomain(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsDNS1123Subdomain(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateQualifiedName reports Invalid at fldPath for each reason value is
// not a qualified name ("prefix/name" as used by label keys).
func validateQualifiedName(value string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range validation.IsQualifiedName(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, msg))
	}
	return allErrs
}

// validateNameWith applies a ValidateNameFunc to a non-prefix name and
// reports each message as Invalid at fldPath.
func validateNameWith(nameFn apimachineryvalidation.ValidateNameFunc, name string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	for _, msg := range nameFn(name, false) {
		allErrs = append(allErrs, field.Invalid(fldPath, name, msg))
	}
	return allErrs
}

// validateNonnegativeField reports Invalid when value < 0.
func validateNonnegativeField(value int64, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateNonnegativeField(value, fldPath)
}

// validateImmutableField reports Invalid ("field is immutable") when the
// values differ semantically.
func validateImmutableField(newVal, oldVal interface{}, fldPath *field.Path) field.ErrorList {
	return apimachineryvalidation.ValidateImmutableField(newVal, oldVal, fldPath)
}

// validateNonnegativeQuantity reports Invalid when q is negative.
func validateNonnegativeQuantity(q resource.Quantity, fldPath *field.Path) field.ErrorList {
	if q.Sign() < 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), isNegativeErrorMsg)}
	}
	return nil
}

// validatePositiveQuantity reports Invalid when q is not > 0.
func validatePositiveQuantity(q resource.Quantity, fldPath *field.Path) field.ErrorList {
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(fldPath, q.String(), isNotPositiveErrorMsg)}
	}
	return nil
}

// validatePortNumOrName checks an int-or-string port: numbers must be in
// 1-65535, names must be IANA service names.
func validatePortNumOrName(port intstr.IntOrString, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	switch port.Type {
	case intstr.Int:
		for _, msg := range validation.IsValidPortNum(port.IntValue()) {
			allErrs = append(allErrs, field.Invalid(fldPath, port.IntValue(), msg))
		}
	case intstr.String:
		for _, msg := range validation.IsValidPortName(port.StrVal) {
			allErrs = append(allErrs, field.Invalid(fldPath, port.StrVal, msg))
		}
	default:
		allErrs = append(allErrs, field.InternalError(fldPath, fmt.Errorf("unknown type: %v", port.Type)))
	}
	return allErrs
}

// supportedPortProtocols lists the protocols accepted for container,
// service and endpoint ports, in the (sorted) order reported by NotSupported.
func supportedPortProtocols() []corev1.Protocol {
	return []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
}

// validateProtocol requires a protocol and checks it against TCP/UDP/SCTP.
func validateProtocol(p corev1.Protocol, fldPath *field.Path) field.ErrorList {
	switch p {
	case corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath, p, supportedPortProtocols())}
	}
}

// --- resource names -------------------------------------------------------

// isHugePageResourceName reports whether name starts with "hugepages-".
func isHugePageResourceName(name corev1.ResourceName) bool {
	return strings.HasPrefix(string(name), corev1.ResourceHugePagesPrefix)
}

// isQuotaHugePageResourceName reports whether name is a hugepages name as
// used in quota (with or without the "requests." prefix).
func isQuotaHugePageResourceName(name corev1.ResourceName) bool {
	return isHugePageResourceName(name) || strings.HasPrefix(string(name), corev1.ResourceRequestsHugePagesPrefix)
}

// isNativeResource reports whether name is unprefixed or in a
// *kubernetes.io/ namespace.
func isNativeResource(name corev1.ResourceName) bool {
	return !strings.Contains(string(name), "/") || strings.Contains(string(name), corev1.ResourceDefaultNamespacePrefix)
}

// isExtendedResourceName reports whether name is a valid extended
// (vendor-domain) resource name.
func isExtendedResourceName(name corev1.ResourceName) bool {
	if isNativeResource(name) || strings.HasPrefix(string(name), corev1.DefaultResourceRequestsPrefix) {
		return false
	}
	return len(validation.IsQualifiedName(corev1.DefaultResourceRequestsPrefix+string(name))) == 0
}

// isOvercommitAllowed reports whether requests may be lower than limits for
// the resource (native resources other than hugepages).
func isOvercommitAllowed(name corev1.ResourceName) bool {
	return isNativeResource(name) && !isHugePageResourceName(name)
}

func standardContainerResources() sets.Set[corev1.ResourceName] {
	return sets.New(corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage)
}

func isStandardContainerResourceName(name corev1.ResourceName) bool {
	return standardContainerResources().Has(name) || isHugePageResourceName(name)
}

func standardQuotaResources() sets.Set[corev1.ResourceName] {
	return sets.New(
		corev1.ResourceCPU, corev1.ResourceMemory, corev1.ResourceEphemeralStorage,
		corev1.ResourceRequestsCPU, corev1.ResourceRequestsMemory, corev1.ResourceRequestsStorage,
		corev1.ResourceRequestsEphemeralStorage, corev1.ResourceLimitsCPU, corev1.ResourceLimitsMemory,
		corev1.ResourceLimitsEphemeralStorage, corev1.ResourcePods, corev1.ResourceQuotas,
		corev1.ResourceServices, corev1.ResourceReplicationControllers, corev1.ResourceSecrets,
		corev1.ResourcePersistentVolumeClaims, corev1.ResourceConfigMaps,
		corev1.ResourceServicesNodePorts, corev1.ResourceServicesLoadBalancers,
	)
}

func isStandardQuotaResourceName(name corev1.ResourceName) bool {
	return standardQuotaResources().Has(name) || isQuotaHugePageResourceName(name)
}

func isStandardResourceName(name corev1.ResourceName) bool {
	return standardQuotaResources().Has(name) || name == corev1.ResourceStorage || isQuotaHugePageResourceName(name)
}

func isIntegerResourceName(name corev1.ResourceName) bool {
	switch name {
	case corev1.ResourcePods, corev1.ResourceQuotas, corev1.ResourceServices,
		corev1.ResourceReplicationControllers, corev1.ResourceSecrets, corev1.ResourceConfigMaps,
		corev1.ResourcePersistentVolumeClaims, corev1.ResourceServicesNodePorts,
		corev1.ResourceServicesLoadBalancers:
		return true
	}
	return isExtendedResourceName(name)
}

// validateResourceName checks a compute resource name: a qualified name that
// is either a standard resource or fully qualified (domain-prefixed).
func validateResourceName(value corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	allErrs := validateQualifiedName(string(value), fldPath)
	if len(allErrs) != 0 {
		return allErrs
	}
	if !strings.Contains(string(value), "/") && !isStandardResourceName(value) {
		allErrs = append(allErrs, field.Invalid(fldPath, value, "must be a standard resource type or fully qualified"))
	}
	return allErrs
}

// validateContainerResourceName checks a resource name usable in container
// requests/limits: cpu, memory, ephemeral-storage, hugepages-* or an
// extended resource.
func validateContainerResourceName(value corev1.ResourceName, fldPath *field.Path) field.ErrorList {
	allErrs := validateResourceName(value, fldPath)
	if !strings.Contains(string(value), "/") {
		if !isStandardContainerResourceName(value) {
			return append(allErrs, field.Invalid(fldPath, value, "must be a standard resource for containers"))
		}
	} else if !isNativeResource(value) && !isExtendedResourceName(value) {
		return append(allErrs, field.Invalid(fldPath, value, "doesn't follow extended resource name standard"))
	}
	return allErrs
}

// validateResourceQuantityValue requires a non-negative quantity, and a whole
// number for integer resources (object counts, extended resources).
func validateResourceQuantityValue(name corev1.ResourceName, value resource.Quantity, fldPath *field.Path) field.ErrorList {
	allErrs := validateNonnegativeQuantity(value, fldPath)
	if isIntegerResourceName(name) && value.MilliValue()%1000 != 0 {
		allErrs = append(allErrs, field.Invalid(fldPath, value.String(), isNotIntegerErrorMsg))
	}
	return allErrs
}

// validateFinalizerName checks a finalizer: a qualified name, and if
// unprefixed one of the standard Kubernetes finalizers.
func validateFinalizerName(value string, fldPath *field.Path) field.ErrorList {
	allErrs := apimachineryvalidation.ValidateFinalizerName(value, fldPath)
	return append(allErrs, validateKubeFinalizerName(value, fldPath)...)
}

// validateKubeFinalizerName rejects unprefixed finalizers that are not one of
// the standard ones ("kubernetes", "orphan", "foregroundDeletion").
func validateKubeFinalizerName(value string, fldPath *field.Path) field.ErrorList {
	if strings.Contains(value, "/") {
		return nil
	}
	switch value {
	case string(corev1.FinalizerKubernetes), metav1.FinalizerOrphanDependents, metav1.FinalizerDeleteDependents:
		return nil
	}
	return field.ErrorList{field.Invalid(fldPath, value, "name is neither a standard finalizer name nor is it fully qualified")}
}

// sortedResourceNames returns the keys of rl in sorted order, so error lists
// are deterministic.
func sortedResourceNames(rl corev1.ResourceList) []corev1.ResourceName {
	names := make([]corev1.ResourceName, 0, len(rl))
	for n := range rl {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return names[i] < names[j] })
	return names
}

// validateLabelsAt validates a label map (keys qualified names, values
// label values).
func validateLabelsAt(labels map[string]string, fldPath *field.Path) field.ErrorList {
	return unversionedvalidation.ValidateLabels(labels, fldPath)
}

// validateLabelSelector validates a metav1 label selector, rejecting invalid
// label values.
func validateLabelSelector(sel *metav1.LabelSelector, fldPath *field.Path) field.ErrorList {
	return unversionedvalidation.ValidateLabelSelector(sel, unversionedvalidation.LabelSelectorValidationOptions{}, fldPath)
}

// nilObjectErrors is returned by the exported validators when called with a
// nil object, a programming error reported instead of panicking.
func nilObjectErrors() field.ErrorList {
	return field.ErrorList{field.InternalError(nil, fmt.Errorf("object to validate must not be nil"))}
}
