package validation

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// validService returns a ClusterIP service as defaulting and IP allocation
// would leave it.
func validService() *corev1.Service {
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: corev1.ServiceSpec{
			Type:                  corev1.ServiceTypeClusterIP,
			Selector:              map[string]string{"app": "web"},
			Ports:                 []corev1.ServicePort{{Name: "http", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
			ClusterIP:             "10.96.0.10",
			ClusterIPs:            []string{"10.96.0.10"},
			IPFamilies:            []corev1.IPFamily{corev1.IPv4Protocol},
			IPFamilyPolicy:        ptr(corev1.IPFamilyPolicySingleStack),
			SessionAffinity:       corev1.ServiceAffinityNone,
			InternalTrafficPolicy: ptr(corev1.ServiceInternalTrafficPolicyCluster),
		},
	}
}

func TestValidateService(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(s *corev1.Service)
		want   []string
	}{
		{"valid", func(*corev1.Service) {}, nil},
		{"unallocated clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.IPFamilies = "", nil, nil }, nil},
		{"name must start with a letter", func(s *corev1.Service) { s.Name = "1web" }, []string{invalid + "metadata.name"}},
		{"dotted name", func(s *corev1.Service) { s.Name = "web.v1" }, []string{invalid + "metadata.name"}},
		{"no ports", func(s *corev1.Service) { s.Spec.Ports = nil }, []string{required + "spec.ports"}},
		{"headless without ports", func(s *corev1.Service) {
			s.Spec.Ports = nil
			s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}
		}, nil},
		{"headless with only clusterIP", func(s *corev1.Service) {
			s.Spec.Ports = nil
			s.Spec.ClusterIP, s.Spec.ClusterIPs = corev1.ClusterIPNone, nil
		}, nil},
		{"two unnamed ports", func(s *corev1.Service) {
			s.Spec.Ports = []corev1.ServicePort{
				{Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(80)},
				{Port: 443, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(443)},
			}
		}, []string{required + "spec.ports[0].name", required + "spec.ports[1].name"}},
		{"single unnamed port ok", func(s *corev1.Service) { s.Spec.Ports[0].Name = "" }, nil},
		{"duplicate port names", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "http", Port: 81, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(81)})
		}, []string{duplicate + "spec.ports[1].name"}},
		{"bad port name", func(s *corev1.Service) { s.Spec.Ports[0].Name = "HTTP" }, []string{invalid + "spec.ports[0].name"}},
		{"duplicate port numbers", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "alt", Port: 80, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(81)})
		}, []string{duplicate + "spec.ports[1]"}},
		{"same port different protocol", func(s *corev1.Service) {
			s.Spec.Ports = append(s.Spec.Ports, corev1.ServicePort{Name: "dns", Port: 80, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(80)})
		}, nil},
		{"port zero", func(s *corev1.Service) { s.Spec.Ports[0].Port = 0 }, []string{invalid + "spec.ports[0].port"}},
		{"targetPort out of range", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromInt32(70000) }, []string{invalid + "spec.ports[0].targetPort"}},
		{"named targetPort", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("http") }, nil},
		{"bad named targetPort", func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("-http") }, []string{invalid + "spec.ports[0].targetPort"}},
		{"bad protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "ICMP" }, []string{notSupported + "spec.ports[0].protocol"}},
		{"missing protocol", func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "" }, []string{required + "spec.ports[0].protocol"}},
		{"nodePort on ClusterIP", func(s *corev1.Service) { s.Spec.Ports[0].NodePort = 30080 }, []string{forbidden + "spec.ports[0].nodePort"}},
		{"bad type", func(s *corev1.Service) { s.Spec.Type = "Magic" }, []string{notSupported + "spec.type"}},
		{"missing type", func(s *corev1.Service) { s.Spec.Type = "" }, []string{required + "spec.type"}},
		{"bad selector", func(s *corev1.Service) { s.Spec.Selector = map[string]string{"app": "bad value"} }, []string{invalid + "spec.selector"}},
		{"bad sessionAffinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "Cookie" }, []string{notSupported + "spec.sessionAffinity"}},
		{"missing sessionAffinity", func(s *corev1.Service) { s.Spec.SessionAffinity = "" }, []string{required + "spec.sessionAffinity"}},
		{"ClientIP without config", func(s *corev1.Service) { s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP }, []string{required + "spec.sessionAffinityConfig"}},
		{"ClientIP timeout too big", func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(86401))}}
		}, []string{invalid + "spec.sessionAffinityConfig.clientIP.timeoutSeconds"}},
		{"affinity config with None", func(s *corev1.Service) {
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr(int32(10))}}
		}, []string{forbidden + "spec.sessionAffinityConfig"}},
		{"bad clusterIP", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0", []string{"10.96.0"} }, []string{invalid + "spec.clusterIPs[0]"}},
		{"clusterIPs mismatch", func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.96.0.11"} }, []string{invalid + "spec.clusterIPs"}},
		{"family mismatch", func(s *corev1.Service) { s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol} }, []string{invalid + "spec.clusterIPs[0]"}},
		{"dual stack", func(s *corev1.Service) {
			s.Spec.ClusterIPs = []string{"10.96.0.10", "fd00::10"}
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
			s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyRequireDualStack)
		}, nil},
		{"two IPv4 clusterIPs", func(s *corev1.Service) { s.Spec.ClusterIPs = []string{"10.96.0.10", "10.96.0.11"} }, []string{invalid + "spec.clusterIPs"}},
		{"bad ipFamilyPolicy", func(s *corev1.Service) { s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicy("Whatever")) }, []string{notSupported + "spec.ipFamilyPolicy"}},
		{"loopback externalIP", func(s *corev1.Service) { s.Spec.ExternalIPs = []string{"127.0.0.1"} }, []string{invalid + "spec.externalIPs[0]", required + "spec.externalTrafficPolicy"}},
		{"valid NodePort", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, nil},
		{"nodePort out of range", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.Ports[0].NodePort = 70000
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, []string{invalid + "spec.ports[0].nodePort"}},
		{"NodePort without traffic policy", func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeNodePort }, []string{required + "spec.externalTrafficPolicy"}},
		{"headless NodePort", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeNodePort
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			s.Spec.ClusterIP, s.Spec.ClusterIPs, s.Spec.IPFamilies = corev1.ClusterIPNone, []string{corev1.ClusterIPNone}, nil
		}, []string{invalid + "spec.clusterIPs[0]"}},
		{"LoadBalancer without allocateLoadBalancerNodePorts", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
		}, []string{required + "spec.allocateLoadBalancerNodePorts"}},
		{"valid LoadBalancer", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
			s.Spec.AllocateLoadBalancerNodePorts = ptr(true)
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
		}, nil},
		{"source ranges on ClusterIP", func(s *corev1.Service) { s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"} }, []string{forbidden + "spec.LoadBalancerSourceRanges"}},
		{"externalTrafficPolicy on ClusterIP", func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }, []string{invalid + "spec.externalTrafficPolicy"}},
		{"missing internalTrafficPolicy", func(s *corev1.Service) { s.Spec.InternalTrafficPolicy = nil }, []string{required + "spec.internalTrafficPolicy"}},
		{"bad trafficDistribution", func(s *corev1.Service) { s.Spec.TrafficDistribution = ptr("Anywhere") }, []string{notSupported + "spec.trafficDistribution"}},
		{"valid ExternalName", func(s *corev1.Service) {
			*s = corev1.Service{ObjectMeta: s.ObjectMeta, Spec: corev1.ServiceSpec{
				Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com.", SessionAffinity: corev1.ServiceAffinityNone}}
		}, nil},
		{"ExternalName without name", func(s *corev1.Service) {
			*s = corev1.Service{ObjectMeta: s.ObjectMeta, Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, SessionAffinity: corev1.ServiceAffinityNone}}
		}, []string{required + "spec.externalName"}},
		{"ExternalName with clusterIP", func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeExternalName
			s.Spec.ExternalName = "db.example.com"
			s.Spec.InternalTrafficPolicy = nil
		}, []string{forbidden + "spec.clusterIPs", forbidden + "spec.ipFamilies", forbidden + "spec.ipFamilyPolicy"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := validService()
			tc.mutate(s)
			expectErrors(t, ValidateService(s), tc.want...)
		})
	}
}

func TestValidateServiceUpdate(t *testing.T) {
	old := validService()
	old.ObjectMeta = withRV(old.ObjectMeta)
	tests := []struct {
		name   string
		mutate func(s *corev1.Service)
		want   []string
	}{
		{"unchanged", func(*corev1.Service) {}, nil},
		{"ports change", func(s *corev1.Service) { s.Spec.Ports[0].Port = 8080 }, nil},
		{"clusterIP change", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "10.96.0.11", []string{"10.96.0.11"} }, []string{invalid + "spec.clusterIPs[0]"}},
		{"clusterIP removed", func(s *corev1.Service) { s.Spec.ClusterIP, s.Spec.ClusterIPs = "", nil }, []string{invalid + "spec.clusterIPs[0]"}},
		{"to ExternalName", func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", SessionAffinity: corev1.ServiceAffinityNone}
		}, nil},
		{"upgrade to dual stack", func(s *corev1.Service) {
			s.Spec.ClusterIPs = []string{"10.96.0.10", "fd00::10"}
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
			s.Spec.IPFamilyPolicy = ptr(corev1.IPFamilyPolicyPreferDualStack)
		}, nil},
		{"ipFamily change", func(s *corev1.Service) {
			s.Spec.ClusterIP, s.Spec.ClusterIPs = "fd00::10", []string{"fd00::10"}
			s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv6Protocol}
		}, []string{invalid + "spec.clusterIPs[0]", invalid + "spec.ipFamilies[0]"}},
		{"rename", func(s *corev1.Service) { s.Name = "other" }, []string{invalid + "metadata.name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := old.DeepCopy()
			tc.mutate(s)
			expectErrors(t, ValidateServiceUpdate(s, old), tc.want...)
		})
	}

	fromExternal := &corev1.Service{ObjectMeta: withRV(old.ObjectMeta), Spec: corev1.ServiceSpec{
		Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com", SessionAffinity: corev1.ServiceAffinityNone}}
	expectErrors(t, ValidateServiceUpdate(old.DeepCopy(), fromExternal))
}

func TestValidateServiceStatusUpdate(t *testing.T) {
	old := validService()
	old.ObjectMeta = withRV(old.ObjectMeta)
	lb := old.DeepCopy()
	lb.Spec.Type = corev1.ServiceTypeLoadBalancer
	tests := []struct {
		name string
		old  *corev1.Service
		ing  []corev1.LoadBalancerIngress
		want []string
	}{
		{"no ingress", old, nil, nil},
		{"ingress on ClusterIP", old, []corev1.LoadBalancerIngress{{IP: "1.2.3.4", IPMode: ptr(corev1.LoadBalancerIPModeVIP)}}, []string{forbidden + "status.loadBalancer.ingress"}},
		{"valid ingress", lb, []corev1.LoadBalancerIngress{{IP: "1.2.3.4", IPMode: ptr(corev1.LoadBalancerIPModeVIP)}, {Hostname: "lb.example.com"}}, nil},
		{"bad ingress IP", lb, []corev1.LoadBalancerIngress{{IP: "1.2.3", IPMode: ptr(corev1.LoadBalancerIPModeVIP)}}, []string{invalid + "status.loadBalancer.ingress[0].ip"}},
		{"ipMode required", lb, []corev1.LoadBalancerIngress{{IP: "1.2.3.4"}}, []string{required + "status.loadBalancer.ingress[0].ipMode"}},
		{"hostname is IP", lb, []corev1.LoadBalancerIngress{{Hostname: "1.2.3.4"}}, []string{invalid + "status.loadBalancer.ingress[0].hostname"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.old.DeepCopy()
			s.Status.LoadBalancer.Ingress = tc.ing
			expectErrors(t, ValidateServiceStatusUpdate(s, tc.old), tc.want...)
		})
	}
}

func validEndpoints() *corev1.Endpoints {
	return &corev1.Endpoints{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default"},
		Subsets: []corev1.EndpointSubset{{
			Addresses:         []corev1.EndpointAddress{{IP: "10.0.0.5", Hostname: "web-0", NodeName: ptr("node-1")}},
			NotReadyAddresses: []corev1.EndpointAddress{{IP: "fd00::6"}},
			Ports:             []corev1.EndpointPort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP}},
		}},
	}
}

func TestValidateEndpoints(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(e *corev1.Endpoints)
		want   []string
	}{
		{"valid", func(*corev1.Endpoints) {}, nil},
		{"no subsets", func(e *corev1.Endpoints) { e.Subsets = nil }, nil},
		{"bad name", func(e *corev1.Endpoints) { e.Name = "Web" }, []string{invalid + "metadata.name"}},
		{"no addresses", func(e *corev1.Endpoints) { e.Subsets[0].Addresses, e.Subsets[0].NotReadyAddresses = nil, nil }, []string{required + "subsets[0]"}},
		{"bad IP", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].IP = "10.0.0" }, []string{invalid + "subsets[0].addresses[0].ip", invalid + "subsets[0].addresses[0].ip"}},
		{"loopback IP", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].IP = "127.0.0.1" }, []string{invalid + "subsets[0].addresses[0].ip"}},
		{"link-local IP", func(e *corev1.Endpoints) { e.Subsets[0].NotReadyAddresses[0].IP = "169.254.1.1" }, []string{invalid + "subsets[0].notReadyAddresses[0].ip"}},
		{"bad hostname", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].Hostname = "a.b" }, []string{invalid + "subsets[0].addresses[0].hostname"}},
		{"bad nodeName", func(e *corev1.Endpoints) { e.Subsets[0].Addresses[0].NodeName = ptr("Node_1") }, []string{invalid + "subsets[0].addresses[0].nodeName"}},
		{"port out of range", func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Port = 0 }, []string{invalid + "subsets[0].ports[0].port"}},
		{"missing protocol", func(e *corev1.Endpoints) { e.Subsets[0].Ports[0].Protocol = "" }, []string{required + "subsets[0].ports[0].protocol"}},
		{"unnamed ports", func(e *corev1.Endpoints) {
			e.Subsets[0].Ports = []corev1.EndpointPort{{Port: 80, Protocol: corev1.ProtocolTCP}, {Name: "b", Port: 81, Protocol: corev1.ProtocolTCP}}
		}, []string{required + "subsets[0].ports[0].name"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := validEndpoints()
			tc.mutate(e)
			expectErrors(t, ValidateEndpoints(e), tc.want...)
		})
	}
	old := validEndpoints()
	old.ObjectMeta = withRV(old.ObjectMeta)
	upd := old.DeepCopy()
	upd.Subsets[0].Addresses[0].IP = "10.0.0.9"
	expectErrors(t, ValidateEndpointsUpdate(upd, old))
	upd.Namespace = "other"
	expectErrors(t, ValidateEndpointsUpdate(upd, old), invalid+"metadata.namespace")
}
