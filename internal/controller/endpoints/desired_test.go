package endpoints

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
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns", Labels: map[string]string{"team": "a"}},
		Spec: v1.ServiceSpec{
			Selector:  map[string]string{"app": "web"},
			ClusterIP: "10.43.0.10",
			Ports: []v1.ServicePort{
				{Name: "http", Port: 80, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromString("http")},
				{Name: "metrics", Port: 9090, Protocol: v1.ProtocolTCP, TargetPort: intstr.FromInt32(9100)},
			},
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

// addrs renders subsets as "ready|notready|ports" strings.
func addrs(ss []v1.EndpointSubset) []string {
	out := []string{}
	for _, s := range ss {
		r := ""
		for _, a := range s.Addresses {
			r += a.IP + "(" + a.TargetRef.Name + ") "
		}
		r += "|"
		for _, a := range s.NotReadyAddresses {
			r += a.IP + " "
		}
		r += "|"
		for _, p := range s.Ports {
			r += fmt.Sprintf("%s:%d ", p.Name, p.Port)
		}
		out = append(out, r)
	}
	return out
}

func TestSubsets(t *testing.T) {
	tests := []struct {
		name string
		svc  *v1.Service
		pods []*v1.Pod
		want []string
	}{
		{"ready and not ready, named and numeric ports", service(),
			[]*v1.Pod{pod("b", "10.42.0.6", true), pod("a", "10.42.0.5", true), pod("c", "10.42.0.7", false)},
			[]string{"10.42.0.5(a) 10.42.0.6(b) |10.42.0.7 |http:8080 metrics:9100 "}},
		{"publishNotReadyAddresses puts everyone in addresses", service(func(s *v1.Service) { s.Spec.PublishNotReadyAddresses = true }),
			[]*v1.Pod{pod("a", "10.42.0.5", false)},
			[]string{"10.42.0.5(a) ||http:8080 metrics:9100 "}},
		{"no IP, other labels, terminating, finished: left out", service(),
			[]*v1.Pod{
				pod("noip", "", true),
				pod("other", "10.42.0.8", true, func(p *v1.Pod) { p.Labels = map[string]string{"app": "db"} }),
				pod("going", "10.42.0.9", true, func(p *v1.Pod) { p.DeletionTimestamp = ptr.To(metav1.Now()) }),
				pod("done", "10.42.0.10", false, func(p *v1.Pod) {
					p.Spec.RestartPolicy = v1.RestartPolicyNever
					p.Status.Phase = v1.PodSucceeded
				}),
			},
			[]string{}},
		{"a pod without the named port gets only the numeric one", service(),
			[]*v1.Pod{pod("a", "10.42.0.5", true), pod("bare", "10.42.0.6", true, func(p *v1.Pod) { p.Spec.Containers[0].Ports = nil })},
			[]string{"10.42.0.5(a) ||http:8080 metrics:9100 ", "10.42.0.6(bare) ||metrics:9100 "}},
		{"headless without ports lists addresses only", service(func(s *v1.Service) { s.Spec.ClusterIP = v1.ClusterIPNone; s.Spec.Ports = nil }),
			[]*v1.Pod{pod("a", "10.42.0.5", true)},
			[]string{"10.42.0.5(a) ||"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := addrs(Subsets(tt.svc, tt.pods)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("subsets =\n %q\nwant\n %q", got, tt.want)
			}
		})
	}
}

func TestAddressDetails(t *testing.T) {
	svc := service()
	p := pod("a", "10.42.0.5", true, func(p *v1.Pod) { p.Spec.Hostname, p.Spec.Subdomain = "a0", "web" })
	a := Subsets(svc, []*v1.Pod{p})[0].Addresses[0]
	if a.Hostname != "a0" || *a.NodeName != "n1" || a.TargetRef.Kind != "Pod" || a.TargetRef.UID != "a" {
		t.Errorf("address = %+v", a)
	}
}

func TestLabels(t *testing.T) {
	got := Labels(service(func(s *v1.Service) { s.Spec.ClusterIP = v1.ClusterIPNone }))
	want := map[string]string{"team": "a", HeadlessLabel: "", discoveryv1.LabelSkipMirror: "true"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("labels = %v", got)
	}
	if Selects(&v1.Service{}) {
		t.Error("a service without a selector has user-written endpoints")
	}
}
