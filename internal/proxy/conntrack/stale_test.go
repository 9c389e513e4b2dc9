package conntrack

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/proxy/model"
)

type portOpt func(*model.ServicePort)

// dnsPort is ns/dns:dns, UDP, 10.43.0.10:53, with the given options.
func dnsPort(opts ...portOpt) *model.ServicePort {
	sp := &model.ServicePort{
		Name:      model.ServicePortName{Namespace: "ns", Name: "dns", Port: "dns", Protocol: v1.ProtocolUDP},
		ClusterIP: netip.MustParseAddr("10.43.0.10"), Port: 53,
	}
	for _, o := range opts {
		o(sp)
	}
	return sp
}

func eps(ips ...string) portOpt {
	return func(sp *model.ServicePort) {
		for _, ip := range ips {
			sp.Endpoints = append(sp.Endpoints, model.Endpoint{IP: netip.MustParseAddr(ip), Port: 5353, Ready: true, Serving: true})
		}
	}
}

func terminating(ip string) portOpt {
	return func(sp *model.ServicePort) {
		sp.Endpoints = append(sp.Endpoints, model.Endpoint{IP: netip.MustParseAddr(ip), Port: 5353, Serving: true, Terminating: true})
	}
}

func notServing(ip string) portOpt {
	return func(sp *model.ServicePort) {
		sp.Endpoints = append(sp.Endpoints, model.Endpoint{IP: netip.MustParseAddr(ip), Port: 5353})
	}
}

func external(ips ...string) portOpt {
	return func(sp *model.ServicePort) {
		for _, ip := range ips {
			sp.ExternalIPs = append(sp.ExternalIPs, netip.MustParseAddr(ip))
		}
	}
}

func nodePort(p int32) portOpt { return func(sp *model.ServicePort) { sp.NodePort = p } }

func proto(p v1.Protocol) portOpt { return func(sp *model.ServicePort) { sp.Name.Protocol = p } }

func snap(ports ...*model.ServicePort) *model.Snapshot { return &model.Snapshot{Ports: ports} }

func TestStale(t *testing.T) {
	web := &model.ServicePort{
		Name:      model.ServicePortName{Namespace: "ns", Name: "web", Protocol: v1.ProtocolTCP},
		ClusterIP: netip.MustParseAddr("10.43.0.20"), Port: 80,
	}
	tests := []struct {
		name       string
		prev, next *model.Snapshot
		full       bool
		want       string
	}{
		{
			name: "first sync: every UDP frontend, TCP left alone",
			prev: nil,
			next: snap(dnsPort(eps("10.42.0.5", "10.42.0.6"), nodePort(30053), external("192.0.2.9")), web),
			want: `UDP *:30053 reply-src not in [10.42.0.5 10.42.0.6]
UDP 10.43.0.10:53 reply-src not in [10.42.0.5 10.42.0.6]
UDP 192.0.2.9:53 reply-src not in [10.42.0.5 10.42.0.6]`,
		},
		{
			name: "nothing changed",
			prev: snap(dnsPort(eps("10.42.0.5"), nodePort(30053))),
			next: snap(dnsPort(eps("10.42.0.5"), nodePort(30053))),
		},
		{
			name: "an endpoint came: nothing can be stale",
			prev: snap(dnsPort(eps("10.42.0.5"))),
			next: snap(dnsPort(eps("10.42.0.5", "10.42.0.6"))),
		},
		{
			name: "an endpoint went: flows not to the others",
			prev: snap(dnsPort(eps("10.42.0.5", "10.42.0.6"), nodePort(30053))),
			next: snap(dnsPort(eps("10.42.0.6"), nodePort(30053))),
			want: `UDP *:30053 reply-src not in [10.42.0.6]
UDP 10.43.0.10:53 reply-src not in [10.42.0.6]`,
		},
		{
			name: "an endpoint replaced by another",
			prev: snap(dnsPort(eps("10.42.0.5"))),
			next: snap(dnsPort(eps("10.42.0.6"))),
			want: `UDP 10.43.0.10:53 reply-src not in [10.42.0.6]`,
		},
		{
			name: "an endpoint stopped serving",
			prev: snap(dnsPort(eps("10.42.0.5", "10.42.0.6"))),
			next: snap(dnsPort(eps("10.42.0.6"), notServing("10.42.0.5"))),
			want: `UDP 10.43.0.10:53 reply-src not in [10.42.0.6]`,
		},
		{
			name: "a terminating endpoint still serving keeps its flows",
			prev: snap(dnsPort(eps("10.42.0.5", "10.42.0.6"))),
			next: snap(dnsPort(eps("10.42.0.6"), terminating("10.42.0.5"))),
		},
		{
			name: "the last endpoint went: every flow",
			prev: snap(dnsPort(eps("10.42.0.5"))),
			next: snap(dnsPort()),
			want: `UDP 10.43.0.10:53 reply-src not in []`,
		},
		{
			name: "no endpoints, then some: flows from the time it had none",
			prev: snap(dnsPort(nodePort(30053))),
			next: snap(dnsPort(eps("10.42.0.5"), nodePort(30053))),
			want: `UDP *:30053 reply-src not in [10.42.0.5]
UDP 10.43.0.10:53 reply-src not in [10.42.0.5]`,
		},
		{
			name: "still no endpoints",
			prev: snap(dnsPort()),
			next: snap(dnsPort()),
		},
		{
			name: "a new service",
			prev: snap(web),
			next: snap(web, dnsPort(eps("10.42.0.5"))),
			want: `UDP 10.43.0.10:53 reply-src not in [10.42.0.5]`,
		},
		{
			name: "a deleted service: every flow to it",
			prev: snap(web, dnsPort(eps("10.42.0.5"), nodePort(30053))),
			next: snap(web),
			want: `UDP *:30053 reply-src not in []
UDP 10.43.0.10:53 reply-src not in []`,
		},
		{
			name: "an external IP removed, one added",
			prev: snap(dnsPort(eps("10.42.0.5"), external("192.0.2.9"))),
			next: snap(dnsPort(eps("10.42.0.5"), external("192.0.2.10"))),
			want: `UDP 192.0.2.9:53 reply-src not in []
UDP 192.0.2.10:53 reply-src not in [10.42.0.5]`,
		},
		{
			name: "SCTP too",
			prev: snap(dnsPort(proto(v1.ProtocolSCTP), eps("10.42.0.5"))),
			next: snap(dnsPort(proto(v1.ProtocolSCTP), eps("10.42.0.6"))),
			want: `SCTP 10.43.0.10:53 reply-src not in [10.42.0.6]`,
		},
		{
			name: "full: nothing changed, every UDP frontend re-checked",
			prev: snap(web, dnsPort(eps("10.42.0.5"), nodePort(30053))),
			next: snap(web, dnsPort(eps("10.42.0.5"), nodePort(30053))),
			full: true,
			want: `UDP *:30053 reply-src not in [10.42.0.5]
UDP 10.43.0.10:53 reply-src not in [10.42.0.5]`,
		},
		{
			name: "full: a deleted service's flows still go",
			prev: snap(web, dnsPort(eps("10.42.0.5"))),
			next: snap(web),
			full: true,
			want: `UDP 10.43.0.10:53 reply-src not in []`,
		},
		{
			name: "a TCP endpoint went: nothing",
			prev: snap(dnsPort(proto(v1.ProtocolTCP), eps("10.42.0.5"))),
			next: snap(dnsPort(proto(v1.ProtocolTCP), eps("10.42.0.6"))),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var lines []string
			for _, f := range Stale(tt.prev, tt.next, tt.full) {
				lines = append(lines, f.String())
			}
			if got := strings.Join(lines, "\n"); got != tt.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestMatcher(t *testing.T) {
	m := NewMatcher([]Filter{
		{Frontend: Frontend{v1.ProtocolUDP, netip.MustParseAddr("10.43.0.10"), 53}, Keep: []netip.Addr{netip.MustParseAddr("10.42.0.6")}},
		{Frontend: Frontend{Protocol: v1.ProtocolUDP, Port: 30053}, Keep: []netip.Addr{netip.MustParseAddr("10.42.0.6")}},
		{Frontend: Frontend{v1.ProtocolUDP, netip.MustParseAddr("10.43.0.11"), 53}},
	})
	flow := func(p v1.Protocol, dst, reply string) Flow {
		return Flow{Protocol: p, OrigDst: netip.MustParseAddrPort(dst), ReplySrc: netip.MustParseAddr(reply)}
	}
	tests := []struct {
		flow Flow
		want bool
	}{
		{flow(v1.ProtocolUDP, "10.43.0.10:53", "10.42.0.5"), true},    // the endpoint that went
		{flow(v1.ProtocolUDP, "10.43.0.10:53", "10.42.0.6"), false},   // the one that stays
		{flow(v1.ProtocolUDP, "10.43.0.10:53", "10.43.0.10"), true},   // never DNATed
		{flow(v1.ProtocolTCP, "10.43.0.10:53", "10.42.0.5"), false},   // another protocol
		{flow(v1.ProtocolUDP, "10.43.0.10:54", "10.42.0.5"), false},   // another port
		{flow(v1.ProtocolUDP, "192.0.2.50:30053", "10.42.0.5"), true}, // a node port, any address
		{flow(v1.ProtocolUDP, "127.0.0.1:30053", "10.42.0.6"), false},
		{flow(v1.ProtocolUDP, "10.43.0.11:53", "10.42.0.6"), true}, // Keep empty: all
		{flow(v1.ProtocolUDP, "10.43.0.12:53", "10.42.0.5"), false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.flow), func(t *testing.T) {
			if got := m.Match(tt.flow); got != tt.want {
				t.Errorf("Match = %v, want %v", got, tt.want)
			}
		})
	}
}
