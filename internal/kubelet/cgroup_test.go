package kubelet

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestCgroupParent(t *testing.T) {
	res := func(req, lim string) v1.ResourceRequirements {
		r := v1.ResourceRequirements{}
		if req != "" {
			r.Requests = v1.ResourceList{v1.ResourceCPU: resource.MustParse(req), v1.ResourceMemory: resource.MustParse("64Mi")}
		}
		if lim != "" {
			r.Limits = v1.ResourceList{v1.ResourceCPU: resource.MustParse(lim), v1.ResourceMemory: resource.MustParse("64Mi")}
		}
		return r
	}
	pod := func(r v1.ResourceRequirements) *v1.Pod {
		return &v1.Pod{
			ObjectMeta: metav1.ObjectMeta{UID: "1a2b-3c"},
			Spec:       v1.PodSpec{Containers: []v1.Container{{Name: "c", Resources: r}}},
		}
	}
	for _, tc := range []struct {
		name, driver, want string
		pod                *v1.Pod
	}{
		{"best effort, cgroupfs", CgroupDriverCgroupfs, "/kubepods/besteffort/pod1a2b-3c", pod(res("", ""))},
		{"burstable, cgroupfs", CgroupDriverCgroupfs, "/kubepods/burstable/pod1a2b-3c", pod(res("100m", ""))},
		{"guaranteed, cgroupfs", CgroupDriverCgroupfs, "/kubepods/pod1a2b-3c", pod(res("", "1"))},
		{"best effort, systemd", CgroupDriverSystemd, "kubepods-besteffort-pod1a2b_3c.slice", pod(res("", ""))},
		{"burstable, systemd", CgroupDriverSystemd, "kubepods-burstable-pod1a2b_3c.slice", pod(res("100m", "2"))},
		{"guaranteed, systemd", CgroupDriverSystemd, "kubepods-pod1a2b_3c.slice", pod(res("1", "1"))},
	} {
		if got := cgroupParent(tc.pod, tc.driver); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}
