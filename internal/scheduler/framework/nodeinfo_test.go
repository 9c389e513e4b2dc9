package framework_test

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func TestNodeInfoAddRemove(t *testing.T) {
	ni := framework.NewNodeInfo()
	ni.SetNode(st.Node("n").Cap("cpu", "4", "memory", "8Gi").Obj())
	a := st.Pod("a").Req("cpu", "1", "memory", "1Gi").HostPort(80, v1.ProtocolTCP, "").Obj()
	b := st.Pod("b").PodAntiAffinity(st.AffinityTerm(v1.LabelHostname, "app", "x")).Obj()
	ni.AddPod(framework.NewPodInfo(a))
	ni.AddPod(framework.NewPodInfo(b))
	g := ni.Generation

	if ni.Requested.MilliCPU != 1000 || ni.NonZeroRequested.MilliCPU != 1000+framework.DefaultMilliCPURequest {
		t.Errorf("requested = %d, non-zero %d", ni.Requested.MilliCPU, ni.NonZeroRequested.MilliCPU)
	}
	if len(ni.PodsWithAffinity) != 1 || len(ni.PodsWithRequiredAntiAffinity) != 1 {
		t.Errorf("affinity lists = %d, %d; want 1, 1", len(ni.PodsWithAffinity), len(ni.PodsWithRequiredAntiAffinity))
	}
	if !ni.UsedPorts.CheckConflict("", "TCP", 80) {
		t.Error("port 80 should be taken")
	}

	clone := ni.Clone()
	if err := clone.RemovePod(a); err != nil {
		t.Fatal(err)
	}
	if len(ni.Pods) != 2 || ni.Requested.MilliCPU != 1000 {
		t.Error("removing from a clone changed the original")
	}
	if err := ni.RemovePod(b); err != nil {
		t.Fatal(err)
	}
	if ni.PodsWithAffinity != nil || ni.PodsWithRequiredAntiAffinity != nil || len(ni.Pods) != 1 {
		t.Errorf("after removing b: %d pods, affinity lists %v %v", len(ni.Pods), ni.PodsWithAffinity, ni.PodsWithRequiredAntiAffinity)
	}
	if ni.Generation <= g {
		t.Error("generation did not advance")
	}
	if err := ni.RemovePod(b); err == nil {
		t.Error("removing an absent pod should fail")
	}
}

func TestHostPortConflict(t *testing.T) {
	used := framework.HostPortInfo{}
	used.Add("127.0.0.1", "TCP", 8080)
	used.Add("", "", 9090) // 0.0.0.0 TCP
	tests := []struct {
		ip, proto string
		port      int32
		conflict  bool
	}{
		{"127.0.0.1", "TCP", 8080, true},
		{"127.0.0.2", "TCP", 8080, false},
		{"0.0.0.0", "TCP", 8080, true},
		{"127.0.0.1", "UDP", 8080, false},
		{"10.0.0.1", "TCP", 9090, true},
		{"", "UDP", 9090, false},
		{"", "", 0, false},
	}
	for _, tt := range tests {
		if got := used.CheckConflict(tt.ip, tt.proto, tt.port); got != tt.conflict {
			t.Errorf("CheckConflict(%q, %q, %d) = %v, want %v", tt.ip, tt.proto, tt.port, got, tt.conflict)
		}
	}
	used.Remove("", "TCP", 9090)
	if used.CheckConflict("", "TCP", 9090) || used.Len() != 1 {
		t.Error("port 9090 should be free after Remove")
	}
}

func TestSnapshot(t *testing.T) {
	nodes := []*v1.Node{
		st.Node("b").Images(100, "img:1", "img@sha").Obj(),
		st.Node("a").Images(100, "img:1").Obj(),
	}
	pods := []*v1.Pod{
		st.Pod("p1").Node("a").PodAffinity(st.AffinityTerm(v1.LabelHostname, "x", "y")).Obj(),
		st.Pod("p2").Node("gone").Obj(),
	}
	ns := &v1.Namespace{}
	ns.Name, ns.Labels = "default", map[string]string{"team": "t"}
	s := framework.NewSnapshot(pods, nodes, ns)
	if s.NumNodes() != 2 || s.List()[0].Name() != "b" {
		t.Fatalf("order = %v", s.List())
	}
	if got := s.Get("a").ImageStates["img:1"].NumNodes; got != 2 {
		t.Errorf("img:1 on %d nodes, want 2", got)
	}
	if len(s.HavePodsWithAffinityList()) != 1 || len(s.HavePodsWithRequiredAntiAffinityList()) != 0 {
		t.Error("affinity lists wrong")
	}
	if s.NamespaceLabels("default")["team"] != "t" {
		t.Error("namespace labels missing")
	}
}

func TestStatus(t *testing.T) {
	var nilStatus *framework.Status
	if !nilStatus.IsSuccess() || nilStatus.Code() != framework.Success || nilStatus.AsError() != nil {
		t.Error("nil status must be Success")
	}
	s := framework.NewStatus(framework.Unschedulable, "Insufficient cpu", "Insufficient memory").WithPlugin("Fit")
	if !s.IsRejected() || s.Message() != "Insufficient cpu, Insufficient memory" || s.Plugin() != "Fit" {
		t.Errorf("got %v from %q", s, s.Plugin())
	}
	if s.String() != "Unschedulable: Insufficient cpu, Insufficient memory" {
		t.Errorf("String() = %q", s.String())
	}
	if framework.NewStatus(framework.Skip).AsError() != nil {
		t.Error("Skip is not an error")
	}
}
