package netpol

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	netutils "k8s.io/utils/net"
)

// Peer is a set of IPv4 addresses: CIDR minus every Except.
type Peer struct {
	CIDR   netip.Prefix
	Except []netip.Prefix
}

// Port is traffic of one protocol to a destination port range; Lo == 0
// means every port of Protocol.
type Port struct {
	Protocol corev1.Protocol
	Lo, Hi   uint16
}

// Rule allows traffic whose other end is in one of Peers (every address
// when AnyPeer) and that goes to one of Ports (every port and protocol
// when Ports is empty). A rule that would match nothing is never made.
//
// Set names the peer list: rules of different pods with the same Set
// (the same rule of the same policy) have the same Peers, so the ruleset
// holds them once.
type Rule struct {
	AnyPeer bool
	Set     string
	Peers   []Peer
	Ports   []Port
}

// PodRules is what the policies say about one of this node's pods. A
// direction that is not isolated allows everything and its rules are
// empty; an isolated one allows only its rules (and replies, which the
// ruleset always lets through).
type PodRules struct {
	Namespace, Name string
	IP              netip.Addr
	IngressIsolated bool
	EgressIsolated  bool
	Ingress, Egress []Rule
}

// Compute applies policies as upstream defines them to the pods of node
// nodeName: a pod is isolated for ingress (egress) when a policy of its
// namespace selects it and lists Ingress (Egress) in policyTypes; what
// it may then receive (send) is the union of those policies' rules.
// Peers resolve, through pods and namespaces, to pod IPs (pods anywhere
// in the cluster with an IPv4 address, not on the host network and not
// finished) and to ipBlocks. A named port is the target pod's container
// port of that name for ingress, and each peer pod's for egress.
//
// Only pods of nodeName with an IPv4 pod IP, not on the host network and
// not finished are returned, sorted by IP. Pods selected by no policy
// are returned too, not isolated. Compute does not modify its inputs.
func Compute(policies []*networkingv1.NetworkPolicy, pods []*corev1.Pod, namespaces []*corev1.Namespace, nodeName string) []PodRules {
	nsLabels := map[string]labels.Set{}
	for _, ns := range namespaces {
		nsLabels[ns.Name] = ns.Labels
	}
	var live []*corev1.Pod
	for _, p := range pods {
		if _, ok := podIP(p); ok {
			live = append(live, p)
		}
	}
	byNS := map[string][]*networkingv1.NetworkPolicy{}
	for _, np := range policies {
		byNS[np.Namespace] = append(byNS[np.Namespace], np)
	}
	r := &resolver{pods: live, nsLabels: nsLabels, selectors: map[*metav1.LabelSelector]labels.Selector{}, memo: map[string]resolved{}}
	var out []PodRules
	for _, p := range live {
		if p.Spec.NodeName != nodeName {
			continue
		}
		ip, _ := podIP(p)
		pr := PodRules{Namespace: p.Namespace, Name: p.Name, IP: ip}
		for _, np := range byNS[p.Namespace] {
			if !r.selects(&np.Spec.PodSelector, p.Labels) {
				continue
			}
			for _, t := range np.Spec.PolicyTypes {
				switch t {
				case networkingv1.PolicyTypeIngress:
					pr.IngressIsolated = true
					for i, rule := range np.Spec.Ingress {
						pr.Ingress = append(pr.Ingress, r.ingress(setKey(np, "in", i), np.Namespace, rule, p)...)
					}
				case networkingv1.PolicyTypeEgress:
					pr.EgressIsolated = true
					for i, rule := range np.Spec.Egress {
						pr.Egress = append(pr.Egress, r.egress(setKey(np, "out", i), np.Namespace, rule)...)
					}
				}
			}
		}
		out = append(out, pr)
	}
	slices.SortFunc(out, func(a, b PodRules) int { return a.IP.Compare(b.IP) })
	return oneRulesPerIP(out, live)
}

// oneRulesPerIP keeps one entry per IP: two live pods of a node may share
// an address for a moment (one terminating, its IP already reused), and
// the ruleset keys chains by IP. The pod not being deleted wins, then the
// newer. out is sorted by IP.
func oneRulesPerIP(out []PodRules, pods []*corev1.Pod) []PodRules {
	byName := map[string]*corev1.Pod{}
	for _, p := range pods {
		byName[p.Namespace+"/"+p.Name] = p
	}
	better := func(a, b PodRules) bool { // a preferred over b
		pa, pb := byName[a.Namespace+"/"+a.Name], byName[b.Namespace+"/"+b.Name]
		if (pa.DeletionTimestamp == nil) != (pb.DeletionTimestamp == nil) {
			return pa.DeletionTimestamp == nil
		}
		return pb.CreationTimestamp.Before(&pa.CreationTimestamp)
	}
	kept := out[:0]
	for _, pr := range out {
		if n := len(kept); n > 0 && kept[n-1].IP == pr.IP {
			if better(pr, kept[n-1]) {
				kept[n-1] = pr
			}
			continue
		}
		kept = append(kept, pr)
	}
	return kept
}

// podIP is a pod's IPv4 address when it takes part in policy: it has
// one, is not on the host network and has not finished.
func podIP(p *corev1.Pod) (netip.Addr, bool) {
	if p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return netip.Addr{}, false
	}
	ips := []string{p.Status.PodIP}
	for _, pip := range p.Status.PodIPs {
		ips = append(ips, pip.IP)
	}
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return a, true
		}
	}
	return netip.Addr{}, false
}

// setKey names one rule of a policy.
func setKey(np *networkingv1.NetworkPolicy, dir string, i int) string {
	return fmt.Sprintf("%s/%s/%s/%d", np.Namespace, np.Name, dir, i)
}

// resolver resolves peers, parsing each selector once and each rule's
// peers once per Compute.
type resolver struct {
	pods      []*corev1.Pod
	nsLabels  map[string]labels.Set
	selectors map[*metav1.LabelSelector]labels.Selector
	memo      map[string]resolved
}

type resolved struct {
	peers []Peer
	pods  []*corev1.Pod
	any   bool
}

// selects reports whether a label selector matches; a selector that does
// not parse (validation forbids it) matches nothing.
func (r *resolver) selects(ls *metav1.LabelSelector, l map[string]string) bool {
	s, ok := r.selectors[ls]
	if !ok {
		var err error
		if s, err = metav1.LabelSelectorAsSelector(ls); err != nil {
			s = labels.Nothing()
		}
		r.selectors[ls] = s
	}
	return s.Matches(labels.Set(l))
}

// peerPods is the pods a peer's selectors pick, from policy namespace ns.
func (r *resolver) peerPods(ns string, peer networkingv1.NetworkPolicyPeer) []*corev1.Pod {
	var out []*corev1.Pod
	for _, p := range r.pods {
		if peer.NamespaceSelector != nil {
			if !r.selects(peer.NamespaceSelector, r.nsLabels[p.Namespace]) {
				continue
			}
		} else if p.Namespace != ns {
			continue
		}
		if peer.PodSelector != nil && !r.selects(peer.PodSelector, p.Labels) {
			continue
		}
		out = append(out, p)
	}
	return out
}

// blockPeer is an ipBlock as a Peer. CIDRs are parsed as the API
// accepts them (leading zeros included, netutils.ParseCIDRSloppy); a
// block whose cidr or any except cannot be used (not IPv4) is nothing,
// so that it never allows what an except was meant to keep out.
func blockPeer(b *networkingv1.IPBlock) (Peer, bool) {
	cidr, ok := ipv4Prefix(b.CIDR)
	if !ok {
		return Peer{}, false
	}
	p := Peer{CIDR: cidr}
	for _, s := range b.Except {
		e, ok := ipv4Prefix(s)
		if !ok {
			return Peer{}, false
		}
		p.Except = append(p.Except, e)
	}
	slices.SortFunc(p.Except, func(x, y netip.Prefix) int {
		return cmp.Or(x.Addr().Compare(y.Addr()), cmp.Compare(x.Bits(), y.Bits()))
	})
	return p, true
}

// ipv4Prefix parses an IPv4 CIDR as the API's validation does, masked.
func ipv4Prefix(s string) (netip.Prefix, bool) {
	_, n, err := netutils.ParseCIDRSloppy(s)
	if err != nil || n.IP.To4() == nil {
		return netip.Prefix{}, false
	}
	a, _ := netip.AddrFromSlice(n.IP.To4())
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a, bits).Masked(), true
}

func hostPeer(a netip.Addr) Peer { return Peer{CIDR: netip.PrefixFrom(a, 32)} }

// numericPort is a rule port with a number (or none); ok is false for a
// named port.
func numericPort(p networkingv1.NetworkPolicyPort) (Port, bool) {
	proto := corev1.ProtocolTCP
	if p.Protocol != nil {
		proto = *p.Protocol
	}
	if p.Port == nil {
		return Port{Protocol: proto}, true
	}
	if p.Port.Type == intstr.String {
		return Port{}, false
	}
	lo := uint16(p.Port.IntVal)
	hi := lo
	if p.EndPort != nil && *p.EndPort >= p.Port.IntVal {
		hi = uint16(*p.EndPort)
	}
	return Port{Protocol: proto, Lo: lo, Hi: hi}, true
}

// namedPort resolves a named rule port against a pod's container ports.
func namedPort(p networkingv1.NetworkPolicyPort, pod *corev1.Pod) (Port, bool) {
	proto := corev1.ProtocolTCP
	if p.Protocol != nil {
		proto = *p.Protocol
	}
	for _, c := range pod.Spec.Containers {
		for _, cp := range c.Ports {
			cpProto := cmp.Or(cp.Protocol, corev1.ProtocolTCP)
			if cp.Name == p.Port.StrVal && cpProto == proto && cp.ContainerPort > 0 {
				return Port{Protocol: proto, Lo: uint16(cp.ContainerPort), Hi: uint16(cp.ContainerPort)}, true
			}
		}
	}
	return Port{}, false
}

// peers resolves the peer list of rule key; any is true for an empty
// list. Peers come sorted and deduplicated.
func (r *resolver) peers(key, ns string, list []networkingv1.NetworkPolicyPeer) ([]Peer, []*corev1.Pod, bool) {
	if m, ok := r.memo[key]; ok {
		return m.peers, m.pods, m.any
	}
	out, pods, any := r.resolvePeers(ns, list)
	out = dedupPeers(out)
	r.memo[key] = resolved{out, pods, any}
	return out, pods, any
}

func (r *resolver) resolvePeers(ns string, list []networkingv1.NetworkPolicyPeer) (out []Peer, pods []*corev1.Pod, any bool) {
	if len(list) == 0 {
		return nil, r.pods, true
	}
	for _, peer := range list {
		if peer.IPBlock != nil {
			if p, ok := blockPeer(peer.IPBlock); ok {
				out = append(out, p)
			}
			continue
		}
		for _, pod := range r.peerPods(ns, peer) {
			ip, _ := podIP(pod)
			out = append(out, hostPeer(ip))
			pods = append(pods, pod)
		}
	}
	return out, pods, false
}

// ingress is one ingress rule of a policy in ns for the local pod
// target; named ports are target's.
func (r *resolver) ingress(key, ns string, rule networkingv1.NetworkPolicyIngressRule, target *corev1.Pod) []Rule {
	peers, _, any := r.peers(key, ns, rule.From)
	if !any && len(peers) == 0 {
		return nil
	}
	var ports []Port
	for _, p := range rule.Ports {
		if port, ok := numericPort(p); ok {
			ports = append(ports, port)
		} else if port, ok := namedPort(p, target); ok {
			ports = append(ports, port)
		}
	}
	if len(rule.Ports) > 0 && len(ports) == 0 {
		return nil
	}
	return []Rule{{AnyPeer: any, Set: key, Peers: peers, Ports: dedupPorts(ports)}}
}

// egress is one egress rule of a policy in ns; a named port is each
// peer pod's own, so peers are grouped by what it resolves to (ipBlock
// peers have no named ports).
func (r *resolver) egress(key, ns string, rule networkingv1.NetworkPolicyEgressRule) []Rule {
	peers, pods, any := r.peers(key, ns, rule.To)
	if !any && len(peers) == 0 {
		return nil
	}
	var ports []Port
	named := map[Port][]Peer{}
	hasNamed := false
	for _, p := range rule.Ports {
		if port, ok := numericPort(p); ok {
			ports = append(ports, port)
			continue
		}
		hasNamed = true
		for _, pod := range pods {
			if port, ok := namedPort(p, pod); ok {
				ip, _ := podIP(pod)
				named[port] = append(named[port], hostPeer(ip))
			}
		}
	}
	var out []Rule
	if len(rule.Ports) == 0 || len(ports) > 0 {
		out = append(out, Rule{AnyPeer: any, Set: key, Peers: peers, Ports: dedupPorts(ports)})
	}
	if hasNamed {
		keys := make([]Port, 0, len(named))
		for k := range named {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, comparePort)
		for _, k := range keys {
			out = append(out, Rule{Set: fmt.Sprintf("%s/%s/%d", key, k.Protocol, k.Lo), Peers: dedupPeers(named[k]), Ports: []Port{k}})
		}
	}
	return out
}

func comparePort(a, b Port) int {
	return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Lo, b.Lo), cmp.Compare(a.Hi, b.Hi))
}

func dedupPorts(ps []Port) []Port {
	slices.SortFunc(ps, comparePort)
	return slices.Compact(ps)
}

func dedupPeers(ps []Peer) []Peer {
	slices.SortFunc(ps, func(a, b Peer) int {
		return cmp.Or(a.CIDR.Addr().Compare(b.CIDR.Addr()), cmp.Compare(a.CIDR.Bits(), b.CIDR.Bits()),
			slices.CompareFunc(a.Except, b.Except, func(x, y netip.Prefix) int {
				return cmp.Or(x.Addr().Compare(y.Addr()), cmp.Compare(x.Bits(), y.Bits()))
			}))
	})
	return slices.CompactFunc(ps, func(a, b Peer) bool { return a.CIDR == b.CIDR && slices.Equal(a.Except, b.Except) })
}

// PodChanged reports whether a pod update can change what Compute
// returns: its labels, node, IP, host networking, phase or container
// ports. Status heartbeats such as conditions cannot.
func PodChanged(old, cur *corev1.Pod) bool {
	oldIP, oldOK := podIP(old)
	curIP, curOK := podIP(cur)
	return oldIP != curIP || oldOK != curOK ||
		old.Spec.NodeName != cur.Spec.NodeName ||
		!labels.Equals(old.Labels, cur.Labels) ||
		!slices.EqualFunc(old.Spec.Containers, cur.Spec.Containers, func(a, b corev1.Container) bool { return slices.Equal(a.Ports, b.Ports) })
}
