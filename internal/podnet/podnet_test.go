package podnet

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/skiff-sh/skiff/internal/informerrun"
)

// fakeKernel is a main table with one link (index 2) on 10.0.0.0/24,
// a default route via 10.0.0.254, and a foreign route to 10.42.7.0/24.
type fakeKernel struct {
	mu     sync.Mutex
	routes map[netip.Prefix]Route // ours
	rules  int
}

func (k *fakeKernel) Routes() ([]Route, []netip.Prefix, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	var ours []Route
	for _, r := range k.routes {
		ours = append(ours, r)
	}
	return ours, []netip.Prefix{p("10.0.0.0/24"), p("10.42.7.0/24")}, nil
}

func (k *fakeKernel) Lookup(ip netip.Addr) (Lookup, error) {
	switch {
	case ip == a("10.0.0.1"):
		return Lookup{Local: true, LinkIndex: 1}, nil
	case p("10.0.0.0/24").Contains(ip):
		return Lookup{LinkIndex: 2}, nil
	default:
		return Lookup{Gateway: a("10.0.0.254"), LinkIndex: 2}, nil
	}
}

func (k *fakeKernel) AddRoute(r Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.routes[r.Dst]; ok || r.Dst == p("10.42.7.0/24") {
		return ErrRouteExists
	}
	k.routes[r.Dst] = r
	return nil
}

func (k *fakeKernel) ChangeRoute(r Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.routes[r.Dst]; !ok {
		return fmt.Errorf("no route to %s", r.Dst)
	}
	k.routes[r.Dst] = r
	return nil
}

func (k *fakeKernel) Close() error { return nil }

func (k *fakeKernel) DeleteRoute(r Route) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	delete(k.routes, r.Dst)
	return nil
}

func (k *fakeKernel) EnsureRules(context.Context, netip.Prefix) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.rules++
	return nil
}

func (k *fakeKernel) Cleanup(context.Context) error { return nil }

func (k *fakeKernel) table() string {
	ours, _, _ := k.Routes()
	sortRoutes(ours)
	return fmt.Sprint(ours)
}

// TestPodNetwork runs the component against a fake client and a fake
// kernel: routes follow nodes coming, changing and going; a route
// deleted behind its back comes back on the next resync.
func TestPodNetwork(t *testing.T) {
	client := fake.NewClientset(
		node("self", "10.0.0.1", "10.42.0.0/24"),
		node("b", "10.0.0.2", "10.42.1.0/24"),
		node("routed", "192.168.5.5", "10.42.2.0/24"),
		node("taken", "10.0.0.7", "10.42.7.0/24"),
	)
	k := &fakeKernel{routes: map[netip.Prefix]Route{
		// Left over from a node that is gone.
		p("10.42.9.0/24"): {Dst: p("10.42.9.0/24"), Via: a("10.0.0.9"), LinkIndex: 2},
	}}
	pn, err := New(Config{Client: client, NodeName: "self", ClusterCIDR: p("10.42.0.0/16"), Kernel: k, ResyncPeriod: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- pn.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitTable := func(want string) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for time.Now().Before(deadline) {
			if k.table() == want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("routes:\n%s\nwant:\n%s", k.table(), want)
	}
	waitTable("[10.42.1.0/24 via 10.0.0.2 dev #2 10.42.2.0/24 via 10.0.0.254 dev #2]")
	if !pn.Ready() {
		t.Error("not ready after a sync")
	}

	// A node changes address; another joins; b goes.
	moved := node("routed", "10.0.0.5", "10.42.2.0/24")
	if _, err := client.CoreV1().Nodes().Update(ctx, moved, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.CoreV1().Nodes().Create(ctx, node("c", "10.0.0.3", "10.42.3.0/24"), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := client.CoreV1().Nodes().Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitTable("[10.42.2.0/24 via 10.0.0.5 dev #2 10.42.3.0/24 via 10.0.0.3 dev #2]")

	// Deleted behind its back: the resync puts it back.
	if err := k.DeleteRoute(Route{Dst: p("10.42.3.0/24")}); err != nil {
		t.Fatal(err)
	}
	waitTable("[10.42.2.0/24 via 10.0.0.5 dev #2 10.42.3.0/24 via 10.0.0.3 dev #2]")
	k.mu.Lock()
	rules := k.rules
	k.mu.Unlock()
	if rules < 2 || pn.Syncs() < 2 {
		t.Errorf("rules written %d times in %d syncs", rules, pn.Syncs())
	}
}

// TestSyncVerdictsLoggedOnce: an unroutable peer, a peer behind a
// gateway and a pod CIDR someone else routes are each logged at Warn once,
// not at every resync; Healthz fails before the first sync only.
func TestSyncVerdictsLoggedOnce(t *testing.T) {
	var logs bytes.Buffer
	client := fake.NewClientset(
		node("self", "10.0.0.1", "10.42.0.0/24"),
		node("me-too", "10.0.0.1", "10.42.4.0/24"), // this host's own address
		node("routed", "192.168.5.5", "10.42.2.0/24"),
		node("taken", "10.0.0.7", "10.42.7.0/24"),
	)
	k := &fakeKernel{routes: map[netip.Prefix]Route{}}
	pn, err := New(Config{Client: client, NodeName: "self", ClusterCIDR: p("10.42.0.0/16"), Kernel: k,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if pn.Healthz(ctx) == nil {
		t.Error("healthy before the first sync")
	}
	stop, err := informerrun.Start(ctx, pn.informers)
	defer stop()
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if err := pn.sync(ctx); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			for _, want := range []string{"peer=me-too", "peer=routed gateway=10.0.0.254", "podCIDR=10.42.7.0/24"} {
				if n := strings.Count(logs.String(), want); n != 1 {
					t.Errorf("%q logged %d times, want once:\n%s", want, n, logs.String())
				}
			}
			logs.Reset()
		} else if logs.Len() != 0 {
			t.Errorf("resync %d logged again:\n%s", i, logs.String())
		}
	}
	if err := pn.Healthz(ctx); err != nil {
		t.Errorf("unhealthy after syncs: %v", err)
	}
}
