package discovery

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errKeys(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s %s", e.Type, e.Field))
	}
	return out
}

func key(t field.ErrorType, f string) string { return fmt.Sprintf("%s %s", t, f) }

func checkErrs(t *testing.T, got field.ErrorList, want ...string) {
	t.Helper()
	if g := errKeys(got); !slices.Equal(g, want) {
		t.Errorf("errors mismatch\n got: %q\nwant: %q\nfull: %v", g, want, got)
	}
}

func ptr[T any](v T) *T { return &v }

func validSlice() *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-abc12", Namespace: "default", ResourceVersion: "1"},
		AddressType: discoveryv1.AddressTypeIPv4,
		Endpoints: []discoveryv1.Endpoint{{
			Addresses:  []string{"10.0.0.1"},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr(true)},
			Hostname:   ptr("web-0"),
			NodeName:   ptr("node-1.example"),
			Zone:       ptr("zone-a"),
			Hints: &discoveryv1.EndpointHints{
				ForZones: []discoveryv1.ForZone{{Name: "zone-a"}},
				ForNodes: []discoveryv1.ForNode{{Name: "node-1.example"}},
			},
		}},
		Ports: []discoveryv1.EndpointPort{
			{Name: ptr("http"), Protocol: ptr(corev1.ProtocolTCP), Port: ptr(int32(80)), AppProtocol: ptr("kubernetes.io/h2c")},
			{Name: ptr(""), Protocol: ptr(corev1.ProtocolUDP), Port: ptr(int32(53))},
		},
	}
}

type sliceCase struct {
	name   string
	mutate func(*discoveryv1.EndpointSlice)
	want   []string
}

func sliceCases() []sliceCase {
	return []sliceCase{
		{name: "valid", mutate: func(*discoveryv1.EndpointSlice) {}},
		{name: "no endpoints or ports", mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints, s.Ports = nil, nil }},
		{name: "ipv6", mutate: func(s *discoveryv1.EndpointSlice) {
			s.AddressType = discoveryv1.AddressTypeIPv6
			s.Endpoints[0].Addresses = []string{"2001:db8::1"}
		}},
		{name: "fqdn", mutate: func(s *discoveryv1.EndpointSlice) {
			s.AddressType = discoveryv1.AddressTypeFQDN
			s.Endpoints[0].Addresses = []string{"db.example.com"}
		}},
		{
			name:   "missing address type",
			mutate: func(s *discoveryv1.EndpointSlice) { s.AddressType = "" },
			want:   []string{key(field.ErrorTypeRequired, "addressType")},
		},
		{
			name:   "unsupported address type",
			mutate: func(s *discoveryv1.EndpointSlice) { s.AddressType = "IP" },
			want:   []string{key(field.ErrorTypeNotSupported, "addressType")},
		},
		{
			name:   "no addresses",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = nil },
			want:   []string{key(field.ErrorTypeRequired, "endpoints[0].addresses")},
		},
		{
			name: "too many addresses",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].Addresses = nil
				for i := range MaxAddresses + 1 {
					s.Endpoints[0].Addresses = append(s.Endpoints[0].Addresses, fmt.Sprintf("10.0.%d.%d", i/200, i%200+1))
				}
			},
			want: []string{key(field.ErrorTypeTooMany, "endpoints[0].addresses")},
		},
		{
			name:   "garbage address",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"10.0.0.1", "nope"} },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].addresses[1]")},
		},
		{
			name:   "ipv6 in ipv4 slice",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"2001:db8::1"} },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].addresses[0]")},
		},
		{
			name:   "leading zeros",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"010.0.0.1"} },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].addresses[0]")},
		},
		{
			name:   "loopback",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"127.0.0.1"} },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].addresses[0]")},
		},
		{
			name:   "unspecified",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"0.0.0.0"} },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].addresses[0]")},
		},
		{
			name:   "link local",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"169.254.169.254"} },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].addresses[0]")},
		},
		{
			name:   "link local multicast",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Addresses = []string{"224.0.0.1"} },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].addresses[0]")},
		},
		{
			name: "bad fqdn",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.AddressType = discoveryv1.AddressTypeFQDN
				s.Endpoints[0].Addresses = []string{"Not_A_Domain"}
			},
			want: []string{key(field.ErrorTypeInvalid, "endpoints[0].addresses[0]")},
		},
		{
			name:   "bad hostname",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].Hostname = ptr("web.0") },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].hostname")},
		},
		{
			name:   "bad node name",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].NodeName = ptr("Node_1") },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].nodeName")},
		},
		{
			name:   "bad topology label",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Endpoints[0].DeprecatedTopology = map[string]string{"a": "b c"} },
			want:   []string{key(field.ErrorTypeInvalid, "endpoints[0].deprecatedTopology")},
		},
		{
			name: "duplicate zone hint",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].Hints.ForZones = []discoveryv1.ForZone{{Name: "a"}, {Name: "a"}}
			},
			want: []string{key(field.ErrorTypeDuplicate, "endpoints[0].hints.forZones[1].name")},
		},
		{
			name: "too many zone hints",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].Hints.ForZones = nil
				for i := range MaxZoneHints + 1 {
					s.Endpoints[0].Hints.ForZones = append(s.Endpoints[0].Hints.ForZones, discoveryv1.ForZone{Name: fmt.Sprintf("z%d", i)})
				}
			},
			want: []string{key(field.ErrorTypeTooMany, "endpoints[0].hints.forZones")},
		},
		{
			name: "bad node hint",
			mutate: func(s *discoveryv1.EndpointSlice) {
				s.Endpoints[0].Hints.ForNodes = []discoveryv1.ForNode{{Name: "BAD"}}
			},
			want: []string{key(field.ErrorTypeInvalid, "endpoints[0].hints.forNodes[0].name")},
		},
		{
			name:   "bad port name",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Ports[0].Name = ptr("HTTP") },
			want:   []string{key(field.ErrorTypeInvalid, "ports[0].name")},
		},
		{
			name:   "duplicate port name",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Ports[1].Name = ptr("http") },
			want:   []string{key(field.ErrorTypeDuplicate, "ports[1].name")},
		},
		{
			name:   "missing protocol",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Ports[0].Protocol = nil },
			want:   []string{key(field.ErrorTypeRequired, "ports[0].protocol")},
		},
		{
			name:   "unsupported protocol",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Ports[0].Protocol = ptr(corev1.Protocol("ICMP")) },
			want:   []string{key(field.ErrorTypeNotSupported, "ports[0].protocol")},
		},
		{
			name:   "bad app protocol",
			mutate: func(s *discoveryv1.EndpointSlice) { s.Ports[0].AppProtocol = ptr("not a/valid/protocol") },
			want:   []string{key(field.ErrorTypeInvalid, "ports[0].appProtocol")},
		},
	}
}

func TestValidateEndpointSlice(t *testing.T) {
	cases := append(sliceCases(), sliceCase{
		name:   "missing namespace",
		mutate: func(s *discoveryv1.EndpointSlice) { s.Namespace = "" },
		want:   []string{key(field.ErrorTypeRequired, "metadata.namespace")},
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validSlice()
			tc.mutate(s)
			checkErrs(t, ValidateEndpointSlice(s), tc.want...)
		})
	}
}

func TestValidateEndpointSliceUpdate(t *testing.T) {
	for _, tc := range sliceCases() {
		if strings.Contains(tc.name, "address type") || tc.name == "ipv6" || tc.name == "fqdn" || tc.name == "bad fqdn" {
			continue // address type changes are covered below
		}
		t.Run(tc.name, func(t *testing.T) {
			old := validSlice()
			s := validSlice()
			tc.mutate(s)
			checkErrs(t, ValidateEndpointSliceUpdate(s, old), tc.want...)
		})
	}
	t.Run("address type immutable", func(t *testing.T) {
		old := validSlice()
		s := validSlice()
		s.AddressType = discoveryv1.AddressTypeFQDN
		s.Endpoints[0].Addresses = []string{"db.example.com"}
		checkErrs(t, ValidateEndpointSliceUpdate(s, old), key(field.ErrorTypeInvalid, "addressType"))
	})
	t.Run("old non-canonical address kept", func(t *testing.T) {
		old := validSlice()
		old.Endpoints[0].Addresses = []string{"010.0.0.1"}
		s := validSlice()
		s.Endpoints[0].Addresses = []string{"010.0.0.1", "10.0.0.2"}
		checkErrs(t, ValidateEndpointSliceUpdate(s, old))
	})
}

func TestEndpointIPMessages(t *testing.T) {
	s := validSlice()
	s.Endpoints[0].Addresses = []string{"127.0.0.1"}
	errs := ValidateEndpointSlice(s)
	if len(errs) != 1 || errs[0].Detail != "may not be in the loopback range (127.0.0.0/8, ::1/128)" {
		t.Fatalf("got %v", errs)
	}
}
