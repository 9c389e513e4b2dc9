package proxy_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/hostexec"
	"github.com/skiff-sh/skiff/internal/proxy"
	"github.com/skiff-sh/skiff/internal/proxy/conntrack"
	"github.com/skiff-sh/skiff/internal/proxy/iptables"
	"github.com/skiff-sh/skiff/internal/proxy/nftables"
	"github.com/skiff-sh/skiff/internal/testnetns"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// TestProxy runs the proxy against the real API server, with each
// backend's rules in a network namespace that holds two "pods" (addresses
// on lo served by busybox httpd).
func TestProxy(t *testing.T) { eachBackend(t, testProxy) }

// eachBackend runs test as a subtest per backend whose command is
// installed, named after that command.
func eachBackend(t *testing.T, test func(*testing.T, func(hostexec.Runner) proxy.Backend)) {
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
			test(t, tc.backend)
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
	p, _ := startProxy(t, proxy.Config{Client: client, Backend: backend(ns.Run), Conntrack: conntrack.Netlink{NSPath: ns.Path()}})
	ctx := context.Background()

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

// startProxy runs a proxy of node-a with a MinSyncPeriod of 100 ms
// until the test ends or stop is called.
func startProxy(t *testing.T, cfg proxy.Config) (p *proxy.Proxy, stop func()) {
	t.Helper()
	cfg.NodeName = "node-a"
	cfg.MinSyncPeriod = 100 * time.Millisecond
	p, err := proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(stop)
	return p, stop
}

// TestProxyUDPConntrack: a client that keeps sending datagrams to a UDP
// Service from one source port follows the Service when its endpoint is
// replaced, because the proxy deletes the conntrack entry that pinned
// the flow to the old one (which still answers).
func TestProxyUDPConntrack(t *testing.T) { eachBackend(t, testUDPConntrack) }

func testUDPConntrack(t *testing.T, backend func(hostexec.Runner) proxy.Backend) {
	ns := testnetns.New(t)
	ns.MustRun(t, "ip addr add 10.42.0.5/32 dev lo", "ip addr add 10.42.0.6/32 dev lo")
	ns.ServeUDP(t, "10.42.0.5:5353", "A")
	ns.ServeUDP(t, "10.42.0.6:5353", "B")
	srv := testserver.Start(t, testserver.Options{})
	client := srv.Client(t)
	startProxy(t, proxy.Config{Client: client, Backend: backend(ns.Run), Conntrack: conntrack.Netlink{NSPath: ns.Path()}})
	ctx := context.Background()

	svc, err := client.CoreV1().Services("default").Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "dns"},
		Spec: v1.ServiceSpec{Selector: map[string]string{"app": "dns"},
			Ports: []v1.ServicePort{{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP, TargetPort: intstr.FromInt32(5353)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	slice := udpSlice("dns", "10.42.0.5")
	if slice, err = client.DiscoveryV1().EndpointSlices("default").Create(ctx, slice, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// One client socket: every datagram has the same source port, so
	// they all belong to one conntrack entry while it lives.
	c := ns.ListenUDP(t, "192.0.2.50:40053")
	dst := net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(svc.Spec.ClusterIP), 53))
	ask := func() (string, error) {
		c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.WriteToUDP([]byte("?"), dst); err != nil {
			return "", err
		}
		buf := make([]byte, 16)
		n, _, err := c.ReadFromUDP(buf)
		return string(buf[:n]), err
	}
	eventually(t, func() (bool, string) {
		got, err := ask()
		return got == "A", fmt.Sprintf("before the change: %q %v", got, err)
	})

	// A is replaced by B; A still answers, so only the conntrack entry
	// could keep the flow there. The client keeps sending (every 100 ms
	// at most, far within UDP's 30 s conntrack timeout).
	slice.Endpoints = udpSlice("dns", "10.42.0.6").Endpoints
	if _, err := client.DiscoveryV1().EndpointSlices("default").Update(ctx, slice, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() (bool, string) {
		got, err := ask()
		return got == "B", fmt.Sprintf("after the change: %q %v", got, err)
	})
	for range 5 {
		if got, err := ask(); got != "B" {
			t.Fatalf("the flow went back: %q %v", got, err)
		}
	}
}

func udpSlice(svc string, ips ...string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: svc + "-abc", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("dns"), Port: ptr.To[int32](5353), Protocol: ptr.To(v1.ProtocolUDP)}},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}, NodeName: ptr.To("node-a")})
	}
	return s
}

// TestProxyAffinityKept: under sessionAffinity ClientIP a client stays
// with its endpoint across full syncs and a restart of the proxy: the
// kernel's record of it (the nftables affinity set, the iptables recent
// list) keeps its contents.
func TestProxyAffinityKept(t *testing.T) { eachBackend(t, testAffinityKept) }

func testAffinityKept(t *testing.T, backend func(hostexec.Runner) proxy.Backend) {
	ns := testnetns.New(t)
	var eps []discoveryv1.Endpoint
	for i := 5; i <= 8; i++ {
		ip := fmt.Sprintf("10.42.0.%d", i)
		ns.MustRun(t, "ip addr add "+ip+"/32 dev lo")
		ns.Serve(t, ip+":8080", ip)
		eps = append(eps, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	srv := testserver.Start(t, testserver.Options{})
	client := srv.Client(t)
	cfg := func() proxy.Config {
		return proxy.Config{Client: client, Conntrack: conntrack.Netlink{NSPath: ns.Path()},
			Backend: backend(ns.Run), SyncPeriod: 2 * time.Second}
	}
	p, stop := startProxy(t, cfg())
	ctx := context.Background()
	svc, err := client.CoreV1().Services("default").Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "sticky"},
		Spec: v1.ServiceSpec{Selector: map[string]string{"app": "sticky"}, SessionAffinity: v1.ServiceAffinityClientIP,
			Ports: []v1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromInt32(8080)}}},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.DiscoveryV1().EndpointSlices("default").Create(ctx, &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "sticky-abc", Labels: map[string]string{discoveryv1.LabelServiceName: "sticky"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(v1.ProtocolTCP)}},
		Endpoints:   eps,
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	url := "http://" + svc.Spec.ClusterIP + "/"
	var chosen string
	eventually(t, func() (bool, string) {
		body, err := ns.Get(url)
		chosen = body
		return strings.HasPrefix(body, "10.42.0."), fmt.Sprintf("%q %v", body, err)
	})
	// The chosen endpoint's record holds the client.
	recorded := func() bool {
		if backend(ns.Run).Name() == "nftables" {
			out, err := ns.Run(ctx, nil, "nft", "list", "table", "ip", "kube-proxy")
			if err != nil {
				t.Fatal(err)
			}
			for _, set := range strings.Split(string(out), "\tset ")[1:] {
				if strings.Contains(set, "__"+chosen+"/8080 {") && strings.Contains(set, "192.0.2.50") {
					return true
				}
			}
			return false
		}
		// iptables: the endpoint's KUBE-SEP chain names its recent list.
		out, err := ns.Run(ctx, nil, "iptables-save", "-t", "nat")
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			if f := strings.Fields(l); len(f) > 1 && f[0] == "-A" && strings.HasSuffix(l, "--to-destination "+chosen+":8080") {
				list, err := ns.Run(ctx, nil, "cat", "/proc/net/xt_recent/"+f[1])
				return err == nil && strings.Contains(string(list), "src=192.0.2.50 ")
			}
		}
		return false
	}
	if !recorded() {
		t.Fatalf("the client is not in %s's affinity set", chosen)
	}
	same := func(when string) {
		t.Helper()
		if !recorded() {
			t.Fatalf("%s: the client is no longer in %s's affinity set", when, chosen)
		}
		for range 3 {
			if body, err := ns.Get(url); body != chosen {
				t.Fatalf("%s: reached %q (%v), want %s", when, body, err, chosen)
			}
		}
	}
	same("before a full sync")
	full := p.FullSyncs()
	eventually(t, func() (bool, string) { return p.FullSyncs() >= full+2, "waiting for two full syncs" })
	same("after two full syncs")

	stop()
	p, _ = startProxy(t, cfg())
	eventually(t, func() (bool, string) { return p.FullSyncs() >= 1, "waiting for the restarted proxy's first sync" })
	same("after a restart")
}

func eventually(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
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
