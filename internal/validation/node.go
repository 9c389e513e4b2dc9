package validation

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	netutils "k8s.io/utils/net"
)

// taintsAnnotationKey is the legacy annotation carrying serialized taints.
const taintsAnnotationKey = "scheduler.alpha.kubernetes.io/taints"

// nodePodCIDRs returns spec.podCIDRs, or [spec.podCIDR] when only the
// singular field is set.
func nodePodCIDRs(n *corev1.Node) []string {
	if len(n.Spec.PodCIDRs) == 0 && n.Spec.PodCIDR != "" {
		return []string{n.Spec.PodCIDR}
	}
	return n.Spec.PodCIDRs
}

// ValidateNode validates a Node on creation: metadata (cluster-scoped, name
// a DNS subdomain), legacy taints annotation, spec.taints (valid and unique
// by key and effect), spec.podCIDRs (valid CIDRs, at most one per family, no
// duplicates) and status capacity/allocatable quantities.
func ValidateNode(node *corev1.Node) field.ErrorList {
	if node == nil {
		return nilObjectErrors()
	}
	metaPath := field.NewPath("metadata")
	allErrs := ValidateObjectMeta(&node.ObjectMeta, false, apimachineryvalidation.NameIsDNSSubdomain, metaPath)
	allErrs = append(allErrs, validateNodeSpecificAnnotations(node.Annotations, metaPath.Child("annotations"))...)
	allErrs = append(allErrs, validateTaints(node.Spec.Taints, field.NewPath("spec", "taints"))...)
	allErrs = append(allErrs, validateNodeResources(node)...)

	cidrs := nodePodCIDRs(node)
	cidrPath := field.NewPath("spec", "podCIDRs")
	if len(node.Spec.PodCIDRs) > 0 && node.Spec.PodCIDR != "" && node.Spec.PodCIDR != node.Spec.PodCIDRs[0] {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "podCIDR"), node.Spec.PodCIDR, "must match the first entry of `podCIDRs`"))
	}
	valid := true
	for i, c := range cidrs {
		errs := validation.IsValidCIDR(cidrPath.Index(i), c)
		valid = valid && len(errs) == 0
		allErrs = append(allErrs, errs...)
	}
	if len(cidrs) > 1 {
		if valid {
			if dual, err := netutils.IsDualStackCIDRStrings(cidrs); err != nil || !dual || len(cidrs) > 2 {
				allErrs = append(allErrs, field.Invalid(cidrPath, cidrs, "may specify no more than one CIDR for each IP family"))
			}
		}
		seen := sets.New[string]()
		for i, c := range cidrs {
			if seen.Has(c) {
				allErrs = append(allErrs, field.Duplicate(cidrPath.Index(i), c))
			}
			seen.Insert(c)
		}
	}
	return allErrs
}

func validateNodeSpecificAnnotations(annotations map[string]string, fldPath *field.Path) field.ErrorList {
	v := annotations[taintsAnnotationKey]
	if v == "" {
		return nil
	}
	var taints []corev1.Taint
	if err := json.Unmarshal([]byte(v), &taints); err != nil {
		return field.ErrorList{field.Invalid(fldPath, taintsAnnotationKey, err.Error())}
	}
	return validateTaints(taints, fldPath.Child(taintsAnnotationKey))
}

// validateNodeResources checks status.capacity and status.allocatable.
func validateNodeResources(node *corev1.Node) field.ErrorList {
	var allErrs field.ErrorList
	for _, k := range sortedResourceNames(node.Status.Capacity) {
		allErrs = append(allErrs, validateResourceQuantityValue(k, node.Status.Capacity[k], field.NewPath("status", "capacity", string(k)))...)
	}
	for _, k := range sortedResourceNames(node.Status.Allocatable) {
		allErrs = append(allErrs, validateResourceQuantityValue(k, node.Status.Allocatable[k], field.NewPath("status", "allocatable", string(k)))...)
	}
	return allErrs
}

// ValidateNodeUpdate validates newNode fully and checks transitions: podCIDRs
// and providerID may only go from unset to set, externalID is immutable,
// and status.addresses may not contain duplicates.
func ValidateNodeUpdate(newNode, oldNode *corev1.Node) field.ErrorList {
	if newNode == nil || oldNode == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newNode.ObjectMeta, &oldNode.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, ValidateNode(newNode)...)
	return append(allErrs, validateNodeTransitions(newNode, oldNode)...)
}

// ValidateNodeStatusUpdate validates an update through the status
// subresource: metadata rules, status resources and addresses, and the
// node transition rules.
func ValidateNodeStatusUpdate(newNode, oldNode *corev1.Node) field.ErrorList {
	if newNode == nil || oldNode == nil {
		return nilObjectErrors()
	}
	allErrs := ValidateObjectMetaUpdate(&newNode.ObjectMeta, &oldNode.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateNodeResources(newNode)...)
	return append(allErrs, validateNodeTransitions(newNode, oldNode)...)
}

func validateNodeTransitions(newNode, oldNode *corev1.Node) field.ErrorList {
	var allErrs field.ErrorList
	seen := map[corev1.NodeAddress]bool{}
	for i, a := range newNode.Status.Addresses {
		if seen[a] {
			allErrs = append(allErrs, field.Duplicate(field.NewPath("status", "addresses").Index(i), a))
		}
		seen[a] = true
	}
	oldCIDRs, newCIDRs := nodePodCIDRs(oldNode), nodePodCIDRs(newNode)
	if len(oldCIDRs) > 0 {
		changed := len(oldCIDRs) != len(newCIDRs)
		for i := 0; !changed && i < len(oldCIDRs); i++ {
			changed = oldCIDRs[i] != newCIDRs[i]
		}
		if changed {
			allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "podCIDRs"), "node updates may not change podCIDR except from \"\" to valid"))
		}
	}
	if len(oldNode.Spec.ProviderID) > 0 && oldNode.Spec.ProviderID != newNode.Spec.ProviderID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "providerID"), "node updates may not change providerID except from \"\" to valid"))
	}
	if newNode.Spec.DoNotUseExternalID != oldNode.Spec.DoNotUseExternalID {
		allErrs = append(allErrs, field.Forbidden(field.NewPath("spec", "externalID"), "may not be updated"))
	}
	return allErrs
}
