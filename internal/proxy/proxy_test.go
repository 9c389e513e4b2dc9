package proxy_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/hostexec"
	"github.com/skiff-sh/skiff/internal/proxy"
	"github.com/skiff-sh/skiff/internal/proxy/iptables"
	"github.com/skiff-sh/skiff/internal/proxy/nftables"
	"github.com/skiff-sh/skiff/internal/testnetns"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestProxy runs the proxy against the real API server, with each
// backend's rules in a network namespace that holds two "pods" (addresses
// on lo served by busybox httpd).
func TestProxy(t *testing.T) {
	cidr := netip.MustParsePrefix("10.42.0.0/16")
	for _, tc := range []struct {
		bin     string
		backend func(hostexec.Runner) proxy.Backend
	}{
		{"nft", func(r hostexec.Runner) proxy.Backend {
			return nftables.NewBackend(nftables.Options{ClusterCIDR: cidr}, r)
		}},
		{"iptables-restore", func(r hostexec.Runner) proxy.Backend {
			return iptables.NewBackend(iptables.Options{ClusterCIDR: cidr}, r)
		}},
	} {
		t.Run(tc.bin, func(t *testing.T) {
			if _, err := exec.LookPath(tc.bin); err != nil {
				t.Skipf("%s is not installed", tc.bin)
			}
			testProxy(t, tc.backend)
		})
	}
}

func testProxy(t *testing.T, backend func(hostexec.Runner) proxy.Backend) {
	ns := testnetns.New(t)
	ns.MustRun(t, "ip addr add 10.42.0.5/32 dev lo", "ip addr add 10.42.0.6/32 dev lo")
	ns.Serve(t, "10.42.0.5:8080", "five")
	ns.Serve(t, "10.42.0.6:8080", "six")

	srv := testserver.Start(t, testserver.Options{})
	client := srv.Client(t)
	p, err := proxy.New(proxy.Config{
		Client: client, NodeName: "node-a",
		Backend:       backend(ns.Run),
		MinSyncPeriod: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})

	svc, err := client.CoreV1().Services("default").Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeNodePort, Selector: map[string]string{"app": "web"},
			Ports: []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	clusterURL := "http://" + svc.Spec.ClusterIP + "/"
	nodePortURL := fmt.Sprintf("http://192.0.2.50:%d/", svc.Spec.Ports[0].NodePort)

	// No endpoints yet: refused at once.
	eventually(t, func() (bool, string) {
		_, err := ns.Get(clusterURL)
		return err != nil && strings.Contains(err.Error(), "refused"), fmt.Sprintf("before endpoints: %v", err)
	})

	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(v1.ProtocolTCP)}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"10.42.0.5"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}, NodeName: ptr.To("node-a")}},
	}
	if slice, err = client.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, url := range []string{clusterURL, nodePortURL} {
		eventually(t, func() (bool, string) {
			body, err := ns.Get(url)
			return body == "five", fmt.Sprintf("%s: %q %v", url, body, err)
		})
	}

	// The endpoint becomes not ready and another one ready: traffic moves.
	slice.Endpoints = []discoveryv1.Endpoint{
		{Addresses: []string{"10.42.0.5"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}},
		{Addresses: []string{"10.42.0.6"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
	}
	if _, err = client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() (bool, string) {
		for range 5 {
			if body, err := ns.Get(clusterURL); body != "six" {
				return false, fmt.Sprintf("after the move: %q %v", body, err)
			}
		}
		return true, ""
	})

	// The Service goes: so do its rules.
	if err := client.CoreV1().Services("default").Delete(ctx, "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() (bool, string) {
		ipt, _ := ns.Run(ctx, nil, "iptables-save")
		nft, _ := ns.Run(ctx, nil, "nft", "list", "ruleset")
		rules := string(ipt) + string(nft)
		return !strings.Contains(rules, "default/web"), "rules of a deleted service remain:\n" + rules
	})
	if !p.Ready() || p.Syncs() < 3 {
		t.Errorf("ready %v after %d syncs", p.Ready(), p.Syncs())
	}
}

func eventually(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
