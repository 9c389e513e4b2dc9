package manager_test

import (
	"context"
	"fmt"
	"net/netip"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/manager"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// Nodes registered without a pod CIDR get distinct /24s of the cluster
// CIDR, never the one a node registered with; when the range is full a
// node waits (event CIDRNotAvailable) until a deleted node's CIDR is
// free again.
func TestNodeIPAMAssignsAndReusesPodCIDRs(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts a control plane")
	}
	srv := testserver.Start(t, testserver.Options{})
	client := srv.Client(t)
	ctx := context.Background()
	c := &cluster{t: t, srv: srv, client: client}
	createNode := func(name, podCIDR string) {
		t.Helper()
		n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if podCIDR != "" {
			n.Spec.PodCIDR, n.Spec.PodCIDRs = podCIDR, []string{podCIDR}
		}
		if _, err := client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	podCIDROf := func(name string) (string, error) {
		n, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return "", err
		}
		if len(n.Spec.PodCIDRs) != 1 || n.Spec.PodCIDRs[0] != n.Spec.PodCIDR {
			return "", fmt.Errorf("podCIDR %q podCIDRs %v", n.Spec.PodCIDR, n.Spec.PodCIDRs)
		}
		return n.Spec.PodCIDR, nil
	}

	// Registered before the controller starts, with the first /24 (as
	// `skiff up`'s node).
	createNode("registered", "10.42.0.0/24")
	m, err := manager.New(manager.Config{RESTConfig: srv.Config, Controllers: []string{"nodeipam"},
		NodeIPAM: controller.NodeIPAM{AllocateNodeCIDRs: true, ClusterCIDRs: prefixes("10.42.0.0/22")}})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- m.Run(runCtx) }()
	t.Cleanup(func() { cancel(); <-done })

	for _, n := range []string{"a", "b", "c"} {
		createNode(n, "")
	}
	got := map[string]string{}
	c.eventually(60*time.Second, "a, b and c have pod CIDRs", func() (bool, string) {
		for _, n := range []string{"a", "b", "c"} {
			cidr, err := podCIDROf(n)
			if err != nil {
				return false, n + ": " + err.Error()
			}
			got[n] = cidr
		}
		return true, ""
	})
	seen := map[string]string{"10.42.0.0/24": "registered"}
	for n, cidr := range got {
		if other, ok := seen[cidr]; ok {
			t.Fatalf("nodes %s and %s both have %s", n, other, cidr)
		}
		seen[cidr] = n
	}
	if cidr, _ := podCIDROf("registered"); cidr != "10.42.0.0/24" {
		t.Errorf("registered node's podCIDR %q changed", cidr)
	}

	// The /22 has four /24s: the fifth node waits.
	createNode("d", "")
	c.eventually(60*time.Second, "event CIDRNotAvailable for d", func() (bool, string) {
		evs, err := client.CoreV1().Events("default").List(ctx, metav1.ListOptions{})
		if err != nil {
			return false, err.Error()
		}
		for _, e := range evs.Items {
			if e.InvolvedObject.Name == "d" && e.Reason == "CIDRNotAvailable" && e.Type == v1.EventTypeWarning &&
				e.Message == "Node d status is now: CIDRNotAvailable" && e.Source.Component == "cidrAllocator" {
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d events", len(evs.Items))
	})
	if cidr, err := podCIDROf("d"); err == nil {
		t.Fatalf("d got %s from a full range", cidr)
	}

	if err := client.CoreV1().Nodes().Delete(ctx, "b", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	c.eventually(60*time.Second, "d gets b's pod CIDR", func() (bool, string) {
		cidr, err := podCIDROf("d")
		if err != nil {
			return false, err.Error()
		}
		return cidr == got["b"], "d has " + cidr + ", b had " + got["b"]
	})
}

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}
