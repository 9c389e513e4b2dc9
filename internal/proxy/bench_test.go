package proxy_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/hostexec"
	"github.com/skiff-sh/skiff/internal/proxy"
	"github.com/skiff-sh/skiff/internal/proxy/iptables"
	"github.com/skiff-sh/skiff/internal/proxy/model"
	"github.com/skiff-sh/skiff/internal/proxy/nftables"
	"github.com/skiff-sh/skiff/internal/testnetns"
)

// bigSnapshot is n services of one port (and a node port) each with eps
// ready endpoints.
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

// BenchmarkSync applies 1000 services with 10 endpoints each to a real
// kernel (in a network namespace) through each backend: a full sync, and
// a sync after one endpoint of one service changed.
//
//	go test ./internal/proxy -run '^$' -bench Sync -benchtime 5x
func BenchmarkSync(b *testing.B) {
	cidr := netip.MustParsePrefix("10.42.0.0/16")
	for _, tc := range []struct {
		name, bin string
		backend   func(hostexec.Runner) proxy.Backend
	}{
		{"nftables", "nft", func(r hostexec.Runner) proxy.Backend {
			return nftables.NewBackend(nftables.Options{ClusterCIDR: cidr}, r)
		}},
		{"iptables", "iptables-restore", func(r hostexec.Runner) proxy.Backend {
			return iptables.NewBackend(iptables.Options{ClusterCIDR: cidr}, r)
		}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if _, err := exec.LookPath(tc.bin); err != nil {
				b.Skipf("%s is not installed", tc.bin)
			}
			ns := testnetns.New(b)
			be := tc.backend(ns.Run)
			ctx := context.Background()
			snap := bigSnapshot(1000, 10)
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
				sp, i := snap.Ports[500], 0
				for b.Loop() {
					i++
					sp.Endpoints[3].IP = netip.AddrFrom4([4]byte{10, 99, byte(i >> 8), byte(i)})
					if _, err := be.Sync(ctx, snap, false); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}

// BenchmarkRender is the pure part of a full sync for each backend:
// 1000 services with 10 endpoints to the text the kernel gets.
func BenchmarkRender(b *testing.B) {
	snap := bigSnapshot(1000, 10)
	cidr := netip.MustParsePrefix("10.42.0.0/16")
	b.Run("nftables", func(b *testing.B) {
		for b.Loop() {
			nftables.PlanFull(nftables.Render(snap, nftables.Options{ClusterCIDR: cidr}), nftables.Existing{}, nil, time.Time{})
		}
	})
	b.Run("iptables", func(b *testing.B) {
		for b.Loop() {
			iptables.PlanRestore(iptables.Render(snap, iptables.Options{ClusterCIDR: cidr}), nil, nil)
		}
	})
}
