package podnet

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	v1 "k8s.io/api/core/v1"
)

// Route is one route this component keeps: Dst (a peer node's pod CIDR)
// via the gateway Via, out of the link with index LinkIndex.
type Route struct {
	Dst       netip.Prefix
	Via       netip.Addr
	LinkIndex int
}

func (r Route) String() string {
	return fmt.Sprintf("%s via %s dev #%d", r.Dst, r.Via, r.LinkIndex)
}

// Peer is another node whose pods this node routes to.
type Peer struct {
	Name string
	// IP is the node's InternalIP: pod traffic for it goes there, or to
	// the gateway towards it.
	IP netip.Addr
	// PodCIDRs are its IPv4 pod ranges.
	PodCIDRs []netip.Prefix
}

// Peers are the nodes other than self that can be routed to: those with
// an IPv4 InternalIP and at least one IPv4 pod CIDR, sorted by name.
// skipped names the others, with why (a node that has not got its pod
// CIDR from node IPAM yet is the usual one).
func Peers(nodes []*v1.Node, self string) (peers []Peer, skipped map[string]string) {
	skipped = map[string]string{}
	for _, n := range nodes {
		if n.Name == self {
			continue
		}
		p := Peer{Name: n.Name}
		for _, a := range n.Status.Addresses {
			if a.Type != v1.NodeInternalIP {
				continue
			}
			if ip, err := netip.ParseAddr(a.Address); err == nil && ip.Is4() {
				p.IP = ip
				break
			}
		}
		cidrs := n.Spec.PodCIDRs
		if len(cidrs) == 0 && n.Spec.PodCIDR != "" {
			cidrs = []string{n.Spec.PodCIDR}
		}
		for _, c := range cidrs {
			if pfx, err := netip.ParsePrefix(c); err == nil && pfx.Addr().Is4() {
				p.PodCIDRs = append(p.PodCIDRs, pfx.Masked())
			}
		}
		switch {
		case !p.IP.IsValid():
			skipped[n.Name] = "no IPv4 InternalIP"
		case len(p.PodCIDRs) == 0:
			skipped[n.Name] = "no IPv4 pod CIDR yet"
		default:
			peers = append(peers, p)
		}
	}
	slices.SortFunc(peers, func(a, b Peer) int { return cmp.Compare(a.Name, b.Name) })
	return peers, skipped
}

// RoutingChanged reports whether a Node update changes what the pod
// network routes: its InternalIPs or pod CIDRs. Status heartbeats and
// condition changes do not; the periodic resync covers everything else.
func RoutingChanged(old, cur *v1.Node) bool {
	return routingKey(old) != routingKey(cur)
}

func routingKey(n *v1.Node) string {
	var b strings.Builder
	b.WriteString(n.Spec.PodCIDR)
	for _, c := range n.Spec.PodCIDRs {
		b.WriteString("," + c)
	}
	for _, a := range n.Status.Addresses {
		if a.Type == v1.NodeInternalIP {
			b.WriteString("|" + a.Address)
		}
	}
	return b.String()
}

// Lookup is the kernel's answer to "how does this host reach an
// address" (ip route get).
type Lookup struct {
	// Gateway is the next router, invalid when the address is on a
	// directly connected subnet.
	Gateway netip.Addr
	// LinkIndex is the outgoing link.
	LinkIndex int
	// Local is true when the address is this host's own.
	Local bool
}

// NextHop is where packets for a peer's pods go, host-gw style: the
// peer's own address when it is on-link (a directly connected subnet), so
// the peer forwards them to its bridge; else the gateway the kernel uses
// to reach the peer, which must itself route the pod CIDR on (a routed
// underlay whose routers learn the pod CIDRs, or a single L3 hop that
// does). A peer whose address is this host's own has no next hop.
func NextHop(peerIP netip.Addr, l Lookup) (Hop, error) {
	switch {
	case l.Local:
		return Hop{}, fmt.Errorf("%s is an address of this host", peerIP)
	case l.LinkIndex == 0:
		return Hop{}, fmt.Errorf("no route to %s", peerIP)
	case l.Gateway.IsValid():
		return Hop{Via: l.Gateway, LinkIndex: l.LinkIndex}, nil
	default:
		return Hop{Via: peerIP, LinkIndex: l.LinkIndex}, nil
	}
}

// Hop is a next hop: the gateway Via out of the link LinkIndex.
type Hop struct {
	Via       netip.Addr
	LinkIndex int
}

// Desired is the route to every peer pod CIDR, given the next hop of
// each peer address (peers missing from hops are left out), sorted by
// destination. A pod CIDR two peers claim goes to the first by name.
func Desired(peers []Peer, hops map[netip.Addr]Hop) []Route {
	seen := map[netip.Prefix]bool{}
	var out []Route
	for _, p := range peers {
		hop, ok := hops[p.IP]
		if !ok {
			continue
		}
		for _, c := range p.PodCIDRs {
			if seen[c] {
				continue
			}
			seen[c] = true
			out = append(out, Route{Dst: c, Via: hop.Via, LinkIndex: hop.LinkIndex})
		}
	}
	sortRoutes(out)
	return out
}

// Plan is what one sync changes in the kernel.
type Plan struct {
	// Add are routes to destinations the main table lacks: added
	// exclusively ("ip route add"), so that a route someone else made in
	// the meantime is not taken over (the kernel's EEXIST is a conflict).
	Add []Route
	// Change are routes this component made whose next hop must change:
	// changed in place ("ip route change").
	Change []Route
	// Delete are routes this component made that are no longer wanted.
	Delete []Route
	// Conflicts are wanted destinations the main table already routes
	// with a route someone else made; they are left alone.
	Conflicts []netip.Prefix
}

// Empty reports whether the plan changes nothing.
func (p Plan) Empty() bool { return len(p.Add) == 0 && len(p.Change) == 0 && len(p.Delete) == 0 }

// Diff plans the changes from ours (the routes in the kernel this
// component made, recognised by their protocol) to desired. foreign are
// the destinations of the main table's other routes: a desired route
// there would overwrite someone else's, so it is a conflict instead.
func Diff(desired, ours []Route, foreign []netip.Prefix) Plan {
	have := map[netip.Prefix]Route{}
	for _, r := range ours {
		have[r.Dst] = r
	}
	other := map[netip.Prefix]bool{}
	for _, f := range foreign {
		other[f] = true
	}
	var p Plan
	want := map[netip.Prefix]bool{}
	for _, r := range desired {
		want[r.Dst] = true
		cur, ok := have[r.Dst]
		switch {
		case !ok && other[r.Dst]:
			p.Conflicts = append(p.Conflicts, r.Dst)
		case !ok:
			p.Add = append(p.Add, r)
		case cur != r:
			p.Change = append(p.Change, r)
		}
	}
	for _, r := range ours {
		if !want[r.Dst] {
			p.Delete = append(p.Delete, r)
		}
	}
	sortRoutes(p.Delete)
	return p
}

func sortRoutes(rs []Route) {
	slices.SortFunc(rs, func(a, b Route) int {
		if c := a.Dst.Addr().Compare(b.Dst.Addr()); c != 0 {
			return c
		}
		return cmp.Compare(a.Dst.Bits(), b.Dst.Bits())
	})
}

// Table is the nftables table of the pod network's rules.
const Table = "skiff-podnet"

// Ruleset is the nft script that (re)writes table ip skiff-podnet in
// one transaction: pods' traffic leaving the cluster CIDR is
// masqueraded (it needs the node's address to come back), traffic
// between pods is not (a pod sees its peer's own IP, on this node or
// another). The forward chain accepts pod traffic both ways; it matters
// only where no other table drops it (an accept here does not override
// another table's drop: that is the iptables FORWARD rules' job).
func Ruleset(clusterCIDR netip.Prefix) string {
	var b strings.Builder
	fmt.Fprintf(&b, "add table ip %[1]s\ndelete table ip %[1]s\ntable ip %[1]s {\n", Table)
	fmt.Fprintf(&b, "\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip saddr %[1]s ip daddr != %[1]s masquerade\n\t}\n", clusterCIDR)
	fmt.Fprintf(&b, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n")
	fmt.Fprintf(&b, "\t\tip saddr %[1]s accept\n\t\tip daddr %[1]s accept\n\t}\n}\n", clusterCIDR)
	return b.String()
}

// forwardComment marks the component's iptables rules.
const forwardComment = "skiff-podnet: pod traffic"

// ForwardRules are the iptables filter FORWARD rules (as arguments after
// the -I/-C/-D FORWARD) that accept pod traffic where the FORWARD policy
// is DROP (Docker sets it so). They go at the top of the chain: appended,
// they would come after another component's DROP or REJECT.
func ForwardRules(clusterCIDR netip.Prefix) [][]string {
	comment := []string{"-m", "comment", "--comment", forwardComment}
	return [][]string{
		append([]string{"-s", clusterCIDR.String()}, append(comment, "-j", "ACCEPT")...),
		append([]string{"-d", clusterCIDR.String()}, append(comment, "-j", "ACCEPT")...),
	}
}

// StaleForwardRules reads `iptables -S FORWARD` and returns the rules of
// this component (recognised by their comment) made for another cluster
// CIDR than keep (all of them when keep is zero), as arguments after
// -D FORWARD.
func StaleForwardRules(listing string, keep netip.Prefix) [][]string {
	var out [][]string
	for _, line := range strings.Split(listing, "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || f[0] != "-A" || f[1] != "FORWARD" || !strings.Contains(line, `"`+forwardComment+`"`) {
			continue
		}
		cidr, err := netip.ParsePrefix(f[3])
		if err != nil || cidr == keep {
			continue
		}
		for _, rule := range ForwardRules(cidr) {
			if rule[0] == f[2] {
				out = append(out, rule)
			}
		}
	}
	return out
}
