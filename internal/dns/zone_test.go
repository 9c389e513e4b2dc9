package dns

import (
	"sort"
	"strings"
	"testing"

	mdns "github.com/miekg/dns"
	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func testZone() *Zone {
	services := []*v1.Service{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"}, Spec: v1.ServiceSpec{ClusterIP: "10.43.0.20",
			Ports: []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}, {Port: 81}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "db"}, Spec: v1.ServiceSpec{ClusterIP: v1.ClusterIPNone,
			Ports: []v1.ServicePort{{Name: "pg", Port: 5432}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "all"}, Spec: v1.ServiceSpec{ClusterIP: v1.ClusterIPNone, PublishNotReadyAddresses: true}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "prod", Name: "ext"}, Spec: v1.ServiceSpec{Type: v1.ServiceTypeExternalName, ExternalName: "example.com"}},
	}
	slice := func(svc string, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		return &discoveryv1.EndpointSlice{
			ObjectMeta:  metav1.ObjectMeta{Namespace: "default", Name: svc + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
			AddressType: discoveryv1.AddressTypeIPv4,
			Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("pg"), Port: ptr.To[int32](5432), Protocol: ptr.To(v1.ProtocolTCP)}},
			Endpoints:   eps,
		}
	}
	slices := []*discoveryv1.EndpointSlice{
		slice("db",
			discoveryv1.Endpoint{Addresses: []string{"10.42.0.7"}, Hostname: ptr.To("db-0"), Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			discoveryv1.Endpoint{Addresses: []string{"10.42.0.8"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}},
			discoveryv1.Endpoint{Addresses: []string{"10.42.0.9"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}),
		slice("all", discoveryv1.Endpoint{Addresses: []string{"10.42.0.10"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false)}}),
	}
	return BuildZone("cluster.local", services, slices)
}

// answer is one query's result as text: rcode, then each answer record
// without its header.
func answer(z *Zone, name string, qtype uint16) string {
	rcode, ans, ns := z.Answer(mdns.Question{Name: name, Qtype: qtype, Qclass: mdns.ClassINET})
	var parts []string
	for _, rr := range ans {
		parts = append(parts, strings.TrimPrefix(rr.String(), rr.Header().String()))
	}
	sort.Strings(parts)
	out := mdns.RcodeToString[rcode]
	if len(parts) > 0 {
		out += " " + strings.Join(parts, ", ")
	}
	if len(ns) > 0 {
		out += " +SOA"
	}
	return out
}

func TestZone(t *testing.T) {
	z := testZone()
	tests := []struct {
		name  string
		qtype uint16
		want  string
	}{
		{"web.default.svc.cluster.local.", mdns.TypeA, "NOERROR 10.43.0.20"},
		{"WEB.Default.svc.cluster.local.", mdns.TypeA, "NOERROR 10.43.0.20"},
		{"web.default.svc.cluster.local.", mdns.TypeAAAA, "NOERROR +SOA"},
		{"_http._tcp.web.default.svc.cluster.local.", mdns.TypeSRV, "NOERROR 0 100 80 web.default.svc.cluster.local."},
		{"nope.default.svc.cluster.local.", mdns.TypeA, "NXDOMAIN +SOA"},
		{"default.svc.cluster.local.", mdns.TypeA, "NOERROR +SOA"},
		{"svc.cluster.local.", mdns.TypeA, "NOERROR +SOA"},
		{"web.default.svc.cluster.local.default.svc.cluster.local.", mdns.TypeA, "NXDOMAIN +SOA"},
		// Headless: ready endpoints only, each with its own name.
		{"db.default.svc.cluster.local.", mdns.TypeA, "NOERROR 10.42.0.7, 10.42.0.8"},
		{"db-0.db.default.svc.cluster.local.", mdns.TypeA, "NOERROR 10.42.0.7"},
		{"10-42-0-8.db.default.svc.cluster.local.", mdns.TypeA, "NOERROR 10.42.0.8"},
		{"_pg._tcp.db.default.svc.cluster.local.", mdns.TypeSRV, "NOERROR 0 100 5432 10-42-0-8.db.default.svc.cluster.local., 0 100 5432 db-0.db.default.svc.cluster.local."},
		{"all.default.svc.cluster.local.", mdns.TypeA, "NOERROR 10.42.0.10"},
		{"ext.prod.svc.cluster.local.", mdns.TypeA, "NOERROR example.com."},
		{"10-42-3-4.default.pod.cluster.local.", mdns.TypeA, "NOERROR 10.42.3.4"},
		{"10-42-3.default.pod.cluster.local.", mdns.TypeA, "NXDOMAIN +SOA"},
		{"20.0.43.10.in-addr.arpa.", mdns.TypePTR, "NOERROR web.default.svc.cluster.local."},
		{"7.0.42.10.in-addr.arpa.", mdns.TypePTR, "NOERROR db-0.db.default.svc.cluster.local."},
		{"cluster.local.", mdns.TypeSOA, "NOERROR ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"},
	}
	for _, tt := range tests {
		if got := answer(z, tt.name, tt.qtype); got != tt.want {
			t.Errorf("%s %s = %q, want %q", tt.name, mdns.TypeToString[tt.qtype], got, tt.want)
		}
	}
	for name, want := range map[string]bool{
		"anything.cluster.local.": true, "example.com.": false,
		"20.0.43.10.in-addr.arpa.": true, "1.1.168.192.in-addr.arpa.": false,
	} {
		if got := z.InZone(name); got != want {
			t.Errorf("InZone(%s) = %v, want %v", name, got, want)
		}
	}
}
