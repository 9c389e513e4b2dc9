package model

import (
	"fmt"
	"strings"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

func svc(name string, mod func(*v1.Service)) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: "ns", Name: name},
		Spec: v1.ServiceSpec{Type: v1.ServiceTypeClusterIP, ClusterIP: "10.43.0.20",
			Ports: []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP}}},
	}
	if mod != nil {
		mod(s)
	}
	return s
}

func slice(name, svcName string, port string, portNum int32, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: "ns", Name: name, Labels: map[string]string{discoveryv1.LabelServiceName: svcName}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To(port), Port: ptr.To(portNum), Protocol: ptr.To(v1.ProtocolTCP)}},
		Endpoints:   eps,
	}
}

func endpoint(ip string, ready *bool, node string) discoveryv1.Endpoint {
	e := discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ready}}
	if node != "" {
		e.NodeName = ptr.To(node)
	}
	return e
}

// show prints a snapshot compactly: one line a port, its endpoints with
// r(eady) s(erving) t(erminating) l(ocal) flags.
func show(s *Snapshot) string {
	var b strings.Builder
	for _, p := range s.Ports {
		fmt.Fprintf(&b, "%s/%s %s:%d np=%d aff=%d il=%v el=%v ext=%v [", p.Name, p.Name.Protocol, p.ClusterIP, p.Port, p.NodePort, p.AffinitySeconds, p.InternalLocal, p.ExternalLocal, p.ExternalIPs)
		for i, e := range p.Endpoints {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(e.String())
			for _, f := range []struct {
				on bool
				c  string
			}{{e.Ready, "r"}, {e.Serving, "s"}, {e.Terminating, "t"}, {e.Local, "l"}} {
				if f.on {
					b.WriteString(f.c)
				}
			}
		}
		b.WriteString("]\n")
	}
	return b.String()
}

func TestBuild(t *testing.T) {
	tests := []struct {
		name     string
		services []*v1.Service
		slices   []*discoveryv1.EndpointSlice
		want     string
	}{
		{
			name:     "endpoints from two slices, deduplicated, the local one flagged, sorted",
			services: []*v1.Service{svc("web", nil)},
			slices: []*discoveryv1.EndpointSlice{
				slice("web-1", "web", "http", 8080, endpoint("10.42.0.6", nil, "a"), endpoint("10.42.0.5", ptr.To(true), "b")),
				slice("web-2", "web", "http", 8080, endpoint("10.42.0.5", ptr.To(true), "b"), endpoint("10.42.0.7", ptr.To(false), "")),
			},
			want: "ns/web:http/TCP 10.43.0.20:80 np=0 aff=0 il=false el=false ext=[] [10.42.0.5:8080rs 10.42.0.6:8080rsl 10.42.0.7:8080]\n",
		},
		{
			name: "headless, ExternalName and services without an address are not proxied",
			services: []*v1.Service{
				svc("headless", func(s *v1.Service) { s.Spec.ClusterIP = v1.ClusterIPNone }),
				svc("ext", func(s *v1.Service) { s.Spec.Type = v1.ServiceTypeExternalName; s.Spec.ClusterIP = "" }),
				svc("v6", func(s *v1.Service) { s.Spec.ClusterIP = "fd00::1" }),
			},
		},
		{
			name: "NodePort with ClientIP affinity, Local policies, external IPs",
			services: []*v1.Service{svc("np", func(s *v1.Service) {
				s.Spec.Type = v1.ServiceTypeNodePort
				s.Spec.Ports[0].NodePort = 30080
				s.Spec.SessionAffinity = v1.ServiceAffinityClientIP
				s.Spec.ExternalTrafficPolicy = v1.ServiceExternalTrafficPolicyLocal
				s.Spec.InternalTrafficPolicy = ptr.To(v1.ServiceInternalTrafficPolicyLocal)
				s.Spec.ExternalIPs = []string{"192.0.2.9"}
			})},
			want: "ns/np:http/TCP 10.43.0.20:80 np=30080 aff=10800 il=true el=true ext=[192.0.2.9] []\n",
		},
		{
			name: "a slice port of another name or protocol is not this port's; a terminating endpoint keeps serving",
			services: []*v1.Service{svc("web", func(s *v1.Service) {
				s.Spec.Ports = append(s.Spec.Ports, v1.ServicePort{Name: "dns", Port: 53, Protocol: v1.ProtocolUDP})
			})},
			slices: []*discoveryv1.EndpointSlice{
				slice("web-1", "web", "dns", 5353),
				func() *discoveryv1.EndpointSlice {
					s := slice("web-2", "web", "dns", 53, discoveryv1.Endpoint{Addresses: []string{"10.42.0.9"},
						Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(false), Serving: ptr.To(true), Terminating: ptr.To(true)}})
					s.Ports[0].Protocol = ptr.To(v1.ProtocolUDP)
					return s
				}(),
			},
			want: "ns/web:dns/UDP 10.43.0.20:53 np=0 aff=0 il=false el=false ext=[] [10.42.0.9:53st]\n" +
				"ns/web:http/TCP 10.43.0.20:80 np=0 aff=0 il=false el=false ext=[] []\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := show(Build(tt.services, tt.slices, "a")); got != tt.want {
				t.Errorf("got\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}

func TestUsableEndpoints(t *testing.T) {
	sp := &ServicePort{}
	for _, e := range []Endpoint{
		{Port: 1, Ready: true, Serving: true},
		{Port: 2, Serving: true, Terminating: true, Local: true},
		{Port: 3, Ready: true, Serving: true, Local: true},
	} {
		sp.Endpoints = append(sp.Endpoints, e)
	}
	if got := sp.UsableEndpoints(false); len(got) != 2 || got[0].Port != 1 || got[1].Port != 3 {
		t.Errorf("all: %v", got)
	}
	if got := sp.UsableEndpoints(true); len(got) != 1 || got[0].Port != 3 {
		t.Errorf("local: %v", got)
	}
	sp.Endpoints[2].Ready = false
	if got := sp.UsableEndpoints(true); len(got) != 1 || got[0].Port != 2 {
		t.Errorf("local, none ready: want the terminating one that serves, got %v", got)
	}
}
