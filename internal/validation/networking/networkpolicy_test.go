package networking

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func TestValidateNetworkPolicy(t *testing.T) {
	i32 := func(v int32) *int32 { return &v }
	num := func(v int32) *intstr.IntOrString { p := intstr.FromInt32(v); return &p }
	name := func(v string) *intstr.IntOrString { p := intstr.FromString(v); return &p }
	proto := func(p corev1.Protocol) *corev1.Protocol { return &p }
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
	ingress := func(ports []networkingv1.NetworkPolicyPort, peers ...networkingv1.NetworkPolicyPeer) networkingv1.NetworkPolicySpec {
		return networkingv1.NetworkPolicySpec{Ingress: []networkingv1.NetworkPolicyIngressRule{{Ports: ports, From: peers}}}
	}
	for _, tc := range []struct {
		name string
		spec networkingv1.NetworkPolicySpec
		want string // "" or the field paths of the errors, space-separated
	}{
		{"empty", networkingv1.NetworkPolicySpec{}, ""},
		{"port range", ingress([]networkingv1.NetworkPolicyPort{{Port: num(80), EndPort: i32(90), Protocol: proto(corev1.ProtocolUDP)}}), ""},
		{"named port", ingress([]networkingv1.NetworkPolicyPort{{Port: name("http")}}), ""},
		{"endPort without port", ingress([]networkingv1.NetworkPolicyPort{{EndPort: i32(90)}}), "spec.ingress[0].ports[0].endPort"},
		{"endPort below port", ingress([]networkingv1.NetworkPolicyPort{{Port: num(80), EndPort: i32(70)}}), "spec.ingress[0].ports[0].endPort"},
		{"endPort with named port", ingress([]networkingv1.NetworkPolicyPort{{Port: name("http"), EndPort: i32(70)}}), "spec.ingress[0].ports[0].endPort"},
		{"port 0", ingress([]networkingv1.NetworkPolicyPort{{Port: num(0)}}), "spec.ingress[0].ports[0].port"},
		{"bad port name", ingress([]networkingv1.NetworkPolicyPort{{Port: name("-x-")}}), "spec.ingress[0].ports[0].port"},
		{"bad protocol", ingress([]networkingv1.NetworkPolicyPort{{Protocol: proto("ICMP")}}), "spec.ingress[0].ports[0].protocol"},
		{"empty peer", ingress(nil, networkingv1.NetworkPolicyPeer{}), "spec.ingress[0].from[0]"},
		{"pod and namespace", ingress(nil, networkingv1.NetworkPolicyPeer{PodSelector: sel, NamespaceSelector: sel}), ""},
		{"ipBlock and pod", ingress(nil, networkingv1.NetworkPolicyPeer{PodSelector: sel, IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8"}}), "spec.ingress[0].from[0]"},
		{"ipBlock except", ingress(nil, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/8", Except: []string{"10.1.0.0/16"}}}), ""},
		{"ipBlock no cidr", ingress(nil, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{}}), "spec.ingress[0].from[0].ipBlock.cidr"},
		{"ipBlock bad cidr", ingress(nil, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0"}}), "spec.ingress[0].from[0].ipBlock.cidr"},
		{"except outside", ingress(nil, networkingv1.NetworkPolicyPeer{IPBlock: &networkingv1.IPBlock{CIDR: "10.0.0.0/16", Except: []string{"10.1.0.0/24", "10.0.0.0/16"}}}),
			"spec.ingress[0].from[0].ipBlock.except[0] spec.ingress[0].from[0].ipBlock.except[1]"},
		{"egress peer", networkingv1.NetworkPolicySpec{Egress: []networkingv1.NetworkPolicyEgressRule{{To: []networkingv1.NetworkPolicyPeer{{}}}}}, "spec.egress[0].to[0]"},
		{"policy types", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Ingress", "Sideways"}}, "spec.policyTypes[1]"},
		{"three policy types", networkingv1.NetworkPolicySpec{PolicyTypes: []networkingv1.PolicyType{"Ingress", "Egress", "Ingress"}}, "spec.policyTypes"},
		{"bad selector", networkingv1.NetworkPolicySpec{PodSelector: metav1.LabelSelector{MatchLabels: map[string]string{"a": "-"}}}, "spec.podSelector.matchLabels"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			np := &networkingv1.NetworkPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: tc.spec}
			var got []string
			for _, e := range ValidateNetworkPolicy(np) {
				got = append(got, e.Field)
			}
			if strings.Join(got, " ") != tc.want {
				t.Errorf("errors at %q, want %q: %v", got, tc.want, ValidateNetworkPolicy(np))
			}
		})
	}
}
