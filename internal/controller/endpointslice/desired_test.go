package endpointslice

import (
	"fmt"
	"reflect"
	"testing"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

func service(mod ...func(*v1.Service)) *v1.Service {
	s := &v1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", UID: "svc-uid", Labels: map[string]string{"team": "a"}},
		Spec: v1.ServiceSpec{
			Selector:  map[string]string{"app": "web"},
			ClusterIP: "10.43.0.10",
			Ports:     []v1.ServicePort{{Name: "http", Port: 80, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromString("http")}},
		},
	}
	for _, m := range mod {
		m(s)
	}
	return s
}

func pod(name, ip string, ready bool, mod ...func(*v1.Pod)) *v1.Pod {
	p := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name), Labels: map[string]string{"app": "web"}},
		Spec: v1.PodSpec{NodeName: "n1", Containers: []v1.Container{{Name: "c",
			Ports: []v1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: v1.ProtocolTCP}}}}},
		Status: v1.PodStatus{Phase: v1.PodRunning, PodIP: ip},
	}
	if ready {
		p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}
	}
	for _, m := range mod {
		m(p)
	}
	return p
}

// render shows a slice as "ports: name(ready,serving,terminating)...".
func render(ss []*discoveryv1.EndpointSlice) []string {
	out := []string{}
	for _, s := range ss {
		r := portsKey(s.Ports) + ":"
		for _, e := range s.Endpoints {
			c := e.Conditions
			r += fmt.Sprintf(" %s(%v,%v,%v)", e.TargetRef.Name, *c.Ready, *c.Serving, *c.Terminating)
		}
		out = append(out, r)
	}
	return out
}

func TestDesired(t *testing.T) {
	terminating := func(p *v1.Pod) { p.DeletionTimestamp = ptr.To(metav1.Now()) }
	tests := []struct {
		name string
		svc  *v1.Service
		pods []*v1.Pod
		want []string
	}{
		{"conditions", service(), []*v1.Pod{pod("a", "10.42.0.5", true), pod("b", "10.42.0.6", false), pod("c", "10.42.0.7", true, terminating)},
			[]string{"http/8080/TCP: a(true,true,false) b(false,false,false) c(false,true,true)"}},
		{"publishNotReadyAddresses: all ready", service(func(s *v1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*v1.Pod{pod("b", "10.42.0.6", false)}, []string{"http/8080/TCP: b(true,false,false)"}},
		{"no endpoints: one empty placeholder", service(), nil, []string{":"}},
		{"pods grouped by resolved ports", service(), []*v1.Pod{pod("a", "10.42.0.5", true), pod("bare", "10.42.0.6", true, func(p *v1.Pod) { p.Spec.Containers[0].Ports = nil })},
			[]string{": bare(true,true,false)", "http/8080/TCP: a(true,true,false)"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := render(Desired(tt.svc, tt.pods)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("slices = %q, want %q", got, tt.want)
			}
		})
	}
	var many []*v1.Pod
	for i := range 250 {
		many = append(many, pod(fmt.Sprintf("p%03d", i), fmt.Sprintf("10.42.1.%d", i), true))
	}
	d := Desired(service(), many)
	if len(d) != 3 || len(d[0].Endpoints) != 100 || len(d[2].Endpoints) != 50 {
		t.Errorf("250 endpoints in %d slices", len(d))
	}
	s := d[0]
	ref := s.OwnerReferences[0]
	if s.GenerateName != "web-" || s.AddressType != discoveryv1.AddressTypeIPv4 || ref.Kind != "Service" || ref.UID != "svc-uid" || !*ref.Controller ||
		s.Labels[discoveryv1.LabelServiceName] != "web" || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy || s.Labels["team"] != "a" {
		t.Errorf("slice meta = %+v", s.ObjectMeta)
	}
}

func named(name string, s *discoveryv1.EndpointSlice) *discoveryv1.EndpointSlice {
	s = s.DeepCopy()
	s.Name = name
	return s
}

func TestReconcile(t *testing.T) {
	svc := service()
	one := Desired(svc, []*v1.Pod{pod("a", "10.42.0.5", true)})[0]
	two := Desired(svc, []*v1.Pod{pod("a", "10.42.0.5", true), pod("b", "10.42.0.6", true)})[0]
	empty := Desired(svc, nil)[0]
	tests := []struct {
		name                  string
		existing, desired     []*discoveryv1.EndpointSlice
		create, update, delte int
	}{
		{"nothing yet", nil, []*discoveryv1.EndpointSlice{one}, 1, 0, 0},
		{"up to date", []*discoveryv1.EndpointSlice{named("web-x", one)}, []*discoveryv1.EndpointSlice{one}, 0, 0, 0},
		{"a pod more: update in place", []*discoveryv1.EndpointSlice{named("web-x", one)}, []*discoveryv1.EndpointSlice{two}, 0, 1, 0},
		{"ports changed: placeholder replaces", []*discoveryv1.EndpointSlice{named("web-x", one)}, []*discoveryv1.EndpointSlice{empty}, 1, 0, 1},
		{"duplicates collapse", []*discoveryv1.EndpointSlice{named("web-x", one), named("web-y", one)}, []*discoveryv1.EndpointSlice{one}, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Reconcile(tt.existing, tt.desired)
			if len(p.Create) != tt.create || len(p.Update) != tt.update || len(p.Delete) != tt.delte {
				t.Errorf("create %d update %d delete %d, want %d %d %d", len(p.Create), len(p.Update), len(p.Delete), tt.create, tt.update, tt.delte)
			}
			for _, u := range p.Update {
				if u.Name == "" {
					t.Error("an update must keep the slice's name")
				}
			}
		})
	}
}
