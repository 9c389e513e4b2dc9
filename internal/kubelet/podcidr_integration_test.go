package kubelet

import (
	"context"
	"net/netip"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/kubelet/simruntime"
)

// A kubelet without a pod CIDR of its own (a node joining with `skiff
// agent`) registers the node without one, reports the network not ready,
// and passes the CIDR the node IPAM controller writes into spec.podCIDR
// to the runtime: pods then get IPs from it.
func TestKubeletWaitsForAssignedPodCIDR(t *testing.T) {
	if testing.Short() {
		t.Skip("integration test: starts a control plane")
	}
	c := newCluster(t)
	ctx := context.Background()
	rt, err := simruntime.New(simruntime.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c.startNode(t, "joiner", rt, func(cfg *Config) { cfg.PodCIDR = "" })
	waitFor(t, 30*time.Second, "node registered, network not ready", func() (bool, error) {
		n, err := c.client.CoreV1().Nodes().Get(ctx, "joiner", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if n.Spec.PodCIDR != "" {
			t.Fatalf("node registered with podCIDR %q", n.Spec.PodCIDR)
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == v1.NodeReady && cond.Status == v1.ConditionFalse {
				return true, nil
			}
		}
		return false, nil
	})

	const assigned = "10.42.9.0/24"
	patch := []byte(`{"spec":{"podCIDR":"` + assigned + `","podCIDRs":["` + assigned + `"]}}`)
	if _, err := c.client.CoreV1().Nodes().Patch(ctx, "joiner", types.MergePatchType, patch, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	c.bindPod(t, simplePod("first"), "joiner")
	p := c.waitPod(t, "default", "first", "Running", 60*time.Second, func(p *v1.Pod) bool {
		return p.Status.Phase == v1.PodRunning && p.Status.PodIP != ""
	})
	if ip, err := netip.ParseAddr(p.Status.PodIP); err != nil || !netip.MustParsePrefix(assigned).Contains(ip) {
		t.Errorf("pod IP %q is not in the assigned pod CIDR %s", p.Status.PodIP, assigned)
	}
}
