package podnet

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/internal/informerrun"
	"github.com/skiff-sh/skiff/internal/testnetns"
)

// nsKernel is the real Kernel of a fresh network namespace (v0 on
// 192.0.2.50/24, default route via 192.0.2.1).
func nsKernel(t testing.TB) (*testnetns.NS, Kernel) {
	t.Helper()
	ns := testnetns.New(t)
	h, err := netns.GetFromName(ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	nl, err := netlink.NewHandleAt(h)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nl.Close)
	k, err := NewKernel(nl, ns.Run)
	if err != nil {
		t.Fatal(err)
	}
	return ns, k
}

// TestKernel drives the netlink and nft kernel in a network namespace:
// next-hop lookups, only its own routes listed and changed, the rules
// written idempotently, and Cleanup leaving others' routes.
func TestKernel(t *testing.T) {
	ns, k := nsKernel(t)
	ns.MustRun(t, "ip route add 10.42.7.0/24 via 192.0.2.7")
	ctx := context.Background()

	for _, tc := range []struct {
		ip   string
		want Lookup
	}{
		{"192.0.2.8", Lookup{LinkIndex: 2}},
		{"198.51.100.5", Lookup{Gateway: a("192.0.2.1"), LinkIndex: 2}},
		{"192.0.2.50", Lookup{Local: true, LinkIndex: 1}},
	} {
		got, err := k.Lookup(a(tc.ip))
		if err != nil {
			t.Fatal(err)
		}
		// Link indexes depend on the namespace; v0 is the only link
		// besides lo.
		if got.Local != tc.want.Local || got.Gateway != tc.want.Gateway || (!got.Local && got.LinkIndex == 0) {
			t.Errorf("Lookup(%s) = %+v, want %+v", tc.ip, got, tc.want)
		}
	}
	l, _ := k.Lookup(a("192.0.2.8"))
	link := l.LinkIndex

	r := Route{Dst: p("10.42.1.0/24"), Via: a("192.0.2.8"), LinkIndex: link}
	if err := k.ChangeRoute(r); err == nil {
		t.Error("ChangeRoute added a route")
	}
	if err := k.AddRoute(r); err != nil {
		t.Fatal(err)
	}
	for _, dst := range []string{"10.42.1.0/24", "10.42.7.0/24"} {
		if err := k.AddRoute(Route{Dst: p(dst), Via: a("192.0.2.10"), LinkIndex: link}); !errors.Is(err, ErrRouteExists) {
			t.Errorf("AddRoute over the route to %s: %v, want ErrRouteExists", dst, err)
		}
	}
	r.Via = a("192.0.2.9")
	if err := k.ChangeRoute(r); err != nil {
		t.Fatal(err)
	}
	ours, foreign, err := k.Routes()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ours) != fmt.Sprint([]Route{r}) {
		t.Errorf("ours = %v, want %v", ours, []Route{r})
	}
	if fmt.Sprint(foreign) != "[0.0.0.0/0 10.42.7.0/24 192.0.2.0/24]" {
		t.Errorf("foreign = %v", foreign)
	}
	out, _ := ns.Run(ctx, nil, "ip", "route", "show", "proto", "212")
	if want := "10.42.1.0/24 via 192.0.2.9 dev v0"; !strings.Contains(string(out), want) {
		t.Errorf("ip route show proto 212:\n%s\nwant %q", out, want)
	}

	// Another component's DROP, and our accepts of an earlier cluster
	// CIDR: ours go above the DROP, the old ones go.
	_, iptErr := ns.Run(ctx, nil, "iptables", "-w", "-A", "FORWARD", "-j", "DROP")
	if iptErr == nil {
		for _, rule := range ForwardRules(p("10.99.0.0/16")) {
			if _, err := ns.Run(ctx, nil, "iptables", append([]string{"-w", "-A", "FORWARD"}, rule...)...); err != nil {
				t.Fatal(err)
			}
		}
	}
	for range 2 {
		if err := k.EnsureRules(ctx, p("10.42.0.0/16")); err != nil {
			t.Fatal(err)
		}
	}
	if iptErr == nil {
		out, _ := ns.Run(ctx, nil, "iptables", "-w", "-S", "FORWARD")
		s := string(out)
		if i, j := strings.Index(s, "10.42.0.0/16"), strings.Index(s, "-j DROP"); i < 0 || j < i || strings.Contains(s, "10.99.0.0/16") {
			t.Errorf("FORWARD: ours not above the DROP, or the old CIDR's left:\n%s", s)
		}
	}
	out, err = ns.Run(ctx, nil, "nft", "list", "table", "ip", Table)
	if err != nil || !strings.Contains(string(out), "ip saddr 10.42.0.0/16 ip daddr != 10.42.0.0/16 masquerade") {
		t.Errorf("nft list table: %v\n%s", err, out)
	}
	if out, err := ns.Run(ctx, nil, "iptables", "-w", "-S", "FORWARD"); err == nil {
		if n := strings.Count(string(out), forwardComment); n != 2 {
			t.Errorf("FORWARD has %d rules of ours, want 2:\n%s", n, out)
		}
	}

	if err := k.Cleanup(ctx); err != nil {
		t.Fatal(err)
	}
	ours, foreign, _ = k.Routes()
	if len(ours) != 0 || len(foreign) != 3 {
		t.Errorf("after Cleanup: ours %v, foreign %v", ours, foreign)
	}
	if out, err := ns.Run(ctx, nil, "nft", "list", "table", "ip", Table); err == nil {
		t.Errorf("table left after Cleanup:\n%s", out)
	}
	if out, _ := ns.Run(ctx, nil, "iptables", "-w", "-S", "FORWARD"); strings.Contains(string(out), forwardComment) {
		t.Errorf("FORWARD rules left after Cleanup:\n%s", out)
	}
}

// BenchmarkKernelSync100 is one sync of the component for 100 peers on
// a real kernel (a network namespace): "first" writes all 100 routes and
// the rules, "steady" is the periodic resync that finds everything in
// place (lookups, route list, rules rewritten).
func BenchmarkKernelSync100(b *testing.B) {
	_, k := nsKernel(b)
	var objs []runtime.Object
	for i := range 100 {
		objs = append(objs, node(fmt.Sprintf("node-%03d", i), fmt.Sprintf("192.0.2.%d", 100+i), fmt.Sprintf("10.42.%d.0/24", i)))
	}
	pn, err := New(Config{Client: fake.NewClientset(objs...), NodeName: "node-000", ClusterCIDR: p("10.42.0.0/16"), Kernel: k})
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	stop, err := informerrun.Start(ctx, pn.informers)
	defer stop()
	if err != nil {
		b.Fatal(err)
	}
	check := func() {
		ours, _, _ := k.Routes()
		if len(ours) != 99 {
			b.Fatalf("%d routes after a sync, want 99", len(ours))
		}
	}
	b.Run("first", func(b *testing.B) {
		for range b.N {
			b.StopTimer()
			if err := k.Cleanup(ctx); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			if err := pn.sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
		check()
	})
	b.Run("steady", func(b *testing.B) {
		for range b.N {
			if err := pn.sync(ctx); err != nil {
				b.Fatal(err)
			}
		}
		check()
	})
}
