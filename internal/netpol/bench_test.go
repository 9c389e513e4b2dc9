package netpol

import (
	"context"
	"fmt"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/testnetns"
)

// BenchmarkComputeRender is one sync's pure work for 100 policies and
// 1000 pods in 10 namespaces, 100 of them on this node: every pod is
// selected by an ingress policy allowing its app's frontends on a port,
// and every fifth namespace also restricts egress to its own namespace.
func BenchmarkComputeRender(b *testing.B) {
	policies, pods, namespaces, node := scale()
	var size int
	b.ResetTimer()
	for range b.N {
		size = len(Render(Compute(policies, pods, namespaces, node)))
	}
	b.ReportMetric(float64(size), "bytes")
}

// BenchmarkApply is nft -f of BenchmarkComputeRender's ruleset in a
// network namespace: the kernel's share of a sync.
func BenchmarkApply(b *testing.B) {
	ns := testnetns.New(b)
	script := []byte(Render(Compute(scale())))
	b.ResetTimer()
	for range b.N {
		if _, err := ns.Run(context.Background(), script, "nft", "-f", "-"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestRenderLoads checks that nft takes a large ruleset (overlapping
// ipBlocks included) in a network namespace.
func TestRenderLoads(t *testing.T) {
	ns := testnetns.New(t)
	policies, pods, namespaces, node := scale()
	policies = append(policies, policy("ns0", "blocks", nil, ingressOnly, []networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{
		{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}, {IPBlock: &networkingv1.IPBlock{CIDR: "10.42.0.0/16"}},
		{IPBlock: &networkingv1.IPBlock{CIDR: "172.16.0.0/12", Except: []string{"172.17.0.0/16", "172.18.0.0/16"}}}, podSel(nil)}}}, nil))
	script := Render(Compute(policies, pods, namespaces, node))
	for range 2 {
		if _, err := ns.Run(context.Background(), []byte(script), "nft", "-f", "-"); err != nil {
			t.Fatal(err)
		}
	}
	if err := Cleanup(context.Background(), ns.Run); err != nil {
		t.Fatal(err)
	}
}

// scale is 100 policies and 1000 pods in 10 namespaces, 100 of them on
// node n1 (see BenchmarkComputeRender).
func scale() ([]*networkingv1.NetworkPolicy, []*corev1.Pod, []*corev1.Namespace, string) {
	var pods []*corev1.Pod
	var namespaces []*corev1.Namespace
	for i := range 10 {
		namespaces = append(namespaces, namespace(fmt.Sprintf("ns%d", i), map[string]string{"team": fmt.Sprint(i % 3)}))
	}
	for i := range 1000 {
		node := "other"
		if i%10 == 0 {
			node = "n1"
		}
		pods = append(pods, pod(fmt.Sprintf("ns%d", i%10), fmt.Sprintf("p%d", i), node, fmt.Sprintf("10.42.%d.%d", i/250, i%250+2),
			map[string]string{"app": fmt.Sprintf("app%d", i%10), "role": []string{"frontend", "backend"}[i%2]}))
	}
	var policies []*networkingv1.NetworkPolicy
	for i := range 100 {
		ns := fmt.Sprintf("ns%d", i%10)
		in := []networkingv1.NetworkPolicyIngressRule{{
			From:  []networkingv1.NetworkPolicyPeer{podSel(map[string]string{"role": "frontend"}), {NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "1"}}}},
			Ports: []networkingv1.NetworkPolicyPort{tcp(int32(8000 + i))},
		}}
		types := ingressOnly
		var out []networkingv1.NetworkPolicyEgressRule
		if i%5 == 0 {
			types = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress}
			out = []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{podSel(nil)}}}
		}
		policies = append(policies, policy(ns, fmt.Sprintf("p%d", i), map[string]string{"app": fmt.Sprintf("app%d", i%10)}, types, in, out))
	}
	return policies, pods, namespaces, "n1"
}
