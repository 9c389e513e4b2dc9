// Package networking validates networking.k8s.io/v1 objects
// (NetworkPolicy).
//
// All functions are pure: they take versioned, already-defaulted objects and
// return a field.ErrorList whose paths are rooted at the object (for example
// "spec.ingress[0].ports[1].endPort"). An empty list means the object is
// valid. Rules and user-visible messages follow upstream Kubernetes
// (pkg/apis/networking/validation).
package networking

import (
	"net/netip"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// ValidateNetworkPolicy validates a NetworkPolicy on creation: namespaced
// metadata with a DNS-subdomain name, and the spec (see
// ValidateNetworkPolicySpec).
func ValidateNetworkPolicy(np *networkingv1.NetworkPolicy) field.ErrorList {
	errs := corevalidation.ValidateObjectMeta(&np.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(errs, ValidateNetworkPolicySpec(&np.Spec, field.NewPath("spec"))...)
}

// ValidateNetworkPolicyUpdate validates an update: the metadata update
// rules and the new spec, which, as upstream, may change freely.
func ValidateNetworkPolicyUpdate(np, old *networkingv1.NetworkPolicy) field.ErrorList {
	errs := corevalidation.ValidateObjectMetaUpdate(&np.ObjectMeta, &old.ObjectMeta, field.NewPath("metadata"))
	return append(errs, ValidateNetworkPolicySpec(&np.Spec, field.NewPath("spec"))...)
}

// ValidateNetworkPolicySpec checks podSelector, every rule's ports and
// peers, and policyTypes (at most two, each Ingress or Egress).
func ValidateNetworkPolicySpec(spec *networkingv1.NetworkPolicySpec, fldPath *field.Path) field.ErrorList {
	errs := metavalidation.ValidateLabelSelector(&spec.PodSelector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("podSelector"))
	for i, rule := range spec.Ingress {
		p := fldPath.Child("ingress").Index(i)
		errs = append(errs, validateRule(rule.Ports, rule.From, p, p.Child("from"))...)
	}
	for i, rule := range spec.Egress {
		p := fldPath.Child("egress").Index(i)
		errs = append(errs, validateRule(rule.Ports, rule.To, p, p.Child("to"))...)
	}
	allowed := []string{string(networkingv1.PolicyTypeIngress), string(networkingv1.PolicyTypeEgress)}
	if len(spec.PolicyTypes) > len(allowed) {
		return append(errs, field.Invalid(fldPath.Child("policyTypes"), &spec.PolicyTypes, "may not specify more than two policyTypes"))
	}
	for i, t := range spec.PolicyTypes {
		if t != networkingv1.PolicyTypeIngress && t != networkingv1.PolicyTypeEgress {
			errs = append(errs, field.NotSupported(fldPath.Child("policyTypes").Index(i), t, allowed))
		}
	}
	return errs
}

func validateRule(ports []networkingv1.NetworkPolicyPort, peers []networkingv1.NetworkPolicyPeer, rulePath, peersPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range ports {
		errs = append(errs, ValidateNetworkPolicyPort(&ports[i], rulePath.Child("ports").Index(i))...)
	}
	for i := range peers {
		errs = append(errs, ValidateNetworkPolicyPeer(&peers[i], peersPath.Index(i))...)
	}
	return errs
}

// ValidateNetworkPolicyPort checks protocol (TCP, UDP or SCTP), port (a
// port number or an IANA port name) and endPort (only with a numeric
// port, and not below it).
func ValidateNetworkPolicyPort(port *networkingv1.NetworkPolicyPort, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	if p := port.Protocol; p != nil && *p != corev1.ProtocolTCP && *p != corev1.ProtocolUDP && *p != corev1.ProtocolSCTP {
		errs = append(errs, field.NotSupported(fldPath.Child("protocol"), *p, []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP), string(corev1.ProtocolSCTP)}))
	}
	switch {
	case port.Port == nil:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(fldPath.Child("endPort"), *port.EndPort, "may not be specified when `port` is not specified"))
		}
	case port.Port.Type == intstr.Int:
		for _, msg := range utilvalidation.IsValidPortNum(int(port.Port.IntVal)) {
			errs = append(errs, field.Invalid(fldPath.Child("port"), port.Port.IntVal, msg))
		}
		if port.EndPort != nil {
			if *port.EndPort < port.Port.IntVal {
				errs = append(errs, field.Invalid(fldPath.Child("endPort"), port.Port.IntVal, "must be greater than or equal to `port`"))
			}
			for _, msg := range utilvalidation.IsValidPortNum(int(*port.EndPort)) {
				errs = append(errs, field.Invalid(fldPath.Child("endPort"), *port.EndPort, msg))
			}
		}
	default:
		if port.EndPort != nil {
			errs = append(errs, field.Invalid(fldPath.Child("endPort"), *port.EndPort, "may not be specified when `port` is non-numeric"))
		}
		for _, msg := range utilvalidation.IsValidPortName(port.Port.StrVal) {
			errs = append(errs, field.Invalid(fldPath.Child("port"), port.Port.StrVal, msg))
		}
	}
	return errs
}

// ValidateNetworkPolicyPeer checks that a peer names something (a pod
// selector, a namespace selector, both, or an ipBlock alone) and each
// part.
func ValidateNetworkPolicyPeer(peer *networkingv1.NetworkPolicyPeer, fldPath *field.Path) field.ErrorList {
	var errs field.ErrorList
	n := 0
	if peer.PodSelector != nil {
		n++
		errs = append(errs, metavalidation.ValidateLabelSelector(peer.PodSelector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("podSelector"))...)
	}
	if peer.NamespaceSelector != nil {
		n++
		errs = append(errs, metavalidation.ValidateLabelSelector(peer.NamespaceSelector, metavalidation.LabelSelectorValidationOptions{}, fldPath.Child("namespaceSelector"))...)
	}
	if peer.IPBlock != nil {
		n++
		errs = append(errs, ValidateIPBlock(peer.IPBlock, fldPath.Child("ipBlock"))...)
	}
	if n == 0 {
		errs = append(errs, field.Required(fldPath, "must specify a peer"))
	} else if n > 1 && peer.IPBlock != nil {
		errs = append(errs, field.Forbidden(fldPath, "may not specify both ipBlock and another peer"))
	}
	return errs
}

// ValidateIPBlock checks that cidr is a CIDR and every except entry a
// CIDR strictly inside it.
func ValidateIPBlock(b *networkingv1.IPBlock, fldPath *field.Path) field.ErrorList {
	if b.CIDR == "" {
		return field.ErrorList{field.Required(fldPath.Child("cidr"), "")}
	}
	errs := utilvalidation.IsValidCIDRForLegacyField(fldPath.Child("cidr"), b.CIDR, false, nil)
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return errs
	}
	cidr = cidr.Masked()
	for i, s := range b.Except {
		p := fldPath.Child("except").Index(i)
		errs = append(errs, utilvalidation.IsValidCIDRForLegacyField(p, s, false, nil)...)
		except, err := netip.ParsePrefix(s)
		if err != nil {
			continue
		}
		if !cidr.Contains(except.Addr()) || cidr.Bits() >= except.Bits() {
			errs = append(errs, field.Invalid(p, s, "must be a strict subset of `cidr`"))
		}
	}
	return errs
}
