package nftables

import (
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/skiff-sh/skiff/internal/proxy/model"
)

func readyEP(ip string, local bool) model.Endpoint {
	return model.Endpoint{IP: netip.MustParseAddr(ip), Port: 8080, Ready: true, Serving: true, Local: local}
}

func port(mod func(*model.ServicePort)) *model.ServicePort {
	sp := &model.ServicePort{
		Name:      model.ServicePortName{Namespace: "ns", Name: "web", Port: "http", Protocol: "TCP"},
		ClusterIP: netip.MustParseAddr("10.43.0.20"), Port: 80,
	}
	mod(sp)
	return sp
}

// dump is the service's part of the table: its map elements and chains,
// hashes left out.
func dump(sp *model.ServicePort) string {
	rs := Render(&model.Snapshot{Ports: []*model.ServicePort{sp}}, Options{ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16")})
	var b strings.Builder
	for _, m := range rs.Maps {
		if m.Set {
			b.WriteString("set " + m.Name + " " + m.Spec + "\n")
		}
		for _, k := range sortedKeys(m.Elements) {
			b.WriteString("map " + m.Name + " " + k + " : " + m.Elements[k] + "\n")
		}
	}
	for _, c := range rs.Chains {
		if !strings.Contains(c.Name, "ns/web") {
			continue
		}
		for _, r := range c.Rules {
			b.WriteString(c.Name + ": " + r + "\n")
		}
	}
	out := b.String()
	for _, h := range []string{hash("ns/web/tcp/http"), hash("ns/web/tcp/http", "10.42.0.5:8080"), hash("ns/web/tcp/http", "10.42.1.5:8080"),
		hash("ns/web/tcp/http", "10.42.0.5:8080", "60")} {
		out = strings.ReplaceAll(out, h, "H")
	}
	return out
}

func TestRender(t *testing.T) {
	tests := []struct {
		name string
		sp   *model.ServicePort
		want string
	}{
		{
			name: "no endpoints: rejected, node port too",
			sp:   port(func(sp *model.ServicePort) { sp.NodePort = 30080 }),
			want: `map no-endpoint-services 10.43.0.20 . tcp . 80 : goto reject-chain
map no-endpoint-nodeports tcp . 30080 : goto reject-chain
`,
		},
		{
			name: "two endpoints behind a cluster IP and a node port",
			sp: port(func(sp *model.ServicePort) {
				sp.NodePort = 30080
				sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", false), readyEP("10.42.1.5", false)}
			}),
			want: `map service-ips 10.43.0.20 . tcp . 80 : goto service-H-ns/web/tcp/http
map service-nodeports tcp . 30080 : goto external-H-ns/web/tcp/http
external-H-ns/web/tcp/http: jump mark-for-masquerade
external-H-ns/web/tcp/http: goto service-H-ns/web/tcp/http
service-H-ns/web/tcp/http: ip daddr 10.43.0.20 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
service-H-ns/web/tcp/http: numgen random mod 2 vmap { 0 : goto endpoint-H-ns/web/tcp/http__10.42.0.5/8080, 1 : goto endpoint-H-ns/web/tcp/http__10.42.1.5/8080 }
endpoint-H-ns/web/tcp/http__10.42.0.5/8080: ip saddr 10.42.0.5 jump mark-for-masquerade
endpoint-H-ns/web/tcp/http__10.42.0.5/8080: meta l4proto tcp dnat to 10.42.0.5:8080
endpoint-H-ns/web/tcp/http__10.42.1.5/8080: ip saddr 10.42.1.5 jump mark-for-masquerade
endpoint-H-ns/web/tcp/http__10.42.1.5/8080: meta l4proto tcp dnat to 10.42.1.5:8080
`,
		},
		{
			name: "ClientIP affinity: a timed set per endpoint",
			sp: port(func(sp *model.ServicePort) {
				sp.AffinitySeconds = 60
				sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", false)}
			}),
			want: `map service-ips 10.43.0.20 . tcp . 80 : goto service-H-ns/web/tcp/http
set affinity-H-ns/web/tcp/http__10.42.0.5/8080 type ipv4_addr ; flags dynamic,timeout ; timeout 60s ;
service-H-ns/web/tcp/http: ip daddr 10.43.0.20 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
service-H-ns/web/tcp/http: ip saddr @affinity-H-ns/web/tcp/http__10.42.0.5/8080 goto endpoint-H-ns/web/tcp/http__10.42.0.5/8080
service-H-ns/web/tcp/http: numgen random mod 1 vmap { 0 : goto endpoint-H-ns/web/tcp/http__10.42.0.5/8080 }
endpoint-H-ns/web/tcp/http__10.42.0.5/8080: ip saddr 10.42.0.5 jump mark-for-masquerade
endpoint-H-ns/web/tcp/http__10.42.0.5/8080: update @affinity-H-ns/web/tcp/http__10.42.0.5/8080 { ip saddr }
endpoint-H-ns/web/tcp/http__10.42.0.5/8080: meta l4proto tcp dnat to 10.42.0.5:8080
`,
		},
		{
			name: "internalTrafficPolicy Local without a local endpoint: dropped",
			sp: port(func(sp *model.ServicePort) {
				sp.InternalLocal = true
				sp.Endpoints = []model.Endpoint{readyEP("10.42.1.5", false)}
			}),
			want: "map no-endpoint-services 10.43.0.20 . tcp . 80 : drop\n",
		},
		{
			name: "externalTrafficPolicy Local",
			sp: port(func(sp *model.ServicePort) {
				sp.NodePort = 30080
				sp.ExternalLocal = true
				sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", true), readyEP("10.42.1.5", false)}
			}),
			want: `map service-ips 10.43.0.20 . tcp . 80 : goto service-H-ns/web/tcp/http
map service-nodeports tcp . 30080 : goto external-H-ns/web/tcp/http
external-H-ns/web/tcp/http: ip saddr 10.42.0.0/16 goto service-H-ns/web/tcp/http comment "short-circuit pod traffic"
external-H-ns/web/tcp/http: fib saddr type local jump mark-for-masquerade comment "masquerade local traffic"
external-H-ns/web/tcp/http: fib saddr type local goto service-H-ns/web/tcp/http comment "short-circuit local traffic"
external-H-ns/web/tcp/http: goto local-H-ns/web/tcp/http
service-H-ns/web/tcp/http: ip daddr 10.43.0.20 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
service-H-ns/web/tcp/http: numgen random mod 2 vmap { 0 : goto endpoint-H-ns/web/tcp/http__10.42.0.5/8080, 1 : goto endpoint-H-ns/web/tcp/http__10.42.1.5/8080 }
local-H-ns/web/tcp/http: numgen random mod 1 vmap { 0 : goto endpoint-H-ns/web/tcp/http__10.42.0.5/8080 }
endpoint-H-ns/web/tcp/http__10.42.0.5/8080: ip saddr 10.42.0.5 jump mark-for-masquerade
endpoint-H-ns/web/tcp/http__10.42.0.5/8080: meta l4proto tcp dnat to 10.42.0.5:8080
endpoint-H-ns/web/tcp/http__10.42.1.5/8080: ip saddr 10.42.1.5 jump mark-for-masquerade
endpoint-H-ns/web/tcp/http__10.42.1.5/8080: meta l4proto tcp dnat to 10.42.1.5:8080
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := dump(tt.sp); got != tt.want {
				t.Errorf("table:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestPlanScript(t *testing.T) {
	sp := port(func(sp *model.ServicePort) { sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", false)} })
	opt := Options{ClusterCIDR: netip.MustParsePrefix("10.42.0.0/16")}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	full := PlanScript(Render(&model.Snapshot{Ports: []*model.ServicePort{sp}}, opt), nil, nil, t0)
	if s := string(full.Script); !strings.HasPrefix(s, "add table ip kube-proxy\ndelete table ip kube-proxy\nadd table ip kube-proxy") {
		t.Errorf("a full sync does not replace the table atomically:\n%s", s)
	}
	// The endpoint moves: its chain goes, a new one comes, the service
	// chain is rewritten, the map is untouched.
	sp.Endpoints = []model.Endpoint{readyEP("10.42.1.5", false)}
	partial := PlanScript(Render(&model.Snapshot{Ports: []*model.ServicePort{sp}}, opt), &full.After, full.Stale, t0)
	got := strings.ReplaceAll(strings.ReplaceAll(string(partial.Script), hash("ns/web/tcp/http"), "H"), hash("ns/web/tcp/http", "10.42.0.5:8080"), "H")
	got = strings.ReplaceAll(got, hash("ns/web/tcp/http", "10.42.1.5:8080"), "H")
	want := `add chain ip kube-proxy endpoint-H-ns/web/tcp/http__10.42.1.5/8080
flush chain ip kube-proxy service-H-ns/web/tcp/http
add rule ip kube-proxy service-H-ns/web/tcp/http ip daddr 10.43.0.20 tcp dport 80 ip saddr != 10.42.0.0/16 jump mark-for-masquerade
add rule ip kube-proxy service-H-ns/web/tcp/http numgen random mod 1 vmap { 0 : goto endpoint-H-ns/web/tcp/http__10.42.1.5/8080 }
add rule ip kube-proxy endpoint-H-ns/web/tcp/http__10.42.1.5/8080 ip saddr 10.42.1.5 jump mark-for-masquerade
add rule ip kube-proxy endpoint-H-ns/web/tcp/http__10.42.1.5/8080 meta l4proto tcp dnat to 10.42.1.5:8080
flush chain ip kube-proxy endpoint-H-ns/web/tcp/http__10.42.0.5/8080
`
	if got != want || partial.Written != 2 || partial.Deleted != 1 {
		t.Errorf("partial (%d written, %d deleted):\n%s\nwant:\n%s", partial.Written, partial.Deleted, got, want)
	}
	if _, ok := partial.Stale[endpointChain(sp, readyEP("10.42.0.5", false))]; len(partial.Stale) != 1 || !ok {
		t.Errorf("the old endpoint's chain is not left stale: %v", partial.Stale)
	}
	// The service goes: its map element first, then its chains are
	// flushed; none is deleted in that transaction.
	gone := PlanScript(Render(&model.Snapshot{}, opt), &partial.After, partial.Stale, t0)
	s := string(gone.Script)
	if i, j := strings.Index(s, "delete element ip kube-proxy service-ips { 10.43.0.20 . tcp . 80 }"), strings.Index(s, "flush chain"); i < 0 || j < i || strings.Contains(s, "delete chain") {
		t.Errorf("service removal must drop the map element before flushing the chains, and delete none:\n%s", s)
	}
	if none := PlanScript(Render(&model.Snapshot{}, opt), &gone.After, gone.Stale, t0); len(none.Script) != 0 {
		t.Errorf("nothing changed, yet:\n%s", none.Script)
	}
	// A changed affinity timeout is a new set: the old one goes only
	// after the chains that used it were rewritten.
	sp.AffinitySeconds = 60
	with := PlanScript(Render(&model.Snapshot{Ports: []*model.ServicePort{sp}}, opt), &gone.After, nil, t0)
	sp.AffinitySeconds = 120
	changed := string(PlanScript(Render(&model.Snapshot{Ports: []*model.ServicePort{sp}}, opt), &with.After, nil, t0).Script)
	if i, j := strings.Index(changed, "delete set"), strings.LastIndex(changed, "flush chain"); i < 0 || i < j || strings.Count(changed, "add set") != 1 {
		t.Errorf("affinity timeout change:\n%s", changed)
	}
}

func TestPlanFull(t *testing.T) {
	sp := port(func(sp *model.ServicePort) {
		sp.AffinitySeconds = 60
		sp.Endpoints = []model.Endpoint{readyEP("10.42.0.5", false)}
	})
	want := Render(&model.Snapshot{Ports: []*model.ServicePort{sp}}, Options{})
	set := affinitySet(sp, sp.Endpoints[0])
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	p := PlanFull(want, Existing{
		Chains: []string{"services", "endpoint-OLD", "service-OLD"},
		Sets:   []string{set, "affinity-OLD"},
		Maps:   []string{"service-ips", "old-map"},
	}, Stale{"service-OLD": t0.Add(-time.Minute), "gone-meanwhile": t0, "services": t0}, t0)
	s := string(p.Script)
	for _, bad := range []string{"delete table", "flush set", "delete set ip kube-proxy " + set} {
		if strings.Contains(s, bad) {
			t.Errorf("a full sync must keep the table and the affinity sets (found %q):\n%s", bad, s)
		}
	}
	// Each line must come before the next.
	order := []string{
		`add table ip kube-proxy { comment "rules for kube-proxy" ; }`,
		"add map ip kube-proxy service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; }\nflush map ip kube-proxy service-ips\n",
		"add set ip kube-proxy " + set + " { type ipv4_addr ; flags dynamic,timeout ; timeout 60s ; }\n",
		"add chain ip kube-proxy services\nflush chain ip kube-proxy services\n",
		"flush chain ip kube-proxy endpoint-OLD\nflush chain ip kube-proxy service-OLD\n",
		"add rule ip kube-proxy services ",
		"add element ip kube-proxy service-ips ",
		"delete set ip kube-proxy affinity-OLD\ndelete map ip kube-proxy old-map\n",
	}
	at := 0
	for _, o := range order {
		i := strings.Index(s[at:], o)
		if i < 0 {
			t.Fatalf("missing, or out of order: %q in\n%s", o, s)
		}
		at += i + len(o)
	}
	if p.Deleted != 4 || p.Written != len(want.Chains)+len(want.Maps) {
		t.Errorf("written %d, deleted %d", p.Written, p.Deleted)
	}
	if strings.Contains(s, "delete chain") {
		t.Errorf("stale chains are deleted in the transaction that unhooks them:\n%s", s)
	}
	// Stale keeps when a chain was first flushed, and drops chains the
	// kernel lacks or that are wanted again.
	if wantStale := (Stale{"endpoint-OLD": t0, "service-OLD": t0.Add(-time.Minute)}); !maps.Equal(p.Stale, wantStale) {
		t.Errorf("stale %v, want %v", p.Stale, wantStale)
	}
}

// TestPlanDeleteStale: flushed chains are deleted by a transaction of
// their own once StaleGrace has passed, not before, and not when wanted
// again.
func TestPlanDeleteStale(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	want := &Ruleset{Chains: []Chain{{Name: "back"}}}
	stale := Stale{"old": t0, "older": t0.Add(-time.Minute), "back": t0.Add(-time.Minute), "new": t0.Add(StaleGrace / 2)}
	tests := []struct {
		name    string
		now     time.Time
		script  string
		remains []string
	}{
		{"at once", t0, "delete chain ip kube-proxy older\n", []string{"back", "new", "old"}},
		{"a grace later", t0.Add(StaleGrace), "delete chain ip kube-proxy old\ndelete chain ip kube-proxy older\n", []string{"back", "new"}},
		{"much later", t0.Add(time.Hour), "delete chain ip kube-proxy new\ndelete chain ip kube-proxy old\ndelete chain ip kube-proxy older\n", []string{"back"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := PlanDeleteStale(stale, want, tt.now)
			if string(p.Script) != tt.script || p.Deleted != strings.Count(tt.script, "\n") {
				t.Errorf("script (%d deleted):\n%s\nwant:\n%s", p.Deleted, p.Script, tt.script)
			}
			if got := slices.Sorted(maps.Keys(p.Stale)); !slices.Equal(got, tt.remains) {
				t.Errorf("remaining %v, want %v", got, tt.remains)
			}
		})
	}
	if len(stale) != 4 {
		t.Errorf("the input was changed: %v", stale)
	}
	if p := PlanDeleteStale(nil, want, t0); len(p.Script) != 0 {
		t.Errorf("nothing stale, yet:\n%s", p.Script)
	}
}

func TestParseExisting(t *testing.T) {
	chains := []byte(`{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"chain": {"family": "ip", "table": "kube-proxy", "name": "services", "handle": 1}}, {"chain": {"family": "ip", "table": "kube-proxy", "name": "nat-output", "handle": 2, "type": "nat", "hook": "output", "prio": -100, "policy": "accept"}}, {"chain": {"family": "ip", "table": "other", "name": "foo", "handle": 1}}]}`)
	sets := []byte(`{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"set": {"family": "ip", "name": "affinity-X", "table": "kube-proxy", "type": "ipv4_addr", "handle": 4, "flags": ["timeout"], "timeout": 60}}]}`)
	maps := []byte(`{"nftables": [{"metainfo": {"version": "1.0.6"}}, {"map": {"family": "ip", "name": "service-ips", "table": "kube-proxy", "type": ["ipv4_addr", "inet_proto", "inet_service"], "handle": 3, "map": "verdict"}}]}`)
	e, err := ParseExisting(chains, sets, maps)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(e.Chains, ",") + "|" + strings.Join(e.Sets, ",") + "|" + strings.Join(e.Maps, ","); got != "services,nat-output|affinity-X|service-ips" {
		t.Errorf("got %s", got)
	}
	if _, err := ParseExisting([]byte("nope"), sets, maps); err == nil {
		t.Error("garbage parsed")
	}
}
