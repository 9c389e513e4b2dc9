package nodeports

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func TestFilter(t *testing.T) {
	existing := st.Pod("existing").Node("n").HostPort(8080, v1.ProtocolTCP, "127.0.0.1").HostPort(9090, v1.ProtocolUDP, "").Obj()
	snap := framework.NewSnapshot([]*v1.Pod{existing}, []*v1.Node{st.Node("n").Obj()})
	clash := "Unschedulable: " + ErrReason
	tests := []struct {
		name string
		pod  *v1.Pod
		want string
	}{
		{"no host ports", st.Pod("p").Obj(), "Success"},
		{"free port", st.Pod("p").HostPort(8081, v1.ProtocolTCP, "").Obj(), "Success"},
		{"same port, other address", st.Pod("p").HostPort(8080, v1.ProtocolTCP, "127.0.0.2").Obj(), "Success"},
		{"same port, same address", st.Pod("p").HostPort(8080, v1.ProtocolTCP, "127.0.0.1").Obj(), clash},
		{"same port on every address", st.Pod("p").HostPort(8080, v1.ProtocolTCP, "").Obj(), clash},
		{"same port, other protocol", st.Pod("p").HostPort(8080, v1.ProtocolUDP, "127.0.0.1").Obj(), "Success"},
		{"port taken on every address", st.Pod("p").HostPort(9090, v1.ProtocolUDP, "10.0.0.1").Obj(), clash},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := st.Filter(New(), tt.pod, snap)
			if got["n"].String() != tt.want {
				t.Errorf("got %v, want %s", got["n"], tt.want)
			}
		})
	}
}

func TestSidecarPortsCount(t *testing.T) {
	pod := st.Pod("p").Sidecar().Obj()
	pod.Spec.InitContainers[0].Ports = []v1.ContainerPort{{HostPort: 53, Protocol: v1.ProtocolUDP}}
	if got := framework.NewPodInfo(pod).HostPorts; len(got) != 1 || got[0].HostPort != 53 {
		t.Errorf("host ports = %v", got)
	}
	pod = st.Pod("p").Init().Obj()
	pod.Spec.InitContainers[0].Ports = []v1.ContainerPort{{HostPort: 53}}
	if got := framework.NewPodInfo(pod).HostPorts; len(got) != 0 {
		t.Errorf("an ordinary init container's ports must not count: %v", got)
	}
}

func TestQueueingHint(t *testing.T) {
	pod := st.Pod("p").HostPort(80, v1.ProtocolTCP, "").Obj()
	holder := st.Pod("h").Node("n").HostPort(80, v1.ProtocolTCP, "").Obj()
	other := st.Pod("o").Node("n").HostPort(81, v1.ProtocolTCP, "").Obj()
	if h, _ := afterAssignedPodDeleted(pod, holder, nil); h != framework.Queue {
		t.Error("deleting the pod holding port 80 should queue")
	}
	if h, _ := afterAssignedPodDeleted(pod, other, nil); h != framework.QueueSkip {
		t.Error("deleting a pod holding another port should not")
	}
}
