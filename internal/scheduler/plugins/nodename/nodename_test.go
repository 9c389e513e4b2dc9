package nodename

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func TestFilter(t *testing.T) {
	snap := framework.NewSnapshot(nil, []*v1.Node{st.Node("n1").Obj(), st.Node("n2").Obj()})
	tests := []struct {
		name string
		pod  *v1.Pod
		want map[string]string
	}{
		{"no node name fits everywhere", st.Pod("p").Obj(), map[string]string{"n1": "Success", "n2": "Success"}},
		{"a named node fits only there", st.Pod("p").Node("n1").Obj(),
			map[string]string{"n1": "Success", "n2": "UnschedulableAndUnresolvable: " + ErrReason}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := st.Filter(New(), tt.pod, snap)
			for node, want := range tt.want {
				if got[node].String() != want {
					t.Errorf("%s: %v, want %s", node, got[node], want)
				}
			}
		})
	}
}

func TestPreFilterNarrowsToTheNamedNode(t *testing.T) {
	r, st2 := New().PreFilter(framework.NewCycleState(), framework.NewPodInfo(st.Pod("p").Node("n2").Obj()), framework.NewEmptySnapshot())
	if !st2.IsSuccess() || r.AllNodes() || !r.NodeNames.Has("n2") || r.NodeNames.Len() != 1 {
		t.Errorf("PreFilter = %v, %v", r, st2)
	}
}
