// Package scheduling validates scheduling.k8s.io/v1 objects (PriorityClass).
//
// All functions are pure: they take versioned, already-defaulted objects and
// return a field.ErrorList whose paths are rooted at the object (for example
// "value" or "metadata.name"). An empty list means the object is valid.
// Rules and user-visible messages follow upstream Kubernetes
// (pkg/apis/scheduling/validation) where practical.
package scheduling

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

const (
	// SystemPriorityClassPrefix is the name prefix reserved for the built-in
	// system priority classes.
	SystemPriorityClassPrefix = "system-"
	// HighestUserDefinablePriority is the largest value a priority class that
	// is not a built-in system class may have.
	HighestUserDefinablePriority int32 = 1000000000
	// SystemCriticalPriority is the value of system-cluster-critical; the
	// value of system-node-critical is SystemCriticalPriority+1000.
	SystemCriticalPriority int32 = 2 * HighestUserDefinablePriority
	// SystemClusterCritical names the built-in cluster-critical class.
	SystemClusterCritical = "system-cluster-critical"
	// SystemNodeCritical names the built-in node-critical class.
	SystemNodeCritical = "system-node-critical"
)

// systemClass describes one built-in priority class.
type systemClass struct {
	name          string
	value         int32
	globalDefault bool
}

// systemClasses returns the built-in priority classes. It is a function, not
// a package variable, so no mutable global state exists.
func systemClasses() []systemClass {
	return []systemClass{
		{name: SystemNodeCritical, value: SystemCriticalPriority + 1000},
		{name: SystemClusterCritical, value: SystemCriticalPriority},
	}
}

// IsKnownSystemPriorityClass reports whether name, value and globalDefault
// exactly describe one of the built-in system priority classes. When they do
// not, the returned error explains the first mismatch.
func IsKnownSystemPriorityClass(name string, value int32, globalDefault bool) (bool, error) {
	for _, sc := range systemClasses() {
		if sc.name != name {
			continue
		}
		if sc.value != value {
			return false, fmt.Errorf("value of %v PriorityClass must be %v", sc.name, sc.value)
		}
		if sc.globalDefault != globalDefault {
			return false, fmt.Errorf("globalDefault of %v PriorityClass must be %v", sc.name, sc.globalDefault)
		}
		return true, nil
	}
	return false, fmt.Errorf("%v is not a known system priority class", name)
}

// ValidatePriorityClass validates a PriorityClass on creation.
//
// The object is cluster-scoped and its name must be a DNS subdomain. Names
// starting with "system-" are reserved for the built-in classes (and must
// carry their exact value and globalDefault); any other class may not have a
// value above HighestUserDefinablePriority. preemptionPolicy, when set, must
// be PreemptLowerPriority or Never.
func ValidatePriorityClass(pc *schedulingv1.PriorityClass) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMeta(&pc.ObjectMeta, false, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	if strings.HasPrefix(pc.Name, SystemPriorityClassPrefix) {
		if ok, err := IsKnownSystemPriorityClass(pc.Name, pc.Value, pc.GlobalDefault); !ok {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("metadata", "name"),
				"priority class names with '"+SystemPriorityClassPrefix+"' prefix are reserved for system use only. error: "+err.Error()))
		}
	} else if pc.Value > HighestUserDefinablePriority {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("value"),
			fmt.Sprintf("maximum allowed value of a user defined priority is %v", HighestUserDefinablePriority)))
	}
	allErrs = append(allErrs, validatePreemptionPolicy(pc.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	return allErrs
}

// ValidatePriorityClassUpdate validates an update of oldPC to newPC.
//
// Metadata follows the generic update rules (the name is immutable), value
// and preemptionPolicy are immutable, and preemptionPolicy must still be a
// supported value. As upstream, the reserved-name and value-range checks are
// not repeated: the name and value cannot change after creation.
func ValidatePriorityClassUpdate(newPC, oldPC *schedulingv1.PriorityClass) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newPC.ObjectMeta, &oldPC.ObjectMeta, field.NewPath("metadata"))
	if newPC.Value != oldPC.Value {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("value"), "may not be changed in an update."))
	}
	allErrs = append(allErrs, validatePreemptionPolicy(newPC.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newPC.PreemptionPolicy, oldPC.PreemptionPolicy, field.NewPath("preemptionPolicy"))...)
	return allErrs
}

// validatePreemptionPolicy checks an optional preemption policy: nil is
// accepted (defaulting fills it), "" is Required and anything other than
// PreemptLowerPriority or Never is NotSupported.
func validatePreemptionPolicy(policy *corev1.PreemptionPolicy, fldPath *field.Path) field.ErrorList {
	if policy == nil {
		return nil
	}
	switch *policy {
	case corev1.PreemptLowerPriority, corev1.PreemptNever:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath, *policy, []corev1.PreemptionPolicy{corev1.PreemptLowerPriority, corev1.PreemptNever})}
	}
}
