// Package coordination validates coordination.k8s.io/v1 objects (Lease).
//
// All functions are pure: they take versioned, already-defaulted objects and
// return a field.ErrorList whose paths are rooted at the object (for example
// "spec.leaseDurationSeconds"). An empty list means the object is valid.
// Rules and user-visible messages follow upstream Kubernetes
// (pkg/apis/coordination/validation) where practical.
package coordination

import (
	"slices"
	"strings"

	coordinationv1 "k8s.io/api/coordination/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// ValidateLease validates a Lease on creation: namespaced metadata with a
// DNS-subdomain name, plus the spec rules of ValidateLeaseSpec.
func ValidateLease(lease *coordinationv1.Lease) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMeta(&lease.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateLeaseSpec(&lease.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateLeaseUpdate validates an update of oldLease to newLease. Every spec
// field is mutable, so newLease's spec is revalidated in full and metadata
// follows the generic update rules.
func ValidateLeaseUpdate(newLease, oldLease *coordinationv1.Lease) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newLease.ObjectMeta, &oldLease.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateLeaseSpec(&newLease.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateLeaseSpec validates a LeaseSpec rooted at fldPath:
// leaseDurationSeconds must be > 0 and leaseTransitions >= 0 when set;
// strategy, when set, must be a known strategy or a qualified "domain/name";
// preferredHolder may only be set together with strategy.
func ValidateLeaseSpec(spec *coordinationv1.LeaseSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.LeaseDurationSeconds != nil && *spec.LeaseDurationSeconds <= 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("leaseDurationSeconds"), *spec.LeaseDurationSeconds, "must be greater than 0"))
	}
	if spec.LeaseTransitions != nil && *spec.LeaseTransitions < 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("leaseTransitions"), *spec.LeaseTransitions, "must be greater than or equal to 0"))
	}
	if spec.Strategy != nil {
		allErrs = append(allErrs, ValidateCoordinatedLeaseStrategy(*spec.Strategy, fldPath.Child("strategy"))...)
	}
	if spec.PreferredHolder != nil && *spec.PreferredHolder != "" && (spec.Strategy == nil || *spec.Strategy == "") {
		allErrs = append(allErrs, field.Forbidden(fldPath.Child("preferredHolder"), "may only be specified if `strategy` is defined"))
	}
	return allErrs
}

// ValidateCoordinatedLeaseStrategy validates a coordinated leader election
// strategy at fldPath. A name without "/" must be one of the Kubernetes
// defined strategies (NotSupported otherwise); a name with "/" must be a
// qualified name such as "example.com/my-strategy".
//
// Upstream reports these errors at "<fldPath>.strategy" (a doubled path
// segment); Skiff reports them at fldPath itself.
func ValidateCoordinatedLeaseStrategy(strategy coordinationv1.CoordinatedLeaseStrategy, fldPath *field.Path) field.ErrorList {
	valid := []coordinationv1.CoordinatedLeaseStrategy{coordinationv1.OldestEmulationVersion}
	if !strings.Contains(string(strategy), "/") {
		if !slices.Contains(valid, strategy) {
			return field.ErrorList{field.NotSupported(fldPath, strategy, valid)}
		}
		return nil
	}
	var allErrs field.ErrorList
	for _, msg := range utilvalidation.IsQualifiedName(string(strategy)) {
		allErrs = append(allErrs, field.Invalid(fldPath, strategy, msg))
	}
	return allErrs
}
