// Package discovery validates discovery.k8s.io/v1 objects (EndpointSlice).
//
// All functions are pure: they take versioned, already-defaulted objects and
// return a field.ErrorList whose paths are rooted at the object (for example
// "endpoints[0].addresses[1]"). An empty list means the object is valid.
// Rules and user-visible messages follow upstream Kubernetes
// (pkg/apis/discovery/validation) where practical.
package discovery

import (
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// Limits on the size of an EndpointSlice, as upstream.
const (
	MaxTopologyLabels = 16
	MaxAddresses      = 100
	MaxPorts          = 20000
	MaxEndpoints      = 1000
	MaxZoneHints      = 8
	MaxNodeHints      = 8
)

// ValidateEndpointSlice validates an EndpointSlice on creation.
//
// metadata is namespaced with a DNS-subdomain name; addressType is required
// and must be IPv4, IPv6 or FQDN; every endpoint needs 1..100 addresses of
// that type (IPs must be canonical, of the right family, and not
// unspecified, loopback or link-local); hostname must be a DNS label,
// nodeName a DNS subdomain, deprecatedTopology valid labels (at most 16);
// hints may name at most 8 distinct zones and 8 distinct nodes; ports need a
// unique DNS-label name (or ""), a TCP/UDP/SCTP protocol and a qualified-name
// appProtocol. At most 1000 endpoints and 20000 ports are allowed.
func ValidateEndpointSlice(slice *discoveryv1.EndpointSlice) field.ErrorList {
	return validateEndpointSlice(slice, nil)
}

// ValidateEndpointSliceUpdate validates an update of oldSlice to newSlice:
// newSlice is validated as on creation (except that IP addresses already
// present in oldSlice are accepted even if they are not in canonical form),
// metadata follows the generic update rules and addressType is immutable.
func ValidateEndpointSliceUpdate(newSlice, oldSlice *discoveryv1.EndpointSlice) field.ErrorList {
	var oldIPs []string
	for _, ep := range oldSlice.Endpoints {
		oldIPs = append(oldIPs, ep.Addresses...)
	}
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newSlice.ObjectMeta, &oldSlice.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateEndpointSliceContent(newSlice, oldIPs)...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newSlice.AddressType, oldSlice.AddressType, field.NewPath("addressType"))...)
	return allErrs
}

func validateEndpointSlice(slice *discoveryv1.EndpointSlice, validOldIPs []string) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMeta(&slice.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	return append(allErrs, validateEndpointSliceContent(slice, validOldIPs)...)
}

func validateEndpointSliceContent(slice *discoveryv1.EndpointSlice, validOldIPs []string) field.ErrorList {
	allErrs := validateAddressType(slice.AddressType, field.NewPath("addressType"))
	allErrs = append(allErrs, validateEndpoints(slice.Endpoints, slice.AddressType, validOldIPs, field.NewPath("endpoints"))...)
	allErrs = append(allErrs, validatePorts(slice.Ports, field.NewPath("ports"))...)
	return allErrs
}

func supportedAddressTypes() []discoveryv1.AddressType {
	return []discoveryv1.AddressType{discoveryv1.AddressTypeFQDN, discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6}
}

func validateAddressType(addressType discoveryv1.AddressType, fldPath *field.Path) field.ErrorList {
	if addressType == "" {
		return field.ErrorList{field.Required(fldPath, "")}
	}
	if !slices.Contains(supportedAddressTypes(), addressType) {
		return field.ErrorList{field.NotSupported(fldPath, addressType, supportedAddressTypes())}
	}
	return nil
}

func validateEndpoints(endpoints []discoveryv1.Endpoint, addrType discoveryv1.AddressType, validOldIPs []string, fldPath *field.Path) field.ErrorList {
	if len(endpoints) > MaxEndpoints {
		return field.ErrorList{field.TooMany(fldPath, len(endpoints), MaxEndpoints)}
	}
	var allErrs field.ErrorList
	for i, ep := range endpoints {
		idxPath := fldPath.Index(i)
		addrPath := idxPath.Child("addresses")
		if len(ep.Addresses) == 0 {
			allErrs = append(allErrs, field.Required(addrPath, "must contain at least 1 address"))
		} else if len(ep.Addresses) > MaxAddresses {
			allErrs = append(allErrs, field.TooMany(addrPath, len(ep.Addresses), MaxAddresses))
		}
		for j, addr := range ep.Addresses {
			// Unknown address types have already been reported and their
			// addresses are not checked.
			switch addrType {
			case discoveryv1.AddressTypeIPv4:
				allErrs = append(allErrs, validateEndpointIP(addr, true, validOldIPs, addrPath.Index(j))...)
			case discoveryv1.AddressTypeIPv6:
				allErrs = append(allErrs, validateEndpointIP(addr, false, validOldIPs, addrPath.Index(j))...)
			case discoveryv1.AddressTypeFQDN:
				allErrs = append(allErrs, utilvalidation.IsFullyQualifiedDomainName(addrPath.Index(j), addr)...)
			}
		}
		if ep.NodeName != nil {
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(*ep.NodeName, false) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("nodeName"), *ep.NodeName, msg))
			}
		}
		topoPath := idxPath.Child("deprecatedTopology")
		if len(ep.DeprecatedTopology) > MaxTopologyLabels {
			allErrs = append(allErrs, field.TooMany(topoPath, len(ep.DeprecatedTopology), MaxTopologyLabels))
		}
		allErrs = append(allErrs, metavalidation.ValidateLabels(ep.DeprecatedTopology, topoPath)...)
		if ep.Hostname != nil {
			for _, msg := range utilvalidation.IsDNS1123Label(*ep.Hostname) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("hostname"), *ep.Hostname, msg))
			}
		}
		if ep.Hints != nil {
			allErrs = append(allErrs, validateHints(ep.Hints, idxPath.Child("hints"))...)
		}
	}
	return allErrs
}

// validateEndpointIP checks that addr is an IP of the wanted family and is
// usable as an endpoint: not unspecified, loopback, link-local unicast or
// link-local multicast. Addresses listed in validOldIPs skip the strict
// format checks (they were accepted before).
func validateEndpointIP(addr string, wantIPv4 bool, validOldIPs []string, fldPath *field.Path) field.ErrorList {
	if errs := utilvalidation.IsValidIPForLegacyField(fldPath, addr, true, validOldIPs); len(errs) > 0 {
		return errs
	}
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		// Only reachable for old, leniently accepted values; judge them by the
		// sloppy parse that accepted them.
		return nil
	}
	ip = ip.Unmap()
	var allErrs field.ErrorList
	if wantIPv4 && !ip.Is4() {
		allErrs = append(allErrs, field.Invalid(fldPath, addr, "must be an IPv4 address"))
	}
	if !wantIPv4 && !ip.Is6() {
		allErrs = append(allErrs, field.Invalid(fldPath, addr, "must be an IPv6 address"))
	}
	if ip.IsUnspecified() {
		allErrs = append(allErrs, field.Invalid(fldPath, addr, fmt.Sprintf("may not be unspecified (%v)", addr)))
	}
	if ip.IsLoopback() {
		allErrs = append(allErrs, field.Invalid(fldPath, addr, "may not be in the loopback range (127.0.0.0/8, ::1/128)"))
	}
	if ip.IsLinkLocalUnicast() {
		allErrs = append(allErrs, field.Invalid(fldPath, addr, "may not be in the link-local range (169.254.0.0/16, fe80::/10)"))
	}
	if ip.IsLinkLocalMulticast() {
		allErrs = append(allErrs, field.Invalid(fldPath, addr, "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"))
	}
	return allErrs
}

func validateHints(hints *discoveryv1.EndpointHints, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	zonesPath := fldPath.Child("forZones")
	if len(hints.ForZones) > MaxZoneHints {
		allErrs = append(allErrs, field.TooMany(zonesPath, len(hints.ForZones), MaxZoneHints))
	} else {
		seen := sets.New[string]()
		for i, z := range hints.ForZones {
			p := zonesPath.Index(i).Child("name")
			if seen.Has(z.Name) {
				allErrs = append(allErrs, field.Duplicate(p, z.Name))
			} else {
				seen.Insert(z.Name)
			}
			for _, msg := range utilvalidation.IsValidLabelValue(z.Name) {
				allErrs = append(allErrs, field.Invalid(p, z.Name, msg))
			}
		}
	}
	nodesPath := fldPath.Child("forNodes")
	if len(hints.ForNodes) > MaxNodeHints {
		allErrs = append(allErrs, field.TooMany(nodesPath, len(hints.ForNodes), MaxNodeHints))
	} else {
		seen := sets.New[string]()
		for i, n := range hints.ForNodes {
			p := nodesPath.Index(i).Child("name")
			if seen.Has(n.Name) {
				allErrs = append(allErrs, field.Duplicate(p, n.Name))
			} else {
				seen.Insert(n.Name)
			}
			for _, msg := range apimachineryvalidation.NameIsDNSSubdomain(n.Name, false) {
				allErrs = append(allErrs, field.Invalid(p, n.Name, msg))
			}
		}
	}
	return allErrs
}

func supportedProtocols() []corev1.Protocol {
	return []corev1.Protocol{corev1.ProtocolSCTP, corev1.ProtocolTCP, corev1.ProtocolUDP}
}

func validatePorts(ports []discoveryv1.EndpointPort, fldPath *field.Path) field.ErrorList {
	if len(ports) > MaxPorts {
		return field.ErrorList{field.TooMany(fldPath, len(ports), MaxPorts)}
	}
	var allErrs field.ErrorList
	names := sets.New[string]()
	for i, port := range ports {
		idxPath := fldPath.Index(i)
		name := ""
		if port.Name != nil {
			name = *port.Name
		}
		if name != "" {
			for _, msg := range utilvalidation.IsDNS1123Label(name) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("name"), name, msg))
			}
		}
		if names.Has(name) {
			allErrs = append(allErrs, field.Duplicate(idxPath.Child("name"), name))
		} else {
			names.Insert(name)
		}
		if port.Protocol == nil {
			allErrs = append(allErrs, field.Required(idxPath.Child("protocol"), ""))
		} else if !slices.Contains(supportedProtocols(), *port.Protocol) {
			allErrs = append(allErrs, field.NotSupported(idxPath.Child("protocol"), *port.Protocol, supportedProtocols()))
		}
		if port.AppProtocol != nil {
			for _, msg := range utilvalidation.IsQualifiedName(*port.AppProtocol) {
				allErrs = append(allErrs, field.Invalid(idxPath.Child("appProtocol"), *port.AppProtocol, msg))
			}
		}
	}
	return allErrs
}
