package netpol

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// Table is the nftables table (family ip) that holds every rule of the
// component; nothing else writes it.
const Table = "skiff-netpol"

// Render is the nft -f script that replaces the table with rules
// enforcing pods: one transaction that creates the table (so the delete
// cannot fail), deletes it and writes it anew.
//
// The forward hook sees pod traffic after kube-proxy's DNAT (prerouting
// and output), so destinations are pod IPs. Replies of allowed
// connections pass (ct state established,related). Then a packet from
// an egress-isolated pod jumps, through the egress map keyed by its
// source, to that pod's chain, which returns when a rule allows it and
// drops it otherwise; then the same for the destination through the
// ingress map. The node's own traffic to and from its pods (kubelet
// probes) takes the input and output hooks and is never filtered.
func Render(pods []PodRules) string {
	var b strings.Builder
	fmt.Fprintf(&b, "table ip %s {}\ndelete table ip %s\ntable ip %s {\n", Table, Table, Table)
	var ingress, egress []string
	for _, p := range pods {
		if p.IngressIsolated {
			ingress = append(ingress, fmt.Sprintf("%s : jump %s", p.IP, chainName("ingress", p)))
		}
		if p.EgressIsolated {
			egress = append(egress, fmt.Sprintf("%s : jump %s", p.IP, chainName("egress", p)))
		}
	}
	writeMap(&b, "ingress", ingress)
	writeMap(&b, "egress", egress)
	sets := peerSets(&b, pods)
	b.WriteString("\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	b.WriteString("\t\tct state established,related accept\n")
	b.WriteString("\t\tip saddr vmap @egress\n\t\tip daddr vmap @ingress\n\t}\n")
	for _, p := range pods {
		if p.IngressIsolated {
			writeChain(&b, chainName("ingress", p), "saddr", p, p.Ingress, sets)
		}
		if p.EgressIsolated {
			writeChain(&b, chainName("egress", p), "daddr", p, p.Egress, sets)
		}
	}
	b.WriteString("}\n")
	return b.String()
}

// chainName is a pod's chain for one direction; pod IPs are unique on a
// node.
func chainName(dir string, p PodRules) string {
	return dir + "_" + strings.ReplaceAll(p.IP.String(), ".", "_")
}

func writeMap(b *strings.Builder, name string, elems []string) {
	fmt.Fprintf(b, "\tmap %s {\n\t\ttype ipv4_addr : verdict\n", name)
	if len(elems) > 0 {
		fmt.Fprintf(b, "\t\telements = { %s }\n", strings.Join(elems, ", "))
	}
	b.WriteString("\t}\n")
}

// peerSets writes a named set of the plain peers (those without
// exceptions) of every distinct Rule.Set and returns the set name of
// each.
func peerSets(b *strings.Builder, pods []PodRules) map[string]string {
	names := map[string]string{}
	for _, p := range pods {
		for _, rules := range [][]Rule{p.Ingress, p.Egress} {
			for _, r := range rules {
				if _, done := names[r.Set]; done || r.AnyPeer {
					continue
				}
				var plain []string
				for _, peer := range r.Peers {
					if len(peer.Except) == 0 {
						plain = append(plain, peer.CIDR.String())
					}
				}
				name := ""
				if len(plain) > 0 {
					name = fmt.Sprintf("peers_%d", len(names))
					fmt.Fprintf(b, "\tset %s {\n\t\ttype ipv4_addr\n\t\tflags interval\n\t\tauto-merge\n\t\telements = { %s }\n\t}\n", name, strings.Join(plain, ", "))
				}
				names[r.Set] = name
			}
		}
	}
	return names
}

// writeChain writes one pod's chain: the pod's traffic with itself
// returns (a pod cannot block access to itself, as upstream says; it
// passes here when it goes through one of its Services), then a line per
// peer group and protocol that returns (allowed), then a drop. field is
// the other end's address (saddr for ingress, daddr for egress); sets
// names each rule's set of plain peers.
func writeChain(b *strings.Builder, name, field string, pod PodRules, rules []Rule, sets map[string]string) {
	fmt.Fprintf(b, "\tchain %s {\n\t\tip %s %s return\n", name, field, pod.IP)
	for _, r := range rules {
		var addrs []string
		if !r.AnyPeer {
			if set := sets[r.Set]; set != "" {
				addrs = append(addrs, fmt.Sprintf("ip %s @%s ", field, set))
			}
			for _, p := range r.Peers {
				if len(p.Except) == 0 {
					continue
				}
				ex := make([]string, len(p.Except))
				for i, e := range p.Except {
					ex[i] = e.String()
				}
				addrs = append(addrs, fmt.Sprintf("ip %s %s ip %s != { %s } ", field, p.CIDR, field, strings.Join(ex, ", ")))
			}
		} else {
			addrs = []string{""}
		}
		for _, a := range addrs {
			for _, pm := range portMatches(r.Ports) {
				fmt.Fprintf(b, "\t\t%s%sreturn\n", a, pm)
			}
		}
	}
	b.WriteString("\t\tcounter drop\n\t}\n")
}

// portMatches is one match per protocol ("" for any port of any
// protocol).
func portMatches(ports []Port) []string {
	if len(ports) == 0 {
		return []string{""}
	}
	var out []string
	for _, proto := range []corev1.Protocol{corev1.ProtocolTCP, corev1.ProtocolUDP, corev1.ProtocolSCTP} {
		var ranges []string
		all, seen := false, false
		for _, p := range ports {
			if p.Protocol != proto {
				continue
			}
			seen = true
			switch {
			case p.Lo == 0:
				all = true
			case p.Lo == p.Hi:
				ranges = append(ranges, fmt.Sprint(p.Lo))
			default:
				ranges = append(ranges, fmt.Sprintf("%d-%d", p.Lo, p.Hi))
			}
		}
		l4 := strings.ToLower(string(proto))
		switch {
		case !seen:
		case all:
			out = append(out, fmt.Sprintf("meta l4proto %s ", l4))
		default:
			out = append(out, fmt.Sprintf("meta l4proto %s th dport { %s } ", l4, strings.Join(ranges, ", ")))
		}
	}
	return out
}

// CleanupScript removes the table (creating it first so that the delete
// cannot fail when it is absent).
func CleanupScript() string {
	return fmt.Sprintf("table ip %s {}\ndelete table ip %s\n", Table, Table)
}
