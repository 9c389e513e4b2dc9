// Package conntrack deletes the kernel's connection-tracking entries that
// would keep UDP (and SCTP) traffic going where a Service no longer
// sends it. The kernel applies a Service's DNAT only to a flow's first
// packet; later datagrams of the same flow (same client address and
// port) follow the conntrack entry, for as long as the client keeps
// sending. Without clean-up a DNS client keeps talking to a pod that is
// gone. TCP needs none: a dead endpoint resets or times the connection
// out, and the client opens a new one.
//
// Stale decides purely, from the snapshots before and after a sync, which
// flows to delete; a Deleter (Netlink) deletes them.
package conntrack

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/proxy/model"
)

// Frontend is an address traffic to a service port arrives at: the
// cluster IP or an external IP with the service port, or, with IP zero,
// a node port on any address.
type Frontend struct {
	Protocol v1.Protocol
	IP       netip.Addr
	Port     uint16
}

func (f Frontend) String() string {
	if !f.IP.IsValid() {
		return fmt.Sprintf("%s *:%d", f.Protocol, f.Port)
	}
	return fmt.Sprintf("%s %s", f.Protocol, netip.AddrPortFrom(f.IP, f.Port))
}

// Filter selects the flows to a Frontend that were not DNATed to one of
// Keep: their reply comes from another address (an endpoint that went
// away, or the frontend itself when the flow was never DNATed). Keep
// empty selects every flow to the frontend.
type Filter struct {
	Frontend
	Keep []netip.Addr
}

func (f Filter) String() string { return fmt.Sprintf("%s reply-src not in %v", f.Frontend, f.Keep) }

// Flow is what a filter reads of one conntrack entry.
type Flow struct {
	Protocol v1.Protocol
	// OrigDst is where the client sent the flow's first packet.
	OrigDst netip.AddrPort
	// ReplySrc is where replies come from: the endpoint the flow was
	// DNATed to, else OrigDst's address.
	ReplySrc netip.Addr
}

// Stale returns the filters of the flows to delete once next's rules are
// in the kernel, prev's having been (nil prev: the proxy just started and
// does not know what the kernel held). full asks to re-check every port
// of next against its endpoints, whatever changed: a full sync does, so
// that flows a missed or failed clean-up left behind go too (upstream's
// CleanStaleEntries checks the whole table against the full state on
// every sync). An endpoint counts while it is serving, whatever the
// traffic policies (a change of policy leaves existing flows alone, as
// for TCP). A service port's frontends are cleaned when
//   - an endpoint stopped serving: its flows go, others stay;
//   - it had no serving endpoint and now has some: flows from before (the
//     rules then did not DNAT them) go;
//   - it is new, prev is nil or full is set: anything to its addresses
//     that does not reach one of its endpoints goes;
//   - it, or one of its frontends, is gone since prev: every flow to them
//     goes.
//
// Skiff differs from upstream kube-proxy on purpose in two ways: it looks
// at SCTP ports as well as UDP ones (upstream only at UDP; an SCTP
// association follows its conntrack entry just as a UDP flow does), and
// it deletes the flows to the frontends of a service port that went away
// (upstream only looks at flows to frontends that still exist, leaving
// those to time out; a client that keeps sending would keep them alive).
// Endpoints that only came in change nothing: no flow can be stale then.
// Filters come sorted by frontend.
func Stale(prev, next *model.Snapshot, full bool) []Filter {
	before, after := index(prev), index(next)
	out := map[Frontend][]netip.Addr{}
	for name, was := range before {
		if _, ok := after[name]; !ok {
			for _, f := range was.frontends {
				out[f] = nil
			}
		}
	}
	for name, is := range after {
		was, had := before[name]
		clean := full || prev == nil || !had ||
			(len(was.serving) == 0 && len(is.serving) > 0) ||
			slices.ContainsFunc(was.serving, func(a netip.Addr) bool { return !slices.Contains(is.serving, a) })
		for _, f := range is.frontends {
			if clean || !slices.Contains(was.frontends, f) {
				out[f] = is.serving
			}
		}
		for _, f := range was.frontends {
			if _, ok := out[f]; !ok && !slices.Contains(is.frontends, f) {
				out[f] = nil
			}
		}
	}
	filters := make([]Filter, 0, len(out))
	for f, keep := range out {
		filters = append(filters, Filter{Frontend: f, Keep: keep})
	}
	slices.SortFunc(filters, func(a, b Filter) int {
		return cmp.Or(cmp.Compare(a.Protocol, b.Protocol), a.IP.Compare(b.IP), cmp.Compare(a.Port, b.Port))
	})
	return filters
}

type portState struct {
	frontends []Frontend
	serving   []netip.Addr // sorted, unique
}

// index keeps a snapshot's UDP and SCTP ports.
func index(s *model.Snapshot) map[model.ServicePortName]portState {
	m := map[model.ServicePortName]portState{}
	if s == nil {
		return m
	}
	for _, sp := range s.Ports {
		proto := sp.Name.Protocol
		if proto != v1.ProtocolUDP && proto != v1.ProtocolSCTP {
			continue
		}
		var st portState
		st.frontends = append(st.frontends, Frontend{proto, sp.ClusterIP, uint16(sp.Port)})
		for _, ip := range sp.ExternalIPs {
			st.frontends = append(st.frontends, Frontend{proto, ip, uint16(sp.Port)})
		}
		if sp.NodePort != 0 {
			st.frontends = append(st.frontends, Frontend{Protocol: proto, Port: uint16(sp.NodePort)})
		}
		for _, e := range sp.Endpoints {
			if e.Serving && !slices.Contains(st.serving, e.IP) {
				st.serving = append(st.serving, e.IP)
			}
		}
		slices.SortFunc(st.serving, netip.Addr.Compare)
		m[sp.Name] = st
	}
	return m
}

// Matcher tells whether a flow is selected by any of a set of filters.
type Matcher map[Frontend]map[netip.Addr]bool

// NewMatcher indexes filters by frontend.
func NewMatcher(filters []Filter) Matcher {
	m := Matcher{}
	for _, f := range filters {
		keep := map[netip.Addr]bool{}
		for _, a := range f.Keep {
			keep[a] = true
		}
		m[f.Frontend] = keep
	}
	return m
}

// Match is true when a filter selects the flow: one for its destination
// address and port, or for its destination port as a node port, whose
// Keep lacks the flow's reply source.
func (m Matcher) Match(f Flow) bool {
	for _, fe := range []Frontend{
		{f.Protocol, f.OrigDst.Addr(), f.OrigDst.Port()},
		{Protocol: f.Protocol, Port: f.OrigDst.Port()},
	} {
		if keep, ok := m[fe]; ok && !keep[f.ReplySrc] {
			return true
		}
	}
	return false
}
