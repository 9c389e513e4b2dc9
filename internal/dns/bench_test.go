package dns_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/dns"
	"github.com/skiff-sh/skiff/internal/testserver"
)

// BenchmarkQueries measures queries per second over UDP: a forwarded
// name answered from the cache, and a Service name from the cluster zone,
// with 8 concurrent clients (pods of a node asking at once).
//
//	go test ./internal/dns -run '^$' -bench Queries -benchtime 3s
func BenchmarkQueries(b *testing.B) {
	srv := testserver.Start(b, testserver.Options{})
	client := srv.Client(b)
	up, _ := upstream(b)
	listen := net.JoinHostPort("127.0.0.1", strconv.Itoa(testserver.FreePort(b)))
	s, err := dns.New(dns.Config{Client: client, Listen: listen, Upstreams: []string{up},
		ServiceIP: netip.MustParseAddr("10.43.0.10"), AdvertiseIP: netip.MustParseAddr("192.0.2.2")})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	if _, err := client.CoreV1().Services("default").Create(ctx, &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec:       v1.ServiceSpec{Ports: []v1.ServicePort{{Port: 80}}},
	}, metav1.CreateOptions{}); err != nil {
		b.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if r := query(b, listen, "web.default.svc.cluster.local.", mdns.TypeA); len(r.Answer) == 1 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the service never appeared in DNS")
		}
		time.Sleep(50 * time.Millisecond)
	}
	query(b, listen, "example.com.", mdns.TypeA) // fills the cache
	for _, name := range []string{"example.com.", "web.default.svc.cluster.local."} {
		b.Run(map[string]string{"example.com.": "cached", "web.default.svc.cluster.local.": "cluster"}[name], func(b *testing.B) {
			var failed atomic.Int64
			b.SetParallelism(4) // 4 x GOMAXPROCS clients
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				c, err := mdns.Dial("udp", listen)
				if err != nil {
					failed.Add(1)
					return
				}
				defer c.Close()
				m := new(mdns.Msg)
				m.SetQuestion(name, mdns.TypeA)
				for pb.Next() {
					if err := c.WriteMsg(m); err != nil {
						failed.Add(1)
						continue
					}
					if r, err := c.ReadMsg(); err != nil || len(r.Answer) != 1 {
						failed.Add(1)
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "queries/s")
			if n := failed.Load(); n > 0 {
				b.Errorf("%d queries failed", n)
			}
		})
	}
}
