package dns

import (
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"

	mdns "github.com/miekg/dns"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// TTL is the time to live of cluster answers (CoreDNS's kubernetes
// plugin's default).
const TTL = 5

// Zone is the cluster's DNS data at one moment, built purely from
// Services and EndpointSlices. It answers every name under the cluster
// domain and the reverse names of cluster IPs and endpoints.
type Zone struct {
	domain string // "cluster.local." (fully qualified)
	// names maps a fully qualified lower-case name to its records.
	names map[string]*node
	// ptr maps an address to the names that point back at it.
	ptr map[netip.Addr]string
}

// node is everything at one name.
type node struct {
	a     []netip.Addr
	cname string
	srv   []*mdns.SRV
}

// BuildZone indexes services and their slices under domain (e.g.
// "cluster.local"), following the Kubernetes DNS specification:
//   - <svc>.<ns>.svc.<domain>: A of the cluster IP; for a headless
//     Service, A of each ready endpoint (every endpoint with
//     publishNotReadyAddresses); CNAME for ExternalName;
//   - <hostname>.<svc>.<ns>.svc.<domain> for headless endpoints with a
//     hostname (StatefulSet pods);
//   - _<port>._<proto>.<svc>.<ns>.svc.<domain>: SRV for named ports;
//   - PTR for cluster IPs and headless endpoints.
//
// Pod names (a-b-c-d.<ns>.pod.<domain>) are answered from the name alone.
func BuildZone(domain string, services []*v1.Service, slices []*discoveryv1.EndpointSlice) *Zone {
	z := &Zone{domain: mdns.Fqdn(strings.ToLower(domain)), names: map[string]*node{}, ptr: map[netip.Addr]string{}}
	// The apex and the svc and pod subtrees exist even without Services.
	for _, n := range []string{z.domain, "svc." + z.domain, "pod." + z.domain} {
		z.node(n)
	}
	bySvc := map[[2]string][]*discoveryv1.EndpointSlice{}
	for _, s := range slices {
		if name := s.Labels[discoveryv1.LabelServiceName]; name != "" && s.AddressType == discoveryv1.AddressTypeIPv4 {
			k := [2]string{s.Namespace, name}
			bySvc[k] = append(bySvc[k], s)
		}
	}
	// Sort for deterministic answers and PTR choice.
	sorted := append([]*v1.Service(nil), services...)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].Namespace != sorted[j].Namespace {
			return sorted[i].Namespace < sorted[j].Namespace
		}
		return sorted[i].Name < sorted[j].Name
	})
	for _, svc := range sorted {
		base := svc.Name + "." + svc.Namespace + ".svc." + z.domain
		n := z.node(base)
		z.node(svc.Namespace + ".svc." + z.domain) // the namespace exists (NODATA, not NXDOMAIN)
		switch {
		case svc.Spec.Type == v1.ServiceTypeExternalName:
			n.cname = mdns.Fqdn(svc.Spec.ExternalName)
			continue
		case svc.Spec.ClusterIP == v1.ClusterIPNone || svc.Spec.ClusterIP == "":
			z.headless(svc, base, bySvc[[2]string{svc.Namespace, svc.Name}])
		default:
			ip, err := netip.ParseAddr(svc.Spec.ClusterIP)
			if err != nil || !ip.Is4() {
				continue
			}
			n.a = append(n.a, ip)
			if _, taken := z.ptr[ip]; !taken {
				z.ptr[ip] = base
			}
			for _, p := range svc.Spec.Ports {
				if p.Name == "" {
					continue
				}
				srv := z.node("_" + p.Name + "._" + strings.ToLower(string(protocol(p.Protocol))) + "." + base)
				srv.srv = append(srv.srv, &mdns.SRV{Priority: 0, Weight: 100, Port: uint16(p.Port), Target: base})
			}
		}
	}
	return z
}

// headless adds a headless Service's endpoint records.
func (z *Zone) headless(svc *v1.Service, base string, svcSlices []*discoveryv1.EndpointSlice) {
	n := z.node(base)
	seen := map[netip.Addr]bool{}
	for _, s := range svcSlices {
		for _, e := range s.Endpoints {
			ready := e.Conditions.Ready == nil || *e.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, a := range e.Addresses {
				ip, err := netip.ParseAddr(a)
				if err != nil || !ip.Is4() {
					continue
				}
				if !seen[ip] {
					seen[ip] = true
					n.a = append(n.a, ip)
				}
				// The endpoint's own name: its hostname, else its address
				// with dashes (as CoreDNS).
				host := strings.ReplaceAll(ip.String(), ".", "-")
				if e.Hostname != nil && *e.Hostname != "" {
					host = *e.Hostname
				}
				target := host + "." + base
				if t := z.node(target); !slices.Contains(t.a, ip) {
					t.a = append(t.a, ip)
				}
				if e.Hostname != nil && *e.Hostname != "" {
					z.ptr[ip] = target
				} else if _, taken := z.ptr[ip]; !taken {
					z.ptr[ip] = target
				}
				for _, p := range s.Ports {
					if p.Name == nil || *p.Name == "" || p.Port == nil {
						continue
					}
					proto := v1.ProtocolTCP
					if p.Protocol != nil {
						proto = *p.Protocol
					}
					srv := z.node("_" + *p.Name + "._" + strings.ToLower(string(proto)) + "." + base)
					srv.srv = append(srv.srv, &mdns.SRV{Priority: 0, Weight: 100, Port: uint16(*p.Port), Target: target})
				}
			}
		}
	}
	sort.Slice(n.a, func(i, j int) bool { return n.a[i].Less(n.a[j]) })
}

func protocol(p v1.Protocol) v1.Protocol {
	if p == "" {
		return v1.ProtocolTCP
	}
	return p
}

func (z *Zone) node(name string) *node {
	n := z.names[name]
	if n == nil {
		n = &node{}
		z.names[name] = n
		// Every ancestor inside the domain exists too (empty
		// non-terminals answer NODATA, not NXDOMAIN).
		for p := name; ; {
			i := strings.IndexByte(p, '.')
			if i < 0 || len(p) <= len(z.domain) {
				break
			}
			p = p[i+1:]
			if len(p) < len(z.domain) {
				break
			}
			if _, ok := z.names[p]; !ok {
				z.names[p] = &node{}
			}
		}
	}
	return n
}

// InZone reports whether the zone answers name: the cluster domain and
// the reverse names of IPv4 addresses it knows.
func (z *Zone) InZone(name string) bool {
	name = strings.ToLower(name)
	if mdns.IsSubDomain(z.domain, name) {
		return true
	}
	if ip, ok := reverse(name); ok {
		_, known := z.ptr[ip]
		return known
	}
	return false
}

// Answer fills the answer to one question of a name InZone: the rcode,
// the answer records and, for a negative answer, the SOA of the domain.
func (z *Zone) Answer(q mdns.Question) (rcode int, answer, ns []mdns.RR) {
	name := strings.ToLower(q.Name)
	hdr := func(t uint16) mdns.RR_Header {
		return mdns.RR_Header{Name: q.Name, Rrtype: t, Class: mdns.ClassINET, Ttl: TTL}
	}
	if ip, ok := reverse(name); ok {
		if target, ok := z.ptr[ip]; ok && (q.Qtype == mdns.TypePTR || q.Qtype == mdns.TypeANY) {
			return mdns.RcodeSuccess, []mdns.RR{&mdns.PTR{Hdr: hdr(mdns.TypePTR), Ptr: target}}, nil
		}
		return mdns.RcodeSuccess, nil, []mdns.RR{z.soa()}
	}
	n, ok := z.names[name]
	if !ok {
		n, ok = z.pod(name)
	}
	if !ok {
		return mdns.RcodeNameError, nil, []mdns.RR{z.soa()}
	}
	if n.cname != "" {
		return mdns.RcodeSuccess, []mdns.RR{&mdns.CNAME{Hdr: hdr(mdns.TypeCNAME), Target: n.cname}}, nil
	}
	switch q.Qtype {
	case mdns.TypeA, mdns.TypeANY:
		for _, ip := range n.a {
			answer = append(answer, &mdns.A{Hdr: hdr(mdns.TypeA), A: ip.AsSlice()})
		}
	case mdns.TypeSRV:
		for _, s := range n.srv {
			rr := *s
			rr.Hdr = hdr(mdns.TypeSRV)
			answer = append(answer, &rr)
		}
	case mdns.TypeSOA:
		if name == z.domain {
			return mdns.RcodeSuccess, []mdns.RR{z.soa()}, nil
		}
	}
	if len(answer) == 0 {
		return mdns.RcodeSuccess, nil, []mdns.RR{z.soa()}
	}
	return mdns.RcodeSuccess, answer, nil
}

// pod answers a-b-c-d.<ns>.pod.<domain> from the name alone (CoreDNS's
// "pods insecure", upstream's default).
func (z *Zone) pod(name string) (*node, bool) {
	rest, ok := strings.CutSuffix(name, ".pod."+z.domain)
	if !ok {
		return nil, false
	}
	label, ns, ok := strings.Cut(rest, ".")
	if !ok || ns == "" || strings.Contains(ns, ".") {
		return nil, false
	}
	ip, err := netip.ParseAddr(strings.ReplaceAll(label, "-", "."))
	if err != nil || !ip.Is4() {
		return nil, false
	}
	return &node{a: []netip.Addr{ip}}, true
}

func (z *Zone) soa() mdns.RR {
	return &mdns.SOA{
		Hdr: mdns.RR_Header{Name: z.domain, Rrtype: mdns.TypeSOA, Class: mdns.ClassINET, Ttl: TTL},
		Ns:  "ns.dns." + z.domain, Mbox: "hostmaster." + z.domain,
		Serial: 1, Refresh: 7200, Retry: 1800, Expire: 86400, Minttl: TTL,
	}
}

// reverse parses d.c.b.a.in-addr.arpa.
func reverse(name string) (netip.Addr, bool) {
	rest, ok := strings.CutSuffix(name, ".in-addr.arpa.")
	if !ok {
		return netip.Addr{}, false
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 4 {
		return netip.Addr{}, false
	}
	var b [4]byte
	for i, p := range parts {
		v, err := strconv.Atoi(p)
		if err != nil || v < 0 || v > 255 {
			return netip.Addr{}, false
		}
		b[3-i] = byte(v)
	}
	return netip.AddrFrom4(b), true
}
