package podtopologyspread

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

const zone = v1.LabelTopologyZone

func nodes() []*v1.Node {
	return []*v1.Node{
		st.Node("a1").Zone("a").Obj(),
		st.Node("a2").Zone("a").Obj(),
		st.Node("b1").Zone("b").Obj(),
		st.Node("x").Obj(),
	}
}

func webPods() []*v1.Pod {
	return []*v1.Pod{
		st.Pod("w1").Node("a1").Label("app", "web").Obj(),
		st.Pod("w2").Node("a1").Label("app", "web").Obj(),
		st.Pod("w3").Node("b1").Label("app", "web").Obj(),
		st.Pod("elsewhere").Namespace("other").Node("b1").Label("app", "web").Obj(),
	}
}

func TestFilter(t *testing.T) {
	const (
		ok      = "Success"
		skew    = "Unschedulable: " + ErrReasonConstraintsNotMatch
		noLabel = "UnschedulableAndUnresolvable: " + ErrReasonNodeLabelNotMatch
	)
	minDomains := func(p *v1.Pod, n int32) *v1.Pod {
		p.Spec.TopologySpreadConstraints[0].MinDomains = &n
		return p
	}
	tests := []struct {
		name string
		pod  *v1.Pod
		want [4]string // a1, a2, b1, x
	}{
		{"no constraints is skipped", st.Pod("p").Obj(), [4]string{ok, ok, ok, ok}},
		{"zone a already has one more", st.Pod("p").Label("app", "web").Spread(1, zone, v1.DoNotSchedule, "app", "web").Obj(),
			[4]string{skew, skew, ok, noLabel}},
		{"a pod outside the selector adds nothing", st.Pod("p").Label("app", "api").Spread(1, zone, v1.DoNotSchedule, "app", "web").Obj(),
			[4]string{ok, ok, ok, noLabel}},
		{"fewer domains than minDomains count from zero", minDomains(st.Pod("p").Label("app", "web").Spread(1, zone, v1.DoNotSchedule, "app", "web").Obj(), 3),
			[4]string{skew, skew, skew, noLabel}},
		{"per host", st.Pod("p").Label("app", "web").Spread(1, v1.LabelHostname, v1.DoNotSchedule, "app", "web").Obj(),
			[4]string{skew, ok, skew, ok}},
		{"nodes outside the pod's node affinity are not counted", st.Pod("p").Label("app", "web").NodeSelector(zone, "b").Spread(1, zone, v1.DoNotSchedule, "app", "web").Obj(),
			[4]string{ok, ok, ok, noLabel}},
		{"ScheduleAnyway does not filter", st.Pod("p").Label("app", "web").Spread(1, zone, v1.ScheduleAnyway, "app", "web").Obj(),
			[4]string{ok, ok, ok, ok}},
	}
	snap := framework.NewSnapshot(webPods(), nodes())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pre := st.Filter(New(), tt.pod, snap)
			if got == nil {
				t.Fatalf("PreFilter: %v", pre)
			}
			for i, want := range tt.want {
				n := nodes()[i].Name
				if got[n].String() != want {
					t.Errorf("%s: %v, want %s", n, got[n], want)
				}
			}
		})
	}
}

func TestAddRemovePod(t *testing.T) {
	snap := framework.NewSnapshot(webPods(), nodes())
	pl := New()
	pod := framework.NewPodInfo(st.Pod("p").Label("app", "web").Spread(1, zone, v1.DoNotSchedule, "app", "web").Obj())
	state := framework.NewCycleState()
	if _, s := pl.PreFilter(state, pod, snap); !s.IsSuccess() {
		t.Fatal(s)
	}
	removed := state.Clone()
	for _, p := range webPods()[:2] {
		pl.RemovePod(removed, pod, framework.NewPodInfo(p), snap.Get("a1"))
	}
	if s := pl.Filter(removed, pod, snap.Get("a2")); !s.IsSuccess() {
		t.Errorf("with zone a emptied, a2 should fit: %v", s)
	}
	if s := pl.Filter(state, pod, snap.Get("a2")); s.IsSuccess() {
		t.Error("the original state changed through its clone")
	}
}

func TestScore(t *testing.T) {
	ns := nodes()
	snap := framework.NewSnapshot(webPods(), ns)
	got, s := st.Score(New(), st.Pod("p").Label("app", "web").Spread(1, zone, v1.ScheduleAnyway, "app", "web").Obj(), snap)
	if !s.IsSuccess() {
		t.Fatal(s)
	}
	// Zone a holds 2, zone b 1; weight log(2 domains + 2). Raw 3, 3, 1;
	// the node without a zone is ignored.
	want := map[string]int64{"a1": 33, "a2": 33, "b1": 100, "x": 0}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: %d, want %d", n, got[n], w)
		}
	}
	if _, s := st.Score(New(), st.Pod("p").Spread(1, zone, v1.DoNotSchedule, "app", "web").Obj(), snap); !s.IsSkip() {
		t.Errorf("only ScheduleAnyway constraints are scored, got %v", s)
	}
}

func TestMatchLabelKeys(t *testing.T) {
	pod := st.Pod("p").Label("app", "web", "rev", "2").Spread(1, zone, v1.DoNotSchedule, "app", "web").Obj()
	pod.Spec.TopologySpreadConstraints[0].MatchLabelKeys = []string{"rev"}
	cs, err := constraints(pod, v1.DoNotSchedule)
	if err != nil {
		t.Fatal(err)
	}
	if cs[0].Selector.String() != "app=web,rev=2" {
		t.Errorf("selector = %q", cs[0].Selector)
	}
}
