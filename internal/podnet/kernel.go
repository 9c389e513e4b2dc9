package podnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/skiff-sh/skiff/internal/hostexec"
)

// RouteProtocol marks the routes this component makes (the "proto" of
// `ip route`, shown as a number: `ip route show proto 212`), so that it
// lists, changes and deletes only its own. 212 is unassigned in
// rtnetlink.h and iproute2's rt_protos.
const RouteProtocol = 212

// Kernel is what the component needs from the host: the main routing
// table and the packet rules. NewKernel is the real one.
type Kernel interface {
	// Routes lists the main table's IPv4 routes this component made, and
	// the destinations of every other route there.
	Routes() (ours []Route, foreign []netip.Prefix, err error)
	// Lookup asks how the host reaches ip.
	Lookup(ip netip.Addr) (Lookup, error)
	// AddRoute adds r where the main table has no route to r.Dst; an
	// error wrapping ErrRouteExists when it has one (someone else's,
	// made since the last listing).
	AddRoute(r Route) error
	// ChangeRoute changes this component's route to r.Dst to r (it must
	// exist).
	ChangeRoute(r Route) error
	// DeleteRoute removes r.
	DeleteRoute(r Route) error
	// EnsureRules writes the masquerade table and the FORWARD accepts
	// for clusterCIDR (at the top of the chain), and removes the FORWARD
	// accepts made for another cluster CIDR.
	EnsureRules(ctx context.Context, clusterCIDR netip.Prefix) error
	// Cleanup removes every route and rule this component made.
	Cleanup(ctx context.Context) error
	// Close releases what the Kernel holds (its netlink socket).
	Close() error
}

// ErrRouteExists is AddRoute's error when the destination is routed
// already.
var ErrRouteExists = errors.New("route exists")

// kernel is the host's Kernel: routes over netlink, rules with nft and
// iptables.
type kernel struct {
	nl    *netlink.Handle
	owned bool // nl was opened by NewKernel: Close closes it
	run   hostexec.Runner
}

// NewKernel returns the Kernel of the network namespace of h (nil: this
// process's, through a handle the Kernel opens and its Close closes; a
// handle passed in stays the caller's), running nft and iptables with run
// (nil: on this host).
func NewKernel(h *netlink.Handle, run hostexec.Runner) (Kernel, error) {
	owned := h == nil
	if owned {
		var err error
		if h, err = netlink.NewHandle(unix.NETLINK_ROUTE); err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
	}
	if run == nil {
		run = hostexec.Host
	}
	return &kernel{nl: h, owned: owned, run: run}, nil
}

func (k *kernel) Close() error {
	if k.owned {
		k.nl.Close()
	}
	return nil
}

func (k *kernel) Routes() ([]Route, []netip.Prefix, error) {
	all, err := k.nl.RouteListFiltered(netlink.FAMILY_V4, &netlink.Route{Table: unix.RT_TABLE_MAIN}, netlink.RT_FILTER_TABLE)
	if err != nil {
		return nil, nil, fmt.Errorf("list routes: %w", err)
	}
	var ours []Route
	var foreign []netip.Prefix
	for _, r := range all {
		if r.Dst == nil {
			continue // a default route as older netlink releases report it
		}
		dst, ok := prefixOf(r.Dst)
		if !ok {
			continue
		}
		if r.Protocol != RouteProtocol {
			foreign = append(foreign, dst)
			continue
		}
		via, _ := netip.AddrFromSlice(r.Gw.To4())
		ours = append(ours, Route{Dst: dst, Via: via, LinkIndex: r.LinkIndex})
	}
	return ours, foreign, nil
}

func prefixOf(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP.To4())
	if !ok {
		return netip.Prefix{}, false
	}
	bits, _ := n.Mask.Size()
	return netip.PrefixFrom(a, bits).Masked(), true
}

func (k *kernel) Lookup(ip netip.Addr) (Lookup, error) {
	rs, err := k.nl.RouteGet(ip.AsSlice())
	if err != nil {
		return Lookup{}, fmt.Errorf("route to %s: %w", ip, err)
	}
	if len(rs) == 0 {
		return Lookup{}, nil
	}
	r := rs[0]
	l := Lookup{LinkIndex: r.LinkIndex, Local: r.Type == unix.RTN_LOCAL}
	if gw, ok := netip.AddrFromSlice(r.Gw.To4()); ok && r.Gw != nil {
		l.Gateway = gw
	}
	return l, nil
}

func (k *kernel) route(r Route) *netlink.Route {
	return &netlink.Route{
		Dst:       &net.IPNet{IP: r.Dst.Addr().AsSlice(), Mask: net.CIDRMask(r.Dst.Bits(), 32)},
		Gw:        r.Via.AsSlice(),
		LinkIndex: r.LinkIndex,
		Protocol:  RouteProtocol,
		Table:     unix.RT_TABLE_MAIN,
	}
}

func (k *kernel) AddRoute(r Route) error {
	if err := k.nl.RouteAdd(k.route(r)); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("route add %s: %w", r, ErrRouteExists)
		}
		return fmt.Errorf("route add %s: %w", r, err)
	}
	return nil
}

// ChangeRoute uses NLM_F_REPLACE without NLM_F_CREATE: it fails rather
// than add a route when ours went away since the listing.
func (k *kernel) ChangeRoute(r Route) error {
	if err := k.nl.RouteChange(k.route(r)); err != nil {
		return fmt.Errorf("route change %s: %w", r, err)
	}
	return nil
}

func (k *kernel) DeleteRoute(r Route) error {
	if err := k.nl.RouteDel(k.route(r)); err != nil && !errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("route del %s: %w", r, err)
	}
	return nil
}

func (k *kernel) EnsureRules(ctx context.Context, clusterCIDR netip.Prefix) error {
	if _, err := k.run(ctx, []byte(Ruleset(clusterCIDR)), "nft", "-f", "-"); err != nil {
		return err
	}
	if _, err := exec.LookPath("iptables"); err != nil {
		return nil // no iptables, no FORWARD chain of its to open
	}
	for _, rule := range ForwardRules(clusterCIDR) {
		_, err := k.run(ctx, nil, "iptables", append([]string{"-w", "-C", "FORWARD"}, rule...)...)
		if err == nil {
			continue
		}
		if !ruleMissing(err) {
			return fmt.Errorf("checking the FORWARD rules: %w", err)
		}
		if _, err := k.run(ctx, nil, "iptables", append([]string{"-w", "-I", "FORWARD", "1"}, rule...)...); err != nil {
			return err
		}
	}
	return k.deleteForwardRules(ctx, clusterCIDR)
}

// ruleMissing tells `iptables -C`'s "no such rule" (exit status 1 and
// its "does a matching rule exist" message) from its other failures (a
// held lock, a missing module, no permission), which must not lead to
// adding the rule again.
func ruleMissing(err error) bool {
	var exit *exec.ExitError
	return errors.As(err, &exit) && exit.ExitCode() == 1 &&
		strings.Contains(err.Error(), "does a matching rule exist")
}

func (k *kernel) Cleanup(ctx context.Context) error {
	var errs []error
	ours, _, err := k.Routes()
	errs = append(errs, err)
	for _, r := range ours {
		errs = append(errs, k.DeleteRoute(r))
	}
	if _, err := k.run(ctx, nil, "nft", "list", "table", "ip", Table); err == nil {
		_, err := k.run(ctx, nil, "nft", "delete", "table", "ip", Table)
		errs = append(errs, err)
	}
	if _, err := exec.LookPath("iptables"); err == nil {
		errs = append(errs, k.deleteForwardRules(ctx, netip.Prefix{}))
	}
	return errors.Join(errs...)
}

// deleteForwardRules deletes every FORWARD rule carrying the component's
// comment made for another cluster CIDR than keep (zero: any).
func (k *kernel) deleteForwardRules(ctx context.Context, keep netip.Prefix) error {
	out, err := k.run(ctx, nil, "iptables", "-w", "-S", "FORWARD")
	if err != nil {
		return err
	}
	for _, rule := range StaleForwardRules(string(out), keep) {
		if _, err := k.run(ctx, nil, "iptables", append([]string{"-w", "-D", "FORWARD"}, rule...)...); err != nil {
			return err
		}
	}
	return nil
}
