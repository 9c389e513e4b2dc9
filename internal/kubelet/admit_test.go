package kubelet

import (
	"testing"

	v1 "k8s.io/api/core/v1"
)

func TestAdmitPod(t *testing.T) {
	req := func(cpu, mem string) *v1.Pod {
		p := podWith(v1.RestartPolicyAlways, "a")
		p.Spec.Containers[0].Resources.Requests = v1.ResourceList{}
		if cpu != "" {
			p.Spec.Containers[0].Resources.Requests[v1.ResourceCPU] = resourceMust(cpu)
		}
		if mem != "" {
			p.Spec.Containers[0].Resources.Requests[v1.ResourceMemory] = resourceMust(mem)
		}
		return p
	}
	alloc := v1.ResourceList{v1.ResourcePods: resourceMust("2"), v1.ResourceCPU: resourceMust("1"), v1.ResourceMemory: resourceMust("1Gi")}
	cases := []struct {
		name     string
		pod      *v1.Pod
		admitted []*v1.Pod
		reason   string
		message  string
	}{
		{"fits", req("500m", "512Mi"), []*v1.Pod{req("", "")}, "", ""},
		{"no pod slot left", req("", ""), []*v1.Pod{req("", ""), req("", "")}, "OutOfpods",
			"Node didn't have enough resource: pods, requested: 1, used: 2, capacity: 2"},
		{"cpu", req("600m", ""), []*v1.Pod{req("500m", "")}, "OutOfcpu",
			"Node didn't have enough resource: cpu, requested: 600, used: 500, capacity: 1000"},
		{"memory", req("", "600Mi"), []*v1.Pod{req("", "512Mi")}, "OutOfmemory",
			"Node didn't have enough resource: memory, requested: 629145600, used: 536870912, capacity: 1073741824"},
		{"best effort always fits the resources", req("", ""), []*v1.Pod{req("1", "1Gi")}, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			reason, msg := admitPod(tc.pod, tc.admitted, alloc)
			if reason != tc.reason || msg != tc.message {
				t.Errorf("got %q %q, want %q %q", reason, msg, tc.reason, tc.message)
			}
		})
	}
}
