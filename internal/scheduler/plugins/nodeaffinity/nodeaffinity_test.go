package nodeaffinity

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func TestFilter(t *testing.T) {
	nodes := []*v1.Node{st.Node("a1").Zone("a").Obj(), st.Node("b1").Zone("b").Obj()}
	snap := framework.NewSnapshot(nil, nodes)
	mismatch := "UnschedulableAndUnresolvable: " + ErrReasonPod
	names := func(vals ...string) v1.NodeSelectorTerm {
		return v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{st.Expr("metadata.name", v1.NodeSelectorOpIn, vals...)}}
	}
	tests := []struct {
		name      string
		pod       *v1.Pod
		preFilter string
		want      map[string]string
	}{
		{"no constraints: skipped", st.Pod("p").Obj(), "Skip", map[string]string{"a1": "Success", "b1": "Success"}},
		{"nodeSelector", st.Pod("p").NodeSelector(v1.LabelTopologyZone, "a").Obj(), "Success",
			map[string]string{"a1": "Success", "b1": mismatch}},
		{"required affinity", st.Pod("p").RequiredNodeTerm(st.Term(st.Expr(v1.LabelTopologyZone, v1.NodeSelectorOpNotIn, "a"))).Obj(), "Success",
			map[string]string{"a1": mismatch, "b1": "Success"}},
		{"metadata.name pins the node, as for DaemonSet pods", st.Pod("p").RequiredNodeTerm(names("b1")).Obj(), "Success",
			map[string]string{"a1": mismatch, "b1": "Success"}},
		{"conflicting names", st.Pod("p").RequiredNodeTerm(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{
			st.Expr("metadata.name", v1.NodeSelectorOpIn, "a1"), st.Expr("metadata.name", v1.NodeSelectorOpIn, "b1")}}).Obj(),
			"UnschedulableAndUnresolvable: " + ErrReasonConflict, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pre := st.Filter(New(), tt.pod, snap)
			if pre.String() != tt.preFilter && !(pre == nil && tt.preFilter == "Success") {
				t.Errorf("PreFilter = %v, want %s", pre, tt.preFilter)
			}
			for n, want := range tt.want {
				if got[n].String() != want {
					t.Errorf("%s: %v, want %s", n, got[n], want)
				}
			}
		})
	}
}

func TestPreFilterResult(t *testing.T) {
	pod := st.Pod("p").
		RequiredNodeTerm(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{st.Expr("metadata.name", v1.NodeSelectorOpIn, "n1")}}).
		RequiredNodeTerm(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{st.Expr("metadata.name", v1.NodeSelectorOpIn, "n2")}}).Obj()
	r, s := New().PreFilter(framework.NewCycleState(), framework.NewPodInfo(pod), framework.NewEmptySnapshot())
	if !s.IsSuccess() || r.AllNodes() || r.NodeNames.Len() != 2 {
		t.Errorf("PreFilter = %v, %v; want n1 and n2", r, s)
	}
	pod = st.Pod("p").
		RequiredNodeTerm(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{st.Expr("metadata.name", v1.NodeSelectorOpIn, "n1")}}).
		RequiredNodeTerm(st.Term(st.Expr("zone", v1.NodeSelectorOpExists))).Obj()
	if r, _ := New().PreFilter(framework.NewCycleState(), framework.NewPodInfo(pod), framework.NewEmptySnapshot()); !r.AllNodes() {
		t.Errorf("a term without names leaves every node in play, got %v", r.NodeNames)
	}
}

func TestScore(t *testing.T) {
	nodes := []*v1.Node{
		st.Node("none").Obj(),
		st.Node("ssd").Label("disk", "ssd").Obj(),
		st.Node("ssd-a").Label("disk", "ssd").Zone("a").Obj(),
	}
	snap := framework.NewSnapshot(nil, nodes)
	pod := st.Pod("p").
		PreferredNodeTerm(2, st.Term(st.Expr("disk", v1.NodeSelectorOpIn, "ssd"))).
		PreferredNodeTerm(6, st.Term(st.Expr(v1.LabelTopologyZone, v1.NodeSelectorOpIn, "a"))).Obj()
	got, s := st.Score(New(), pod, snap)
	if !s.IsSuccess() {
		t.Fatal(s)
	}
	// Raw 0, 2, 8 scaled so that 8 is 100.
	want := map[string]int64{"none": 0, "ssd": 25, "ssd-a": 100}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: %d, want %d", n, got[n], w)
		}
	}
	if _, s := st.Score(New(), st.Pod("p").Obj(), snap); !s.IsSkip() {
		t.Errorf("a pod without preferences should skip scoring, got %v", s)
	}
}
