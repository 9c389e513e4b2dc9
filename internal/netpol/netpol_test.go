package netpol

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// TestController runs the component on a fake client with a runner that
// records the scripts: the first sync writes the table with the local
// pod isolated, a new policy rewrites it, and Cleanup deletes it.
func TestController(t *testing.T) {
	if _, err := New(Config{NodeName: "n1"}); err == nil {
		t.Error("New without a Client: no error")
	}
	if _, err := New(Config{Client: fake.NewClientset()}); err == nil {
		t.Error("New without a NodeName: no error")
	}

	var mu sync.Mutex
	var scripts []string
	run := func(_ context.Context, stdin []byte, name string, args ...string) ([]byte, error) {
		mu.Lock()
		defer mu.Unlock()
		if name != "nft" || strings.Join(args, " ") != "-f -" {
			t.Errorf("ran %s %v, want nft -f -", name, args)
		}
		scripts = append(scripts, string(stdin))
		return nil, nil
	}
	last := func() string {
		mu.Lock()
		defer mu.Unlock()
		if len(scripts) == 0 {
			return ""
		}
		return scripts[len(scripts)-1]
	}
	wait := func(what string, ok func(string) bool) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
			if ok(last()) {
				return
			}
		}
		t.Fatalf("no script %s; last:\n%s", what, last())
	}

	client := fake.NewClientset(namespace("a", nil), pod("a", "web", "n1", "10.42.0.2", nil), pod("a", "far", "n2", "10.42.1.2", nil),
		policy("a", "deny", nil, ingressOnly, nil, nil))
	c, err := New(Config{Client: client, NodeName: "n1", Run: run, MinSyncPeriod: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() { cancel(); <-done }()

	wait("isolating the local pod", func(s string) bool {
		return strings.Contains(s, "10.42.0.2 : jump ingress_10_42_0_2") && !strings.Contains(s, "10.42.1.2 :")
	})
	if !c.Ready() || c.Syncs() < 1 {
		t.Errorf("Ready %v, Syncs %d after a sync", c.Ready(), c.Syncs())
	}
	if _, err := client.NetworkingV1().NetworkPolicies("a").Create(ctx, policy("a", "out", nil, egressOnly, nil, nil), metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wait("with egress isolation", func(s string) bool { return strings.Contains(s, "10.42.0.2 : jump egress_10_42_0_2") })

	if err := Cleanup(ctx, run); err != nil {
		t.Fatal(err)
	}
	if got := last(); got != CleanupScript() || !strings.Contains(got, "delete table ip skiff-netpol") {
		t.Errorf("Cleanup wrote %q", got)
	}
}
