package iptables

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/skiff-sh/skiff/internal/proxy/model"
)

func ep(ip string, ready, serving, terminating, local bool) model.Endpoint {
	return model.Endpoint{IP: netip.MustParseAddr(ip), Port: 8080, Ready: ready, Serving: serving, Terminating: terminating, Local: local}
}

func readyEP(ip string, local bool) model.Endpoint { return ep(ip, true, true, false, local) }

func port(mod func(*model.ServicePort)) *model.ServicePort {
	sp := &model.ServicePort{
		Name:      model.ServicePortName{Namespace: "ns", Name: "web", Port: "http", Protocol: "TCP"},
		ClusterIP: netip.MustParseAddr("10.43.0.20"), Port: 80,
	}
	mod(sp)
	return sp
}

// dump renders one service port and returns its rules as iptables-save
// lines, chains named by role (SVC, SVL, EXT, SEP1...) instead of hashes.
func dump(sp *model.ServicePort) string {
	rs := Render(&model.Snapshot{Ports: []*model.ServicePort{sp}}, Options{ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16")})
	names := map[string]string{svcChain(sp): "SVC", svlChain(sp): "SVL", extChain(sp): "EXT"}
	for i, e := range sp.Endpoints {
		names[sepChain(sp, e)] = "SEP" + string(rune('1'+i))
	}
	var b strings.Builder
	for _, c := range rs.Chains {
		for _, r := range c.Rules {
			if _, own := names[c.Name]; !own && !strings.Contains(r, "ns/web") {
				continue // the fixed rules every ruleset has
			}
			l := string(c.Table) + " " + c.Name + " " + r
			for h, n := range names {
				l = strings.ReplaceAll(l, h, n)
			}
			l = strings.ReplaceAll(l, `-m comment --comment `, "")
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func TestRender(t *testing.T) {
	tests := []struct {
		name string
		sp   *model.ServicePort
		want string
	}{
		{
			name: "no endpoints: rejected in filter, nothing in nat",
			sp:   port(func(sp *model.ServicePort) {}),
			want: `filter KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
`,
		},
		{
			name: "two ready endpoints, a not-ready one ignored",
			sp: port(func(sp *model.ServicePort) {
				sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", false), readyEP("10.42.0.6", false), ep("10.42.0.7", false, false, false, false)}
			}),
			want: `nat KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j SVC
nat SVC ! -s 10.42.0.0/16 -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
nat SVC "ns/web:http -> 10.42.0.5:8080" -m statistic --mode random --probability 0.5000000000 -j SEP1
nat SVC "ns/web:http -> 10.42.0.6:8080" -j SEP2
nat SEP1 -s 10.42.0.5/32 ns/web:http -j KUBE-MARK-MASQ
nat SEP1 ns/web:http -p tcp -m tcp -j DNAT --to-destination 10.42.0.5:8080
nat SEP2 -s 10.42.0.6/32 ns/web:http -j KUBE-MARK-MASQ
nat SEP2 ns/web:http -p tcp -m tcp -j DNAT --to-destination 10.42.0.6:8080
`,
		},
		{
			name: "only terminating endpoints that still serve: used as a fallback",
			sp: port(func(sp *model.ServicePort) {
				sp.Endpoints = []model.Endpoint{ep("10.42.0.5", false, true, true, false), ep("10.42.0.6", false, false, true, false)}
			}),
			want: `nat KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j SVC
nat SVC ! -s 10.42.0.0/16 -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
nat SVC "ns/web:http -> 10.42.0.5:8080" -j SEP1
nat SEP1 -s 10.42.0.5/32 ns/web:http -j KUBE-MARK-MASQ
nat SEP1 ns/web:http -p tcp -m tcp -j DNAT --to-destination 10.42.0.5:8080
`,
		},
		{
			name: "session affinity ClientIP",
			sp: port(func(sp *model.ServicePort) {
				sp.AffinitySeconds = 10800
				sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", false)}
			}),
			want: `nat KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j SVC
nat SVC ! -s 10.42.0.0/16 -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
nat SVC "ns/web:http -> 10.42.0.5:8080" -m recent --name SEP1 --mask 255.255.255.255 --rsource --rcheck --seconds 10800 --reap -j SEP1
nat SVC "ns/web:http -> 10.42.0.5:8080" -j SEP1
nat SEP1 -s 10.42.0.5/32 ns/web:http -j KUBE-MARK-MASQ
nat SEP1 ns/web:http -p tcp -m recent --name SEP1 --mask 255.255.255.255 --rsource --set -m tcp -j DNAT --to-destination 10.42.0.5:8080
`,
		},
		{
			name: "node port and external IP, Cluster policy: masqueraded",
			sp: port(func(sp *model.ServicePort) {
				sp.NodePort = 30080
				sp.ExternalIPs = []netip.Addr{netip.MustParseAddr("192.0.2.99")}
				sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", false)}
			}),
			want: `nat KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j SVC
nat KUBE-SERVICES -d 192.0.2.99/32 -p tcp "ns/web:http external IP" -m tcp --dport 80 -j EXT
nat KUBE-NODEPORTS -p tcp ns/web:http -m tcp --dport 30080 -j EXT
nat EXT "masquerade traffic for ns/web:http external destinations" -j KUBE-MARK-MASQ
nat EXT -j SVC
nat SVC ! -s 10.42.0.0/16 -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
nat SVC "ns/web:http -> 10.42.0.5:8080" -j SEP1
nat SEP1 -s 10.42.0.5/32 ns/web:http -j KUBE-MARK-MASQ
nat SEP1 ns/web:http -p tcp -m tcp -j DNAT --to-destination 10.42.0.5:8080
`,
		},
		{
			name: "node port without endpoints: rejected",
			sp:   port(func(sp *model.ServicePort) { sp.NodePort = 30080 }),
			want: `filter KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http has no endpoints" -m tcp --dport 80 -j REJECT --reject-with icmp-port-unreachable
filter KUBE-EXTERNAL-SERVICES -m addrtype --dst-type LOCAL -p tcp "ns/web:http has no endpoints" -m tcp --dport 30080 -j REJECT --reject-with icmp-port-unreachable
`,
		},
		{
			name: "externalTrafficPolicy Local: external traffic only to this node's endpoints, the node's own and pods' traffic to all",
			sp: port(func(sp *model.ServicePort) {
				sp.NodePort = 30080
				sp.ExternalLocal = true
				sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", true), readyEP("10.42.1.5", false)}
			}),
			want: `nat KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j SVC
nat KUBE-NODEPORTS -p tcp ns/web:http -m tcp --dport 30080 -j EXT
nat EXT -s 10.42.0.0/16 "pod traffic for ns/web:http external destinations" -j SVC
nat EXT "masquerade LOCAL traffic for ns/web:http external destinations" -m addrtype --src-type LOCAL -j KUBE-MARK-MASQ
nat EXT "route LOCAL traffic for ns/web:http external destinations" -m addrtype --src-type LOCAL -j SVC
nat EXT -j SVL
nat SVC ! -s 10.42.0.0/16 -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
nat SVC "ns/web:http -> 10.42.0.5:8080" -m statistic --mode random --probability 0.5000000000 -j SEP1
nat SVC "ns/web:http -> 10.42.1.5:8080" -j SEP2
nat SVL "ns/web:http -> 10.42.0.5:8080" -j SEP1
nat SEP1 -s 10.42.0.5/32 ns/web:http -j KUBE-MARK-MASQ
nat SEP1 ns/web:http -p tcp -m tcp -j DNAT --to-destination 10.42.0.5:8080
nat SEP2 -s 10.42.1.5/32 ns/web:http -j KUBE-MARK-MASQ
nat SEP2 ns/web:http -p tcp -m tcp -j DNAT --to-destination 10.42.1.5:8080
`,
		},
		{
			name: "externalTrafficPolicy Local with no local endpoint: node port drops",
			sp: port(func(sp *model.ServicePort) {
				sp.NodePort = 30080
				sp.ExternalLocal = true
				sp.Endpoints = []model.Endpoint{readyEP("10.42.1.5", false)}
			}),
			want: `filter KUBE-EXTERNAL-SERVICES -m addrtype --dst-type LOCAL -p tcp "ns/web:http has no local endpoints" -m tcp --dport 30080 -j DROP
nat KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j SVC
nat SVC ! -s 10.42.0.0/16 -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
nat SVC "ns/web:http -> 10.42.1.5:8080" -j SEP1
nat SEP1 -s 10.42.1.5/32 ns/web:http -j KUBE-MARK-MASQ
nat SEP1 ns/web:http -p tcp -m tcp -j DNAT --to-destination 10.42.1.5:8080
`,
		},
		{
			name: "internalTrafficPolicy Local: the cluster IP only reaches this node's endpoints",
			sp: port(func(sp *model.ServicePort) {
				sp.InternalLocal = true
				sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", true), readyEP("10.42.1.5", false)}
			}),
			want: `nat KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j SVL
nat SVL ! -s 10.42.0.0/16 -d 10.43.0.20/32 -p tcp "ns/web:http cluster IP" -m tcp --dport 80 -j KUBE-MARK-MASQ
nat SVL "ns/web:http -> 10.42.0.5:8080" -j SEP1
nat SEP1 -s 10.42.0.5/32 ns/web:http -j KUBE-MARK-MASQ
nat SEP1 ns/web:http -p tcp -m tcp -j DNAT --to-destination 10.42.0.5:8080
`,
		},
		{
			name: "internalTrafficPolicy Local with no local endpoint: dropped, not rejected",
			sp: port(func(sp *model.ServicePort) {
				sp.InternalLocal = true
				sp.Endpoints = []model.Endpoint{readyEP("10.42.1.5", false)}
			}),
			want: `filter KUBE-SERVICES -d 10.43.0.20/32 -p tcp "ns/web:http has no local endpoints" -m tcp --dport 80 -j DROP
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dump(tt.sp); got != tt.want {
				t.Errorf("rules:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestChainNames(t *testing.T) {
	sp := port(func(*model.ServicePort) {})
	udp := port(func(sp *model.ServicePort) { sp.Name.Protocol = "UDP" })
	for _, n := range []string{svcChain(sp), svlChain(sp), extChain(sp), sepChain(sp, readyEP("10.42.0.5", false))} {
		if len(n) > 28 {
			t.Errorf("%s is longer than iptables allows", n)
		}
		if !OwnedChain(n) {
			t.Errorf("%s is not recognised as the proxy's", n)
		}
	}
	if svcChain(sp) == svcChain(udp) {
		t.Error("TCP and UDP ports of one service share a chain")
	}
	if OwnedChain("KUBE-HOSTPORTS") || OwnedChain("CNI-HOSTPORT-DNAT") {
		t.Error("another component's chain is claimed")
	}
}

func TestPlanRestore(t *testing.T) {
	a := Chain{Table: NAT, Name: "KUBE-SVC-A", Rules: []string{"-j KUBE-SEP-A"}}
	b := Chain{Table: NAT, Name: "KUBE-SVC-B", Rules: []string{"-j KUBE-SEP-B"}}
	svcs := Chain{Table: NAT, Name: "KUBE-SERVICES", Rules: []string{"-j KUBE-SVC-A", "-j KUBE-SVC-B"}}
	full := PlanRestore(&Ruleset{Chains: []Chain{svcs, a, b}}, nil, []ChainKey{{NAT, "KUBE-SVC-OLD"}, {NAT, "CNI-HOSTPORT-DNAT"}, {Filter, "INPUT"}})
	wantFull := `*nat
:KUBE-SERVICES - [0:0]
:KUBE-SVC-A - [0:0]
:KUBE-SVC-B - [0:0]
:KUBE-SVC-OLD - [0:0]
-A KUBE-SERVICES -j KUBE-SVC-A
-A KUBE-SERVICES -j KUBE-SVC-B
-A KUBE-SVC-A -j KUBE-SEP-A
-A KUBE-SVC-B -j KUBE-SEP-B
-X KUBE-SVC-OLD
COMMIT
`
	if string(full.Input) != wantFull || full.Written != 3 || full.Deleted != 1 {
		t.Errorf("full plan (%d written, %d deleted):\n%s\nwant:\n%s", full.Written, full.Deleted, full.Input, wantFull)
	}
	// B changes, A stays, a new chain C appears: A is not rewritten.
	b2 := Chain{Table: NAT, Name: "KUBE-SVC-B", Rules: []string{"-j KUBE-SEP-B2"}}
	partial := PlanRestore(&Ruleset{Chains: []Chain{svcs, a, b2}}, full.After, []ChainKey{{NAT, "KUBE-SERVICES"}, {NAT, "KUBE-SVC-A"}, {NAT, "KUBE-SVC-B"}})
	wantPartial := `*nat
:KUBE-SVC-B - [0:0]
-A KUBE-SVC-B -j KUBE-SEP-B2
COMMIT
`
	if string(partial.Input) != wantPartial {
		t.Errorf("partial plan:\n%s\nwant:\n%s", partial.Input, wantPartial)
	}
	// Nothing changed: nothing to run.
	if none := PlanRestore(&Ruleset{Chains: []Chain{svcs, a, b2}}, partial.After, nil); len(none.Input) != 0 {
		t.Errorf("unchanged rules still planned:\n%s", none.Input)
	}
}

func TestParseChains(t *testing.T) {
	save := "# Generated by iptables-save\n*nat\n:PREROUTING ACCEPT [0:0]\n:KUBE-SERVICES - [0:0]\n-A PREROUTING -j KUBE-SERVICES\nCOMMIT\n"
	got := ParseChains(NAT, []byte(save))
	if len(got) != 2 || got[0].Name != "PREROUTING" || got[1].Name != "KUBE-SERVICES" {
		t.Errorf("chains = %v", got)
	}
}
