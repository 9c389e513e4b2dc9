package tainttoleration

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func TestFilter(t *testing.T) {
	const cp = "node-role.kubernetes.io/control-plane"
	untolerated := "UnschedulableAndUnresolvable: " + ErrReasonUntolerated
	tests := []struct {
		name string
		pod  *v1.Pod
		node *v1.Node
		want string
	}{
		{"no taints", st.Pod("p").Obj(), st.Node("n").Obj(), "Success"},
		{"control-plane NoSchedule", st.Pod("p").Obj(), st.Node("n").Taint(cp, "", v1.TaintEffectNoSchedule).Obj(), untolerated},
		{"tolerated by Exists", st.Pod("p").Toleration(cp, v1.TolerationOpExists, "", v1.TaintEffectNoSchedule).Obj(),
			st.Node("n").Taint(cp, "", v1.TaintEffectNoSchedule).Obj(), "Success"},
		{"NoExecute not tolerated", st.Pod("p").Obj(), st.Node("n").Taint("k", "v", v1.TaintEffectNoExecute).Obj(), untolerated},
		{"PreferNoSchedule does not filter", st.Pod("p").Obj(), st.Node("n").Taint("k", "v", v1.TaintEffectPreferNoSchedule).Obj(), "Success"},
		{"Equal needs the value", st.Pod("p").Toleration("k", v1.TolerationOpEqual, "w", v1.TaintEffectNoSchedule).Obj(),
			st.Node("n").Taint("k", "v", v1.TaintEffectNoSchedule).Obj(), untolerated},
		{"not-ready node", st.Pod("p").Obj(), st.Node("n").Taint(v1.TaintNodeNotReady, "", v1.TaintEffectNoSchedule).Obj(), untolerated},
		{"unreachable node tolerated for NoExecute only",
			st.Pod("p").Toleration(v1.TaintNodeUnreachable, v1.TolerationOpExists, "", v1.TaintEffectNoExecute).Obj(),
			st.Node("n").Taint(v1.TaintNodeUnreachable, "", v1.TaintEffectNoSchedule).Obj(), untolerated},
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

func TestScore(t *testing.T) {
	nodes := []*v1.Node{
		st.Node("clean").Obj(),
		st.Node("one").Taint("a", "1", v1.TaintEffectPreferNoSchedule).Obj(),
		st.Node("two").Taint("a", "1", v1.TaintEffectPreferNoSchedule).Taint("b", "1", v1.TaintEffectPreferNoSchedule).
			Taint("c", "1", v1.TaintEffectNoSchedule).Obj(),
	}
	snap := framework.NewSnapshot(nil, nodes)
	tests := []struct {
		name string
		pod  *v1.Pod
		want map[string]int64
	}{
		{"fewer untolerated PreferNoSchedule taints is better", st.Pod("p").Obj(),
			map[string]int64{"clean": 100, "one": 50, "two": 0}},
		{"tolerated taints do not count", st.Pod("p").Toleration("a", v1.TolerationOpExists, "", v1.TaintEffectPreferNoSchedule).Obj(),
			map[string]int64{"clean": 100, "one": 100, "two": 0}},
		{"NoSchedule tolerations do not tolerate PreferNoSchedule", st.Pod("p").Toleration("a", v1.TolerationOpExists, "", v1.TaintEffectNoSchedule).Obj(),
			map[string]int64{"clean": 100, "one": 50, "two": 0}},
		{"all tolerated: everyone scores 100", st.Pod("p").Toleration("", v1.TolerationOpExists, "", "").Obj(),
			map[string]int64{"clean": 100, "one": 100, "two": 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s := st.Score(New(), tt.pod, snap)
			if !s.IsSuccess() {
				t.Fatal(s)
			}
			for n, want := range tt.want {
				if got[n] != want {
					t.Errorf("%s: %d, want %d", n, got[n], want)
				}
			}
		})
	}
}

func TestQueueingHint(t *testing.T) {
	tainted := st.Node("n").Taint("k", "v", v1.TaintEffectNoSchedule).Obj()
	clean := st.Node("n").Obj()
	pod := st.Pod("p").Obj()
	if h, _ := afterNodeChange(pod, tainted, clean); h != framework.Queue {
		t.Error("removing the taint should queue")
	}
	if h, _ := afterNodeChange(pod, nil, clean); h != framework.Queue {
		t.Error("an untainted new node should queue")
	}
	if h, _ := afterNodeChange(pod, clean, tainted); h != framework.QueueSkip {
		t.Error("adding a taint should not queue")
	}
}
