package netpol

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/skiff-sh/skiff/internal/testnetns"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// testPod is a "pod": a network namespace on the node's bridge, serving
// HTTP on ports 80 and 8080, and its Pod object.
type testPod struct {
	ns        *testnetns.NS
	namespace string
	name      string
	ip        string
	labels    map[string]string
}

// TestEnforcement runs the component against a real API server, writing
// into a "node" network namespace whose bridge connects three "pod"
// namespaces, and checks who reaches whom as policies come and go.
func TestEnforcement(t *testing.T) {
	node := testnetns.New(t)
	node.MustRun(t,
		"ip link add br0 type bridge",
		"ip addr add 10.99.0.1/24 dev br0",
		"ip link set br0 up",
		// Bridged pod-to-pod traffic takes the forward hook, as on a
		// node where kube-proxy set this.
		"sysctl -w net.bridge.bridge-nf-call-iptables=1",
	)
	pods := []*testPod{
		{namespace: "np-a", name: "a", ip: "10.99.0.2", labels: map[string]string{"role": "frontend"}},
		{namespace: "np-a", name: "b", ip: "10.99.0.3", labels: map[string]string{"app": "web"}},
		{namespace: "np-b", name: "c", ip: "10.99.0.4", labels: map[string]string{"role": "frontend"}},
	}
	for i, p := range pods {
		p.ns = testnetns.New(t)
		host := fmt.Sprintf("hp%d", i)
		p.ns.MustRun(t,
			"ip link add eth1 type veth peer name "+host,
			"ip link set "+host+" netns "+node.Name,
			"ip addr add "+p.ip+"/24 dev eth1",
			"ip link set eth1 up",
		)
		node.MustRun(t, "ip link set "+host+" master br0", "ip link set "+host+" up")
		p.ns.Serve(t, "0.0.0.0:80", p.name+":80")
		p.ns.Serve(t, "0.0.0.0:8080", p.name+":8080")
	}

	s := testserver.Start(t, testserver.Options{})
	c := s.Client(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for ns, lbls := range map[string]map[string]string{"np-a": {"team": "web"}, "np-b": {"team": "other"}} {
		if _, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: lbls}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range pods {
		createPod(t, c, p)
	}

	ctl, err := New(Config{Client: c, NodeName: "node1", Run: node.Run, MinSyncPeriod: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- ctl.Run(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	defer func() {
		if ctx.Err() == nil {
			stop()
		}
	}()

	a, b, cc := pods[0], pods[1], pods[2]
	// expect polls until from reaches to:port (want) or is refused
	// (!want): the component applies changes asynchronously.
	expect := func(from, to *testPod, port int, want bool) {
		t.Helper()
		url := fmt.Sprintf("http://%s:%d/", to.ip, port)
		var got string
		var err error
		deadline := time.Now().Add(90 * time.Second)
		for time.Now().Before(deadline) {
			got, err = from.ns.Get(url)
			if reached := err == nil && got == fmt.Sprintf("%s:%d", to.name, port); reached == want {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
		t.Fatalf("%s -> %s: got %q, %v; want reached=%v\n%s", from.name, url, got, err, want, ruleset(node))
	}
	nodeReaches := func(to *testPod) {
		t.Helper()
		if got, err := node.Get(fmt.Sprintf("http://%s/", to.ip)); err != nil || got != to.name+":80" {
			t.Errorf("node -> %s: %q, %v", to.name, got, err)
		}
	}
	np := c.NetworkingV1().NetworkPolicies("np-a")
	create := func(p *networkingv1.NetworkPolicy) {
		t.Helper()
		if _, err := c.NetworkingV1().NetworkPolicies(p.Namespace).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}

	// No policy: everything reaches everything.
	expect(a, b, 80, true)
	expect(cc, b, 8080, true)

	// Deny all ingress in np-a; the node still reaches its pods.
	create(policy("np-a", "deny", nil, ingressOnly, nil, nil))
	expect(a, b, 80, false)
	expect(cc, a, 80, false)
	nodeReaches(b)
	// Replies of b's own connections come back.
	expect(b, cc, 80, true)

	// Frontends of np-a may reach web on port 80, and only that.
	create(policy("np-a", "web-from-frontend", map[string]string{"app": "web"}, ingressOnly,
		[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{podSel(map[string]string{"role": "frontend"})}, Ports: []networkingv1.NetworkPolicyPort{tcp(80)}}}, nil))
	expect(a, b, 80, true)
	expect(a, b, 8080, false)
	expect(cc, b, 80, false)

	// np-b's pods too, through a namespace selector.
	create(policy("np-a", "web-from-other", map[string]string{"app": "web"}, ingressOnly,
		[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "other"}}}}, Ports: []networkingv1.NetworkPolicyPort{tcp(80)}}}, nil))
	expect(cc, b, 80, true)

	// a may send only to web pods of its namespace on port 80.
	create(policy("np-a", "frontend-egress", map[string]string{"role": "frontend"}, egressOnly, nil,
		[]networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{podSel(map[string]string{"app": "web"})}, Ports: []networkingv1.NetworkPolicyPort{tcp(80)}}}))
	expect(a, cc, 80, false)
	expect(a, b, 80, true)

	// Removing the policies restores traffic.
	if err := np.DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
		t.Fatal(err)
	}
	expect(a, cc, 80, true)
	expect(a, b, 8080, true)
	expect(cc, a, 80, true)

	stop()
	if out := ruleset(node); !strings.Contains(out, "table ip "+Table) {
		t.Errorf("table gone when the component stopped:\n%s", out)
	}
	bg := context.Background()
	if err := Cleanup(bg, node.Run); err != nil {
		t.Fatal(err)
	}
	if err := Cleanup(bg, node.Run); err != nil {
		t.Errorf("second Cleanup: %v", err)
	}
	if out, err := node.Run(context.Background(), nil, "nft", "list", "table", "ip", Table); err == nil {
		t.Errorf("table left after Cleanup:\n%s", out)
	}
}

func createPod(t *testing.T, c kubernetes.Interface, p *testPod) {
	t.Helper()
	ctx := context.Background()
	obj := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: p.namespace, Name: p.name, Labels: p.labels},
		Spec:       corev1.PodSpec{NodeName: "node1", Containers: []corev1.Container{{Name: "c", Image: "busybox"}}},
	}
	created, err := c.CoreV1().Pods(p.namespace).Create(ctx, obj, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.PodRunning
	created.Status.PodIP = p.ip
	created.Status.PodIPs = []corev1.PodIP{{IP: p.ip}}
	if _, err := c.CoreV1().Pods(p.namespace).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func ruleset(ns *testnetns.NS) string {
	out, err := ns.Run(context.Background(), nil, "nft", "list", "table", "ip", Table)
	if err != nil {
		return err.Error()
	}
	return strings.TrimSpace(string(out))
}
