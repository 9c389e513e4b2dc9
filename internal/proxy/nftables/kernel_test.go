package nftables

import (
	"context"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/proxy/model"
	"github.com/skiff-sh/skiff/internal/testnetns"
)

// TestKernelFullSyncKeepsAffinity applies full syncs to a real kernel (in
// a network namespace): the clients recorded in an affinity set survive
// a full sync and a restarted backend's first sync, while the objects of
// a service that went away, and leftovers nobody wants, are flushed at
// once and deleted a StaleGrace later.
func TestKernelFullSyncKeepsAffinity(t *testing.T) {
	ns := testnetns.New(t)
	if _, err := exec.LookPath("nft"); err != nil {
		t.Skip("nft is not installed")
	}
	ctx := context.Background()
	clk := testclock.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	opt := Options{ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16"), Clock: clk}
	sticky := port(func(sp *model.ServicePort) {
		sp.AffinitySeconds = 600
		sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", false), readyEP("10.42.0.6", false)}
	})
	other := port(func(sp *model.ServicePort) {
		sp.Name.Name, sp.ClusterIP = "other", netip.MustParseAddr("10.43.0.21")
		sp.Endpoints = []model.Endpoint{readyEP("10.42.0.7", false)}
	})
	b := NewBackend(opt, ns.Run)
	if _, err := b.Sync(ctx, &model.Snapshot{Ports: []*model.ServicePort{sticky, other}}, true); err != nil {
		t.Fatal(err)
	}
	// The kernel records a client (as the endpoint chain's update would),
	// and something else left a chain, a map naming it and a set behind.
	set := affinitySet(sticky, sticky.Endpoints[1])
	ns.MustRun(t, "nft add element ip kube-proxy "+set+" { 192.0.2.77 }")
	if _, err := ns.Run(ctx, []byte(`add chain ip kube-proxy leftover
add map ip kube-proxy leftover-map { type inet_service : verdict ; }
add element ip kube-proxy leftover-map { 80 : goto leftover }
add set ip kube-proxy leftover-set { type ipv4_addr ; }
add rule ip kube-proxy leftover ip saddr @leftover-set drop
`), "nft", "-f", "-"); err != nil {
		t.Fatal(err)
	}

	contents := func() string {
		out, err := ns.Run(ctx, nil, "nft", "list", "table", "ip", "kube-proxy")
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	for _, step := range []struct {
		name string
		b    *Backend
		snap []*model.ServicePort
	}{
		{"full sync", b, []*model.ServicePort{sticky}},
		{"restarted backend", NewBackend(opt, ns.Run), []*model.ServicePort{sticky}},
	} {
		res, err := step.b.Sync(ctx, &model.Snapshot{Ports: step.snap}, true)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if !res.Full {
			t.Errorf("%s: not full: %+v", step.name, res)
		}
		table := contents()
		if !strings.Contains(table, "192.0.2.77") {
			t.Errorf("%s: the affinity set lost its client:\n%s", step.name, table)
		}
		for _, gone := range []string{"leftover-", "10.42.0.7 ", "10.42.0.7:"} {
			if strings.Contains(table, gone) {
				t.Errorf("%s: %q remains:\n%s", step.name, gone, table)
			}
		}
		if n := strings.Count(table, "dnat to"); n != 2 {
			t.Errorf("%s: %d DNAT rules, want 2 (rules doubled or lost):\n%s", step.name, n, table)
		}
		// The flushed chains go a grace later, on the next sync.
		clk.Step(StaleGrace)
		if res, err := step.b.Sync(ctx, &model.Snapshot{Ports: step.snap}, false); err != nil || res.CleanupErr != nil {
			t.Fatalf("%s, a grace later: %v %v", step.name, err, res.CleanupErr)
		}
		table = contents()
		for _, gone := range []string{"leftover", "ns/other"} {
			if strings.Contains(table, gone) {
				t.Errorf("%s, a grace later: %q remains:\n%s", step.name, gone, table)
			}
		}
	}
}
