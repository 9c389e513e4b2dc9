package nodeunschedulable

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func TestFilter(t *testing.T) {
	tests := []struct {
		name string
		pod  *v1.Pod
		node *v1.Node
		want string
	}{
		{"schedulable node", st.Pod("p").Obj(), st.Node("n").Obj(), "Success"},
		{"cordoned node", st.Pod("p").Obj(), st.Node("n").Unschedulable().Obj(), "UnschedulableAndUnresolvable: " + ErrReasonUnschedulable},
		{"cordoned node, pod tolerates the unschedulable taint",
			st.Pod("p").Toleration(v1.TaintNodeUnschedulable, v1.TolerationOpExists, "", v1.TaintEffectNoSchedule).Obj(),
			st.Node("n").Unschedulable().Obj(), "Success"},
		{"cordoned node, pod tolerates everything",
			st.Pod("p").Toleration("", v1.TolerationOpExists, "", "").Obj(), st.Node("n").Unschedulable().Obj(), "Success"},
		{"cordoned node, pod tolerates NoExecute only",
			st.Pod("p").Toleration(v1.TaintNodeUnschedulable, v1.TolerationOpExists, "", v1.TaintEffectNoExecute).Obj(),
			st.Node("n").Unschedulable().Obj(), "UnschedulableAndUnresolvable: " + ErrReasonUnschedulable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := st.Filter(New(), tt.pod, framework.NewSnapshot(nil, []*v1.Node{tt.node}))
			if got["n"].String() != tt.want {
				t.Errorf("got %v, want %s", got["n"], tt.want)
			}
		})
	}
}

func TestQueueingHint(t *testing.T) {
	cordoned, open := st.Node("n").Unschedulable().Obj(), st.Node("n").Obj()
	tests := []struct {
		name     string
		old, new *v1.Node
		want     framework.QueueingHint
	}{
		{"schedulable node added", nil, open, framework.Queue},
		{"cordoned node added", nil, cordoned, framework.QueueSkip},
		{"node uncordoned", cordoned, open, framework.Queue},
		{"node cordoned", open, cordoned, framework.QueueSkip},
	}
	for _, tt := range tests {
		var old any
		if tt.old != nil {
			old = tt.old
		}
		if got, _ := afterNodeChange(st.Pod("p").Obj(), old, tt.new); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
