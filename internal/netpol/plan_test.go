package netpol

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func pod(ns, name, node, ip string, lbls map[string]string, ports ...corev1.ContainerPort) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: lbls},
		Spec:       corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "c", Ports: ports}}},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning, PodIP: ip},
	}
}

func namespace(name string, lbls map[string]string) *corev1.Namespace {
	return &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: lbls}}
}

func policy(ns, name string, sel map[string]string, types []networkingv1.PolicyType, in []networkingv1.NetworkPolicyIngressRule, out []networkingv1.NetworkPolicyEgressRule) *networkingv1.NetworkPolicy {
	return &networkingv1.NetworkPolicy{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: sel}, PolicyTypes: types, Ingress: in, Egress: out},
	}
}

var (
	ingressOnly = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	egressOnly  = []networkingv1.PolicyType{networkingv1.PolicyTypeEgress}
)

func tcp(port int32) networkingv1.NetworkPolicyPort {
	p := intstr.FromInt32(port)
	return networkingv1.NetworkPolicyPort{Port: &p}
}

func named(name string) networkingv1.NetworkPolicyPort {
	p := intstr.FromString(name)
	return networkingv1.NetworkPolicyPort{Port: &p}
}

func podSel(l map[string]string) networkingv1.NetworkPolicyPeer {
	return networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{MatchLabels: l}}
}

// summary is a PodRules in one line: "name in:… out:…", a direction
// "*" when not isolated, else its rules as peers/ports.
func summary(prs []PodRules) string {
	var lines []string
	dir := func(isolated bool, rules []Rule) string {
		if !isolated {
			return "*"
		}
		var rs []string
		for _, r := range rules {
			peers := "any"
			if !r.AnyPeer {
				var ps []string
				for _, p := range r.Peers {
					s := p.CIDR.String()
					for _, e := range p.Except {
						s += "-" + e.String()
					}
					ps = append(ps, s)
				}
				peers = strings.Join(ps, ",")
			}
			ports := "all"
			if len(r.Ports) > 0 {
				var ps []string
				for _, p := range r.Ports {
					s := string(p.Protocol)
					if p.Lo != 0 {
						s += fmt.Sprintf("/%d", p.Lo)
						if p.Hi != p.Lo {
							s += fmt.Sprintf("-%d", p.Hi)
						}
					}
					ps = append(ps, s)
				}
				ports = strings.Join(ps, ",")
			}
			rs = append(rs, peers+":"+ports)
		}
		return "[" + strings.Join(rs, " ") + "]"
	}
	for _, p := range prs {
		lines = append(lines, fmt.Sprintf("%s in:%s out:%s", p.Name, dir(p.IngressIsolated, p.Ingress), dir(p.EgressIsolated, p.Egress)))
	}
	return strings.Join(lines, "\n")
}

func TestCompute(t *testing.T) {
	web := map[string]string{"app": "web"}
	fe := map[string]string{"role": "frontend"}
	http := corev1.ContainerPort{Name: "http", ContainerPort: 8080}
	pods := []*corev1.Pod{
		pod("a", "web", "n1", "10.42.0.2", web, http),
		pod("a", "fe", "n1", "10.42.0.3", fe),
		pod("b", "fe-b", "n2", "10.42.1.3", fe, corev1.ContainerPort{Name: "http", ContainerPort: 9090}),
		pod("a", "other-node", "n2", "10.42.1.4", web),
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "hostnet"}, Spec: corev1.PodSpec{NodeName: "n1", HostNetwork: true}, Status: corev1.PodStatus{PodIP: "192.0.2.1"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "done", Labels: fe}, Spec: corev1.PodSpec{NodeName: "n1"}, Status: corev1.PodStatus{Phase: corev1.PodSucceeded, PodIP: "10.42.0.9"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "pending"}, Spec: corev1.PodSpec{NodeName: "n1"}},
	}
	namespaces := []*corev1.Namespace{namespace("a", map[string]string{"team": "x"}), namespace("b", map[string]string{"team": "y"})}
	udp := corev1.ProtocolUDP
	end := int32(100)
	for _, tc := range []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		want     string
	}{
		{"no policy", nil, "web in:* out:*\nfe in:* out:*"},
		{"deny all ingress", []*networkingv1.NetworkPolicy{policy("a", "deny", nil, ingressOnly, nil, nil)},
			"web in:[] out:*\nfe in:[] out:*"},
		{"policy of another namespace", []*networkingv1.NetworkPolicy{policy("b", "deny", nil, ingressOnly, nil, nil)},
			"web in:* out:*\nfe in:* out:*"},
		{"allow from frontend on 80", []*networkingv1.NetworkPolicy{policy("a", "p", web, ingressOnly,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{podSel(fe)}, Ports: []networkingv1.NetworkPolicyPort{tcp(80)}}}, nil)},
			"web in:[10.42.0.3/32:TCP/80] out:*\nfe in:* out:*"},
		{"namespace selector and pod selector", []*networkingv1.NetworkPolicy{policy("a", "p", web, ingressOnly,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"team": "y"}}, PodSelector: &metav1.LabelSelector{MatchLabels: fe}}}}}, nil)},
			"web in:[10.42.1.3/32:all] out:*\nfe in:* out:*"},
		{"all namespaces", []*networkingv1.NetworkPolicy{policy("a", "p", web, ingressOnly,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}}}, nil)},
			"web in:[10.42.0.2/32,10.42.0.3/32,10.42.1.3/32,10.42.1.4/32:all] out:*\nfe in:* out:*"},
		{"selector matching nobody allows nothing", []*networkingv1.NetworkPolicy{policy("a", "p", web, ingressOnly,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{podSel(map[string]string{"x": "y"})}}}, nil)},
			"web in:[] out:*\nfe in:* out:*"},
		{"empty rule allows all, additive", []*networkingv1.NetworkPolicy{
			policy("a", "deny", nil, ingressOnly, nil, nil),
			policy("a", "p", web, ingressOnly, []networkingv1.NetworkPolicyIngressRule{{}}, nil)},
			"web in:[any:all] out:*\nfe in:[] out:*"},
		{"named port on the target, udp range", []*networkingv1.NetworkPolicy{policy("a", "p", web, ingressOnly,
			[]networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{named("http"), named("nope"), {Protocol: &udp, Port: ptr(intstr.FromInt32(53)), EndPort: &end}}}}, nil)},
			"web in:[any:TCP/8080,UDP/53-100] out:*\nfe in:* out:*"},
		{"named port missing drops the rule", []*networkingv1.NetworkPolicy{policy("a", "p", fe, ingressOnly,
			[]networkingv1.NetworkPolicyIngressRule{{Ports: []networkingv1.NetworkPolicyPort{named("http")}}}, nil)},
			"web in:* out:*\nfe in:[] out:*"},
		{"ipBlock except", []*networkingv1.NetworkPolicy{policy("a", "p", web, ingressOnly,
			[]networkingv1.NetworkPolicyIngressRule{{From: []networkingv1.NetworkPolicyPeer{{IPBlock: &networkingv1.IPBlock{CIDR: "172.17.0.0/16", Except: []string{"172.17.1.0/24"}}}}}}, nil)},
			"web in:[172.17.0.0/16-172.17.1.0/24:all] out:*\nfe in:* out:*"},
		{"egress with named port of each peer", []*networkingv1.NetworkPolicy{policy("a", "p", fe, egressOnly, nil,
			[]networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{NamespaceSelector: &metav1.LabelSelector{}}}, Ports: []networkingv1.NetworkPolicyPort{named("http"), tcp(53)}}})},
			"web in:* out:*\nfe in:* out:[10.42.0.2/32,10.42.0.3/32,10.42.1.3/32,10.42.1.4/32:TCP/53 10.42.0.2/32:TCP/8080 10.42.1.3/32:TCP/9090]"},
		{"deny all egress", []*networkingv1.NetworkPolicy{policy("a", "p", nil, egressOnly, nil, nil)},
			"web in:* out:[]\nfe in:* out:[]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := summary(Compute(tc.policies, pods, namespaces, "n1"))
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestRender(t *testing.T) {
	got := Render([]PodRules{
		{Name: "open", IP: netip.MustParseAddr("10.42.0.1")},
		{Name: "web", IP: netip.MustParseAddr("10.42.0.2"), IngressIsolated: true, Ingress: []Rule{
			{Set: "a/p/in/0", Peers: []Peer{{CIDR: netip.MustParsePrefix("10.42.0.3/32")}, {CIDR: netip.MustParsePrefix("172.17.0.0/16"), Except: []netip.Prefix{netip.MustParsePrefix("172.17.1.0/24")}}},
				Ports: []Port{{Protocol: "TCP", Lo: 80, Hi: 80}, {Protocol: "TCP", Lo: 8000, Hi: 8100}, {Protocol: "UDP"}}},
			{AnyPeer: true},
		}},
		{Name: "locked", IP: netip.MustParseAddr("10.42.0.4"), EgressIsolated: true},
	})
	want := `table ip skiff-netpol {}
delete table ip skiff-netpol
table ip skiff-netpol {
	map ingress {
		type ipv4_addr : verdict
		elements = { 10.42.0.2 : jump ingress_10_42_0_2 }
	}
	map egress {
		type ipv4_addr : verdict
		elements = { 10.42.0.4 : jump egress_10_42_0_4 }
	}
	set peers_0 {
		type ipv4_addr
		flags interval
		auto-merge
		elements = { 10.42.0.3/32 }
	}
	chain forward {
		type filter hook forward priority filter; policy accept;
		ct state established,related accept
		ip saddr vmap @egress
		ip daddr vmap @ingress
	}
	chain ingress_10_42_0_2 {
		ip saddr 10.42.0.2 return
		ip saddr @peers_0 meta l4proto tcp th dport { 80, 8000-8100 } return
		ip saddr @peers_0 meta l4proto udp return
		ip saddr 172.17.0.0/16 ip saddr != { 172.17.1.0/24 } meta l4proto tcp th dport { 80, 8000-8100 } return
		ip saddr 172.17.0.0/16 ip saddr != { 172.17.1.0/24 } meta l4proto udp return
		return
		counter drop
	}
	chain egress_10_42_0_4 {
		ip daddr 10.42.0.4 return
		counter drop
	}
}
`
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPodChanged(t *testing.T) {
	base := pod("a", "p", "n1", "10.42.0.2", map[string]string{"app": "web"}, corev1.ContainerPort{Name: "http", ContainerPort: 80})
	for _, tc := range []struct {
		name   string
		change func(p *corev1.Pod)
		want   bool
	}{
		{"condition", func(p *corev1.Pod) { p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady}} }, false},
		{"labels", func(p *corev1.Pod) { p.Labels = map[string]string{"app": "db"} }, true},
		{"ip", func(p *corev1.Pod) { p.Status.PodIP = "10.42.0.3" }, true},
		{"finished", func(p *corev1.Pod) { p.Status.Phase = corev1.PodSucceeded }, true},
		{"node", func(p *corev1.Pod) { p.Spec.NodeName = "n2" }, true},
		{"port", func(p *corev1.Pod) { p.Spec.Containers[0].Ports[0].ContainerPort = 81 }, true},
	} {
		cur := base.DeepCopy()
		tc.change(cur)
		if got := PodChanged(base, cur); got != tc.want {
			t.Errorf("%s: PodChanged = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestBlockPeer(t *testing.T) {
	for _, tc := range []struct {
		name  string
		block networkingv1.IPBlock
		want  string // Peer as "cidr except a,b"; "" for none
	}{
		{"plain", networkingv1.IPBlock{CIDR: "10.0.0.0/8"}, "10.0.0.0/8 except "},
		{"excepts sorted and masked", networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.2.0.0/16", "10.1.0.5/16"}}, "10.0.0.0/8 except 10.1.0.0/16,10.2.0.0/16"},
		{"leading zeros as the API accepts", networkingv1.IPBlock{CIDR: "010.0.0.0/8", Except: []string{"010.1.0.0/16"}}, "10.0.0.0/8 except 10.1.0.0/16"},
		{"an except it cannot use drops the peer", networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"fd00::/64"}}, ""},
		{"IPv6", networkingv1.IPBlock{CIDR: "fd00::/48"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, ok := blockPeer(&tc.block)
			got := ""
			if ok {
				var ex []string
				for _, e := range p.Except {
					ex = append(ex, e.String())
				}
				got = p.CIDR.String() + " except " + strings.Join(ex, ",")
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestComputeOnePodPerIP(t *testing.T) {
	old := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "old", CreationTimestamp: metav1.Unix(100, 0), DeletionTimestamp: ptr(metav1.Unix(200, 0))},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status:     corev1.PodStatus{PodIP: "10.42.0.9"},
	}
	reused := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "new", CreationTimestamp: metav1.Unix(50, 0)},
		Spec:       corev1.PodSpec{NodeName: "n1"},
		Status:     corev1.PodStatus{PodIP: "10.42.0.9"},
	}
	got := Compute(nil, []*corev1.Pod{old, reused}, nil, "n1")
	if len(got) != 1 || got[0].Name != "new" {
		t.Fatalf("got %+v, want only the pod not being deleted", got)
	}
}
