package conntrack

import (
	"net"
	"net/netip"
	"slices"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/testnetns"
)

// TestNetlinkDelete writes conntrack entries into a network namespace's
// table and deletes some through Netlink.
func TestNetlinkDelete(t *testing.T) {
	ns, h := nsWithHandle(t)
	// A client's flows to a cluster IP, DNATed to 10.42.0.5 and .6.
	add := func(proto uint8, sport uint16, dst string, dport uint16, endpoint string, eport uint16) {
		t.Helper()
		client := net.ParseIP("192.0.2.50").To4()
		flow := &netlink.ConntrackFlow{
			FamilyType: unix.AF_INET,
			Forward:    netlink.IPTuple{Protocol: proto, SrcIP: client, SrcPort: sport, DstIP: net.ParseIP(dst).To4(), DstPort: dport},
			Reverse:    netlink.IPTuple{Protocol: proto, SrcIP: net.ParseIP(endpoint).To4(), SrcPort: eport, DstIP: client, DstPort: sport},
			TimeOut:    300,
		}
		if err := h.ConntrackCreate(netlink.ConntrackTable, unix.AF_INET, flow); err != nil {
			t.Fatalf("creating a conntrack entry (is nf_conntrack_netlink there?): %v", err)
		}
	}
	add(unix.IPPROTO_UDP, 40001, "10.43.0.10", 53, "10.42.0.5", 5353)
	add(unix.IPPROTO_UDP, 40002, "10.43.0.10", 53, "10.42.0.6", 5353)
	add(unix.IPPROTO_UDP, 40003, "192.0.2.50", 30053, "10.42.0.5", 5353)
	add(unix.IPPROTO_TCP, 40004, "10.43.0.10", 53, "10.42.0.5", 5353)

	n, err := Netlink{NSPath: ns.Path()}.Delete([]Filter{
		{Frontend: Frontend{v1.ProtocolUDP, netip.MustParseAddr("10.43.0.10"), 53}, Keep: []netip.Addr{netip.MustParseAddr("10.42.0.6")}},
		{Frontend: Frontend{Protocol: v1.ProtocolUDP, Port: 30053}, Keep: []netip.Addr{netip.MustParseAddr("10.42.0.6")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("deleted %d entries, want 2", n)
	}
	flows, err := h.ConntrackTableList(netlink.ConntrackTable, unix.AF_INET)
	if err != nil {
		t.Fatal(err)
	}
	var left []uint16
	for _, f := range flows {
		left = append(left, f.Forward.SrcPort)
	}
	slices.Sort(left)
	if !slices.Equal(left, []uint16{40002, 40004}) {
		t.Errorf("left the flows from ports %v, want 40002 (to the endpoint that stays) and 40004 (TCP)", left)
	}
}

// BenchmarkNetlinkDelete is the clean-up after a sync that changed a UDP
// Service's endpoints, on a node tracking 20 000 UDP flows (in a network
// namespace): one dump of the table and a match of every entry; nothing
// matches, so the table stays the same between rounds.
//
//	go test ./internal/proxy/conntrack -run '^$' -bench NetlinkDelete -benchtime 10x
func BenchmarkNetlinkDelete(b *testing.B) {
	ns, h := nsWithHandle(b)
	const flows = 20000
	for i := range flows {
		client := net.IPv4(192, 0, 2, byte(1+i/60000)).To4()
		sport := uint16(1024 + i%60000)
		dst, ep := net.IPv4(10, 43, byte(i>>8), byte(i)).To4(), net.IPv4(10, 42, byte(i>>8), byte(i)).To4()
		if err := h.ConntrackCreate(netlink.ConntrackTable, unix.AF_INET, &netlink.ConntrackFlow{
			FamilyType: unix.AF_INET,
			Forward:    netlink.IPTuple{Protocol: unix.IPPROTO_UDP, SrcIP: client, SrcPort: sport, DstIP: dst, DstPort: 53},
			Reverse:    netlink.IPTuple{Protocol: unix.IPPROTO_UDP, SrcIP: ep, SrcPort: 5353, DstIP: client, DstPort: sport},
			TimeOut:    600,
		}); err != nil {
			b.Fatal(err)
		}
	}
	filters := []Filter{{Frontend: Frontend{v1.ProtocolUDP, netip.MustParseAddr("10.43.200.1"), 54}}}
	for b.Loop() {
		if n, err := (Netlink{NSPath: ns.Path()}).Delete(filters); err != nil || n != 0 {
			b.Fatal(n, err)
		}
	}
	b.ReportMetric(flows, "flows")
}

// nsWithHandle is a new network namespace and a netfilter netlink handle
// in it, closed when the test ends.
func nsWithHandle(t testing.TB) (*testnetns.NS, *netlink.Handle) {
	t.Helper()
	ns := testnetns.New(t)
	nsh, err := netns.GetFromPath(ns.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer nsh.Close()
	h, err := netlink.NewHandleAt(nsh, unix.NETLINK_NETFILTER)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	return ns, h
}
