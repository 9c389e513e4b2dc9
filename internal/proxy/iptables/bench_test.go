package iptables

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"

	"github.com/skiff-sh/skiff/internal/proxy/model"
	"github.com/skiff-sh/skiff/internal/testnetns"
)

// bigSnapshot is n services of one port each with eps ready endpoints.
func bigSnapshot(n, eps int) *model.Snapshot {
	s := &model.Snapshot{}
	for i := range n {
		sp := &model.ServicePort{
			Name:      model.ServicePortName{Namespace: "bench", Name: fmt.Sprintf("svc-%04d", i), Port: "http", Protocol: "TCP"},
			ClusterIP: netip.AddrFrom4([4]byte{10, 43, byte(i >> 8), byte(i)}), Port: 80, NodePort: int32(30000 + i%2000),
		}
		for j := range eps {
			k := i*eps + j
			sp.Endpoints = append(sp.Endpoints, model.Endpoint{IP: netip.AddrFrom4([4]byte{10, 42, byte(k >> 8), byte(k)}), Port: 8080, Ready: true, Serving: true})
		}
		s.Ports = append(s.Ports, sp)
	}
	return s
}

var benchOpts = Options{ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16")}

// BenchmarkRender is the pure part of a sync: 1000 services with 10
// endpoints each to rules.
func BenchmarkRender(b *testing.B) {
	snap := bigSnapshot(1000, 10)
	for b.Loop() {
		PlanRestore(Render(snap, benchOpts), nil, nil)
	}
}

// BenchmarkSync applies 1000 services with 10 endpoints each to a real
// kernel (in a network namespace): a full sync, and a sync after one
// endpoint of one service changed.
//
//	go test ./internal/proxy/iptables -run '^$' -bench Sync -benchtime 5x
func BenchmarkSync(b *testing.B) {
	ns := testnetns.New(b)
	if _, err := exec.LookPath("iptables-restore"); err != nil {
		b.Skip("iptables is not installed")
	}
	ctx := context.Background()
	snap := bigSnapshot(1000, 10)
	be := NewBackend(benchOpts, ns.Run)
	b.Run("full", func(b *testing.B) {
		var res model.SyncResult
		for b.Loop() {
			var err error
			if res, err = be.Sync(ctx, snap, true); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(res.Rules), "rules")
	})
	b.Run("one-endpoint-changed", func(b *testing.B) {
		if _, err := be.Sync(ctx, snap, true); err != nil {
			b.Fatal(err)
		}
		sp := snap.Ports[500]
		i := 0
		var res model.SyncResult
		for b.Loop() {
			i++
			sp.Endpoints[3].IP = netip.AddrFrom4([4]byte{10, 99, byte(i >> 8), byte(i)})
			var err error
			if res, err = be.Sync(ctx, snap, false); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(res.Written), "chains-written")
	})
}
