package framework_test

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func TestPodRequests(t *testing.T) {
	tests := []struct {
		name     string
		pod      *v1.Pod
		cpu      int64 // millicores
		memory   int64 // bytes
		non0CPU  int64
		non0Mem  int64
		extended int64 // example.com/gpu
	}{
		{
			name: "containers are summed",
			pod:  st.Pod("p").Req("cpu", "100m", "memory", "1Gi").Container("x", "cpu", "200m", "memory", "1Gi").Obj(),
			cpu:  300, memory: 2 << 30, non0CPU: 300, non0Mem: 2 << 30,
		},
		{
			name: "an init container larger than the containers sets the request",
			pod:  st.Pod("p").Req("cpu", "100m").Init("cpu", "2").Obj(),
			cpu:  2000, non0CPU: 2000, non0Mem: framework.DefaultMemoryRequest,
		},
		{
			name: "init containers run one at a time: the largest counts",
			pod:  st.Pod("p").Req("cpu", "1").Init("cpu", "500m").Init("cpu", "1500m").Obj(),
			cpu:  1500, non0CPU: 1500, non0Mem: framework.DefaultMemoryRequest,
		},
		{
			name: "sidecars are summed with the containers",
			pod:  st.Pod("p").Req("cpu", "1").Sidecar("cpu", "500m").Obj(),
			cpu:  1500, non0CPU: 1500, non0Mem: framework.DefaultMemoryRequest * 2,
		},
		{
			name: "an init container after a sidecar runs next to it",
			pod:  st.Pod("p").Req("cpu", "100m").Sidecar("cpu", "500m").Init("cpu", "1").Obj(),
			cpu:  1500, non0CPU: 1500, non0Mem: framework.DefaultMemoryRequest * 2,
		},
		{
			name: "an init container before a sidecar does not",
			pod:  st.Pod("p").Req("cpu", "100m").Init("cpu", "1").Sidecar("cpu", "500m").Obj(),
			cpu:  1000, non0CPU: 1000, non0Mem: framework.DefaultMemoryRequest * 2,
		},
		{
			name: "overhead is added",
			pod:  st.Pod("p").Req("cpu", "1", "memory", "1Gi").Overhead("cpu", "250m", "memory", "120Mi").Obj(),
			cpu:  1250, memory: 1<<30 + 120<<20, non0CPU: 1250, non0Mem: 1<<30 + 120<<20,
		},
		{
			name:    "a best-effort pod requests nothing but scores with the defaults per container",
			pod:     st.Pod("p").Container("x").Obj(),
			non0CPU: 2 * framework.DefaultMilliCPURequest, non0Mem: 2 * framework.DefaultMemoryRequest,
		},
		{
			name: "pod-level requests replace the containers' cpu and memory",
			pod:  st.Pod("p").Req("cpu", "100m", "example.com/gpu", "1").PodLevel("cpu", "2", "memory", "1Gi").Obj(),
			cpu:  2000, memory: 1 << 30, non0CPU: 2000, non0Mem: 1 << 30, extended: 1,
		},
		{
			name:     "extended resources are counted",
			pod:      st.Pod("p").Req("example.com/gpu", "2").Obj(),
			extended: 2, non0CPU: framework.DefaultMilliCPURequest, non0Mem: framework.DefaultMemoryRequest,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi := framework.NewPodInfo(tt.pod)
			if pi.Requests.MilliCPU != tt.cpu || pi.Requests.Memory != tt.memory {
				t.Errorf("requests = %dm cpu, %d memory; want %dm, %d", pi.Requests.MilliCPU, pi.Requests.Memory, tt.cpu, tt.memory)
			}
			if pi.NonZeroMilliCPU != tt.non0CPU || pi.NonZeroMemory != tt.non0Mem {
				t.Errorf("non-zero requests = %dm cpu, %d memory; want %dm, %d", pi.NonZeroMilliCPU, pi.NonZeroMemory, tt.non0CPU, tt.non0Mem)
			}
			if got := pi.Requests.ScalarResources["example.com/gpu"]; got != tt.extended {
				t.Errorf("example.com/gpu = %d, want %d", got, tt.extended)
			}
		})
	}
}

func TestPodRequestsAfterResize(t *testing.T) {
	pod := st.Pod("p").Req("cpu", "1").Obj()
	pod.Status.ContainerStatuses = []v1.ContainerStatus{{
		Name:               "c",
		AllocatedResources: v1.ResourceList{v1.ResourceCPU: resource.MustParse("2")},
	}}
	if got := framework.NewPodInfo(pod).Requests.MilliCPU; got != 2000 {
		t.Errorf("a pod resized down in spec but still allocated 2 cpu counts %dm, want 2000m", got)
	}
	pod.Status.ContainerStatuses[0].AllocatedResources = v1.ResourceList{v1.ResourceCPU: resource.MustParse("500m")}
	if got := framework.NewPodInfo(pod).Requests.MilliCPU; got != 1000 {
		t.Errorf("a pod resized up in spec counts %dm, want the spec's 1000m", got)
	}
}

func TestIsExtendedResourceName(t *testing.T) {
	for name, want := range map[v1.ResourceName]bool{
		"example.com/gpu":        true,
		"cpu":                    false,
		"kubernetes.io/foo":      false,
		"hugepages-2Mi":          false,
		"requests.example.com/x": false,
		"bad name/x":             false,
	} {
		if got := framework.IsExtendedResourceName(name); got != want {
			t.Errorf("IsExtendedResourceName(%q) = %v, want %v", name, got, want)
		}
	}
}
