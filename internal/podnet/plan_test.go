package podnet

import (
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

var (
	a = netip.MustParseAddr
	p = netip.MustParsePrefix
)

func node(name, ip string, cidrs ...string) *v1.Node {
	n := &v1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if ip != "" {
		n.Status.Addresses = []v1.NodeAddress{{Type: v1.NodeHostName, Address: name}, {Type: v1.NodeInternalIP, Address: ip}}
	}
	if len(cidrs) > 0 {
		n.Spec.PodCIDR, n.Spec.PodCIDRs = cidrs[0], cidrs
	}
	return n
}

func TestPeers(t *testing.T) {
	legacy := node("legacy", "10.0.0.5")
	legacy.Spec.PodCIDR = "10.42.5.0/24" // spec.podCIDRs unset: an old writer
	dual := node("dual", "10.0.0.6", "10.42.6.0/24", "fd00:42:6::/64")
	v6only := node("v6", "fd00::7", "10.42.7.0/24")
	peers, skipped := Peers([]*v1.Node{
		node("self", "10.0.0.1", "10.42.0.0/24"),
		node("b", "10.0.0.2", "10.42.1.0/24"),
		node("new", "10.0.0.3"),
		node("noaddr", "", "10.42.3.0/24"),
		legacy, dual, v6only,
	}, "self")
	want := []Peer{
		{Name: "b", IP: a("10.0.0.2"), PodCIDRs: []netip.Prefix{p("10.42.1.0/24")}},
		{Name: "dual", IP: a("10.0.0.6"), PodCIDRs: []netip.Prefix{p("10.42.6.0/24")}},
		{Name: "legacy", IP: a("10.0.0.5"), PodCIDRs: []netip.Prefix{p("10.42.5.0/24")}},
	}
	if diff := cmp.Diff(want, peers, cmp.Comparer(func(x, y netip.Addr) bool { return x == y }), cmp.Comparer(func(x, y netip.Prefix) bool { return x == y })); diff != "" {
		t.Errorf("peers (-want +got):\n%s", diff)
	}
	wantSkipped := map[string]string{"new": "no IPv4 pod CIDR yet", "noaddr": "no IPv4 InternalIP", "v6": "no IPv4 InternalIP"}
	if diff := cmp.Diff(wantSkipped, skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}

func TestRoutingChanged(t *testing.T) {
	base := node("b", "10.0.0.2", "10.42.1.0/24")
	heartbeat := base.DeepCopy()
	heartbeat.Status.Conditions = []v1.NodeCondition{{Type: v1.NodeReady, Status: v1.ConditionTrue}}
	heartbeat.Labels = map[string]string{"x": "y"}
	for _, tc := range []struct {
		name string
		cur  *v1.Node
		want bool
	}{
		{"status heartbeat, labels", heartbeat, false},
		{"new address", node("b", "10.0.0.3", "10.42.1.0/24"), true},
		{"pod CIDR assigned", node("b", "10.0.0.2", "10.42.1.0/24", "10.42.9.0/24"), true},
		{"pod CIDR gone", node("b", "10.0.0.2"), true},
	} {
		if got := RoutingChanged(base, tc.cur); got != tc.want {
			t.Errorf("%s: RoutingChanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestNextHop(t *testing.T) {
	for _, tc := range []struct {
		name    string
		lookup  Lookup
		want    Hop
		wantErr bool
	}{
		{"on-link: the peer itself", Lookup{LinkIndex: 2}, Hop{Via: a("10.0.0.2"), LinkIndex: 2}, false},
		{"routed: the gateway towards it", Lookup{Gateway: a("10.0.0.254"), LinkIndex: 3}, Hop{Via: a("10.0.0.254"), LinkIndex: 3}, false},
		{"this host's own address", Lookup{Local: true, LinkIndex: 1}, Hop{}, true},
		{"no route", Lookup{}, Hop{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NextHop(a("10.0.0.2"), tc.lookup)
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("NextHop = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}

func TestDesired(t *testing.T) {
	peers := []Peer{
		{Name: "b", IP: a("10.0.0.2"), PodCIDRs: []netip.Prefix{p("10.42.2.0/24")}},
		{Name: "c", IP: a("192.168.9.3"), PodCIDRs: []netip.Prefix{p("10.42.1.0/24"), p("10.42.9.0/24")}},
		{Name: "d", IP: a("10.0.0.4"), PodCIDRs: []netip.Prefix{p("10.42.4.0/24")}}, // no hop
		{Name: "e", IP: a("10.0.0.5"), PodCIDRs: []netip.Prefix{p("10.42.2.0/24")}}, // b's CIDR too
	}
	hops := map[netip.Addr]Hop{
		a("10.0.0.2"):    {Via: a("10.0.0.2"), LinkIndex: 2},
		a("192.168.9.3"): {Via: a("10.0.0.254"), LinkIndex: 2},
		a("10.0.0.5"):    {Via: a("10.0.0.5"), LinkIndex: 2},
	}
	want := []Route{
		{Dst: p("10.42.1.0/24"), Via: a("10.0.0.254"), LinkIndex: 2},
		{Dst: p("10.42.2.0/24"), Via: a("10.0.0.2"), LinkIndex: 2},
		{Dst: p("10.42.9.0/24"), Via: a("10.0.0.254"), LinkIndex: 2},
	}
	if got := Desired(peers, hops); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Desired =\n%v\nwant\n%v", got, want)
	}
}

func TestDiff(t *testing.T) {
	r := func(dst, via string) Route { return Route{Dst: p(dst), Via: a(via), LinkIndex: 2} }
	for _, tc := range []struct {
		name                string
		desired, ours       []Route
		foreign             []netip.Prefix
		add, change, delete []Route
		conflicts           []netip.Prefix
	}{
		{name: "nothing"},
		{
			name:    "new peers are added",
			desired: []Route{r("10.42.1.0/24", "10.0.0.2"), r("10.42.2.0/24", "10.0.0.3")},
			add:     []Route{r("10.42.1.0/24", "10.0.0.2"), r("10.42.2.0/24", "10.0.0.3")},
		},
		{
			name:    "in place: nothing to do",
			desired: []Route{r("10.42.1.0/24", "10.0.0.2")},
			ours:    []Route{r("10.42.1.0/24", "10.0.0.2")},
		},
		{
			name:    "a peer's address changed: our route is changed",
			desired: []Route{r("10.42.1.0/24", "10.0.0.9")},
			ours:    []Route{r("10.42.1.0/24", "10.0.0.2")},
			change:  []Route{r("10.42.1.0/24", "10.0.0.9")},
		},
		{
			name:    "the outgoing link changed",
			desired: []Route{{Dst: p("10.42.1.0/24"), Via: a("10.0.0.2"), LinkIndex: 3}},
			ours:    []Route{r("10.42.1.0/24", "10.0.0.2")},
			change:  []Route{{Dst: p("10.42.1.0/24"), Via: a("10.0.0.2"), LinkIndex: 3}},
		},
		{
			name:    "a gone peer's route is deleted",
			desired: []Route{r("10.42.1.0/24", "10.0.0.2")},
			ours:    []Route{r("10.42.3.0/24", "10.0.0.4"), r("10.42.1.0/24", "10.0.0.2")},
			delete:  []Route{r("10.42.3.0/24", "10.0.0.4")},
		},
		{
			name:      "someone else's route to a pod CIDR is left alone",
			desired:   []Route{r("10.42.1.0/24", "10.0.0.2"), r("10.42.2.0/24", "10.0.0.3")},
			foreign:   []netip.Prefix{p("10.42.1.0/24"), p("0.0.0.0/0"), p("10.0.0.0/24")},
			add:       []Route{r("10.42.2.0/24", "10.0.0.3")},
			conflicts: []netip.Prefix{p("10.42.1.0/24")},
		},
		{
			name:    "ours beside a foreign one to the same destination (another metric): ours is kept in step",
			desired: []Route{r("10.42.1.0/24", "10.0.0.5")},
			ours:    []Route{r("10.42.1.0/24", "10.0.0.2")},
			foreign: []netip.Prefix{p("10.42.1.0/24")},
			change:  []Route{r("10.42.1.0/24", "10.0.0.5")},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Diff(tc.desired, tc.ours, tc.foreign)
			want := Plan{Add: tc.add, Change: tc.change, Delete: tc.delete, Conflicts: tc.conflicts}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("Diff =\n%v\nwant\n%v", got, want)
			}
			if got.Empty() != (len(tc.add)+len(tc.change)+len(tc.delete) == 0) {
				t.Errorf("Empty() = %v", got.Empty())
			}
		})
	}
}

func TestRuleset(t *testing.T) {
	want := `add table ip skiff-podnet
delete table ip skiff-podnet
table ip skiff-podnet {
	chain postrouting {
		type nat hook postrouting priority srcnat; policy accept;
		ip saddr 10.42.0.0/16 ip daddr != 10.42.0.0/16 masquerade
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ip saddr 10.42.0.0/16 accept
		ip daddr 10.42.0.0/16 accept
	}
}
`
	if got := Ruleset(p("10.42.0.0/16")); got != want {
		t.Errorf("Ruleset:\n%s\nwant:\n%s", got, want)
	}
	wantFwd := "[[-s 10.42.0.0/16 -m comment --comment skiff-podnet: pod traffic -j ACCEPT] [-d 10.42.0.0/16 -m comment --comment skiff-podnet: pod traffic -j ACCEPT]]"
	if got := fmt.Sprint(ForwardRules(p("10.42.0.0/16"))); got != wantFwd {
		t.Errorf("ForwardRules = %s", got)
	}
}

func TestStaleForwardRules(t *testing.T) {
	listing := `-P FORWARD DROP
-A FORWARD -s 10.42.0.0/16 -m comment --comment "skiff-podnet: pod traffic" -j ACCEPT
-A FORWARD -d 10.42.0.0/16 -m comment --comment "skiff-podnet: pod traffic" -j ACCEPT
-A FORWARD -s 10.99.0.0/16 -m comment --comment "skiff-podnet: pod traffic" -j ACCEPT
-A FORWARD -d 10.99.0.0/16 -m comment --comment "skiff-podnet: pod traffic" -j ACCEPT
-A FORWARD -s 10.98.0.0/16 -j ACCEPT
-A FORWARD -j DOCKER-USER
`
	for _, tc := range []struct {
		keep netip.Prefix
		want string
	}{
		{p("10.42.0.0/16"), "[[-s 10.99.0.0/16 -m comment --comment skiff-podnet: pod traffic -j ACCEPT] [-d 10.99.0.0/16 -m comment --comment skiff-podnet: pod traffic -j ACCEPT]]"},
		{netip.Prefix{}, "[[-s 10.42.0.0/16 -m comment --comment skiff-podnet: pod traffic -j ACCEPT] [-d 10.42.0.0/16 -m comment --comment skiff-podnet: pod traffic -j ACCEPT] " +
			"[-s 10.99.0.0/16 -m comment --comment skiff-podnet: pod traffic -j ACCEPT] [-d 10.99.0.0/16 -m comment --comment skiff-podnet: pod traffic -j ACCEPT]]"},
	} {
		if got := fmt.Sprint(StaleForwardRules(listing, tc.keep)); got != tc.want {
			t.Errorf("keep %s:\n%s\nwant\n%s", tc.keep, got, tc.want)
		}
	}
}

// BenchmarkPlan100Nodes is one sync's decisions for a 100-node cluster
// where one node changed address: peers from the node list, desired
// routes, the diff against the kernel's.
func BenchmarkPlan100Nodes(b *testing.B) {
	var nodes []*v1.Node
	hops := map[netip.Addr]Hop{}
	var ours []Route
	for i := range 100 {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i / 250), byte(i%250 + 1)})
		nodes = append(nodes, node(fmt.Sprintf("node-%03d", i), ip.String(), fmt.Sprintf("10.42.%d.0/24", i)))
		hops[ip] = Hop{Via: ip, LinkIndex: 2}
		ours = append(ours, Route{Dst: netip.MustParsePrefix(fmt.Sprintf("10.42.%d.0/24", i)), Via: ip, LinkIndex: 2})
	}
	ours[50].Via = a("10.9.9.9")
	b.ReportAllocs()
	for b.Loop() {
		peers, _ := Peers(nodes, "node-000")
		plan := Diff(Desired(peers, hops), ours, nil)
		if len(plan.Change) != 1 || len(plan.Delete) != 1 {
			b.Fatalf("plan %v", plan)
		}
	}
}
