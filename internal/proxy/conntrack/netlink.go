package conntrack

import (
	"errors"
	"fmt"
	"net"
	"net/netip"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
	v1 "k8s.io/api/core/v1"
)

// Deleter deletes the IPv4 conntrack entries any of filters selects and
// says how many went. An error may come with some deleted.
type Deleter interface {
	Delete(filters []Filter) (int, error)
}

// Netlink deletes entries through the kernel's conntrack netlink interface
// (nf_conntrack_netlink), as `conntrack -D` does, in the network namespace
// at NSPath, or in the caller's when NSPath is empty.
type Netlink struct {
	NSPath string
}

var _ Deleter = Netlink{}

// Delete dumps the conntrack table once and deletes the entries a filter
// selects.
func (n Netlink) Delete(filters []Filter) (int, error) {
	if len(filters) == 0 {
		return 0, nil
	}
	ns := netns.None()
	if n.NSPath != "" {
		var err error
		if ns, err = netns.GetFromPath(n.NSPath); err != nil {
			return 0, fmt.Errorf("conntrack: network namespace %s: %w", n.NSPath, err)
		}
		defer ns.Close()
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_NETFILTER)
	if err != nil {
		return 0, fmt.Errorf("conntrack: netlink: %w", err)
	}
	defer h.Close()
	deleted, err := h.ConntrackDeleteFilters(netlink.ConntrackTable, unix.AF_INET, nlFilter(NewMatcher(filters)))
	if err != nil {
		return int(deleted), fmt.Errorf("conntrack: delete: %w", err)
	}
	return int(deleted), nil
}

// nlFilter is a Matcher as netlink's filter.
type nlFilter Matcher

func (f nlFilter) MatchConntrackFlow(flow *netlink.ConntrackFlow) bool {
	proto, ok := protocols[flow.Forward.Protocol]
	if !ok {
		return false
	}
	return Matcher(f).Match(Flow{
		Protocol: proto,
		OrigDst:  netip.AddrPortFrom(addr(flow.Forward.DstIP), flow.Forward.DstPort),
		ReplySrc: addr(flow.Reverse.SrcIP),
	})
}

var protocols = map[uint8]v1.Protocol{unix.IPPROTO_UDP: v1.ProtocolUDP, unix.IPPROTO_SCTP: v1.ProtocolSCTP, unix.IPPROTO_TCP: v1.ProtocolTCP}

func addr(ip net.IP) netip.Addr {
	a, _ := netip.AddrFromSlice(ip)
	return a.Unmap()
}

// Retryable tells a Delete error that is expected now and then and
// passes by itself: the kernel's table changed while it was being dumped
// (netlink's ErrDumpInterrupted; the entries seen were still deleted).
// The next sync tries again.
func Retryable(err error) bool { return errors.Is(err, netlink.ErrDumpInterrupted) }
