package dns_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/dns"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// upstream is a resolver on loopback that answers every A question with
// 192.0.2.1 (TTL 60) and counts the questions.
func upstream(t testing.TB) (addr string, asked *int) {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	srv := &mdns.Server{PacketConn: pc, Handler: mdns.HandlerFunc(func(w mdns.ResponseWriter, r *mdns.Msg) {
		n++
		m := new(mdns.Msg)
		m.SetReply(r)
		m.Answer = []mdns.RR{&mdns.A{Hdr: mdns.RR_Header{Name: r.Question[0].Name, Rrtype: mdns.TypeA, Class: mdns.ClassINET, Ttl: 60}, A: net.IPv4(192, 0, 2, 1)}}
		_ = w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return pc.LocalAddr().String(), &n
}

func query(t testing.TB, server, name string, qtype uint16) *mdns.Msg {
	t.Helper()
	m := new(mdns.Msg)
	m.SetQuestion(name, qtype)
	r, _, err := (&mdns.Client{Timeout: 2 * time.Second}).Exchange(m, server)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return r
}

func TestServer(t *testing.T) {
	srv := testserver.Start(t, testserver.Options{})
	client := srv.Client(t)
	up, asked := upstream(t)
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(t)))
	s, err := dns.New(dns.Config{
		Client: client, Listen: listen, Upstreams: []string{up},
		ServiceIP: netip.MustParseAddr("10.43.0.10"), AdvertiseIP: netip.MustParseAddr("192.0.2.2"),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	eventually(t, s.Ready)

	// kube-dns exists, at its fixed address, with this server behind it.
	svc, err := client.CoreV1().Services("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil || svc.Spec.ClusterIP != "10.43.0.10" || svc.Labels["kubernetes.io/cluster-service"] != "true" {
		t.Fatalf("kube-dns: %v %+v", err, svc)
	}
	_, port, _ := net.SplitHostPort(listen)
	slice, err := client.DiscoveryV1().EndpointSlices("kube-system").Get(ctx, "kube-dns", metav1.GetOptions{})
	if err != nil || slice.Endpoints[0].Addresses[0] != "192.0.2.2" || fmt.Sprint(*slice.Ports[0].Port) != port {
		t.Fatalf("kube-dns endpoints: %v %+v", err, slice)
	}

	// A Service appears in DNS once created.
	if _, err := client.CoreV1().Services("default").Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       v1.ServiceSpec{Ports: []v1.ServicePort{{Name: "http", Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	web, _ := client.CoreV1().Services("default").Get(ctx, "web", metav1.GetOptions{})
	eventually(t, func() bool {
		r := query(t, listen, "web.default.svc.cluster.local.", mdns.TypeA)
		return len(r.Answer) == 1 && r.Answer[0].(*mdns.A).A.String() == web.Spec.ClusterIP && r.Authoritative
	})
	if r := query(t, listen, "kube-dns.kube-system.svc.cluster.local.", mdns.TypeA); len(r.Answer) != 1 {
		t.Errorf("kube-dns itself: %v", r)
	}
	if r := query(t, listen, "missing.default.svc.cluster.local.", mdns.TypeA); r.Rcode != mdns.RcodeNameError {
		t.Errorf("a missing service: %v", r)
	}

	// Other names go upstream once, then come from the cache.
	for range 3 {
		r := query(t, listen, "example.com.", mdns.TypeA)
		if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != "192.0.2.1" {
			t.Fatalf("forwarded: %v", r)
		}
	}
	if *asked != 1 {
		t.Errorf("upstream asked %d times, want once (then the cache)", *asked)
	}
	if fwd, cached := s.Stats(); fwd != 1 || cached != 2 {
		t.Errorf("forwarded %d, cached %d", fwd, cached)
	}
}

func eventually(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 30s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
