package noderesources

import (
	"testing"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func newFit(t *testing.T, cfg FitConfig) *Fit {
	t.Helper()
	f, err := NewFit(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFitFilter(t *testing.T) {
	node := st.Node("n").Cap("cpu", "2", "memory", "4Gi", "ephemeral-storage", "10Gi", "example.com/gpu", "1").Obj()
	existing := st.Pod("existing").Node("n").Req("cpu", "1", "memory", "1Gi").Obj()
	snap := framework.NewSnapshot([]*v1.Pod{existing}, []*v1.Node{node})
	full := st.Node("n").Cap("cpu", "2", "memory", "4Gi", "pods", "1").Obj()
	fullSnap := framework.NewSnapshot([]*v1.Pod{existing}, []*v1.Node{full})
	tests := []struct {
		name string
		pod  *v1.Pod
		snap *framework.Snapshot
		want string
	}{
		{"fits", st.Pod("p").Req("cpu", "500m", "memory", "1Gi").Obj(), snap, "Success"},
		{"best effort fits", st.Pod("p").Obj(), snap, "Success"},
		{"too little cpu left", st.Pod("p").Req("cpu", "1500m").Obj(), snap, "Unschedulable: Insufficient cpu"},
		{"more cpu than the node has", st.Pod("p").Req("cpu", "3").Obj(), snap, "UnschedulableAndUnresolvable: Insufficient cpu"},
		{"cpu and memory", st.Pod("p").Req("cpu", "1500m", "memory", "4Gi").Obj(), snap, "Unschedulable: Insufficient cpu, Insufficient memory"},
		{"extended resource beyond capacity", st.Pod("p").Req("example.com/gpu", "2").Obj(), snap, "UnschedulableAndUnresolvable: Insufficient example.com/gpu"},
		{"extended resource the node lacks", st.Pod("p").Req("example.com/fpga", "1").Obj(), snap, "UnschedulableAndUnresolvable: Insufficient example.com/fpga"},
		{"ephemeral storage", st.Pod("p").Req("ephemeral-storage", "20Gi").Obj(), snap, "UnschedulableAndUnresolvable: Insufficient ephemeral-storage"},
		{"init container counts", st.Pod("p").Req("cpu", "100m").Init("cpu", "1500m").Obj(), snap, "Unschedulable: Insufficient cpu"},
		{"overhead counts", st.Pod("p").Req("cpu", "900m").Overhead("cpu", "200m").Obj(), snap, "Unschedulable: Insufficient cpu"},
		{"no pod slot left", st.Pod("p").Obj(), fullSnap, "Unschedulable: Too many pods"},
		{"no pod slot and no cpu", st.Pod("p").Req("cpu", "1500m").Obj(), fullSnap, "Unschedulable: Too many pods, Insufficient cpu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := st.Filter(newFit(t, FitConfig{}), tt.pod, tt.snap)
			if got["n"].String() != tt.want {
				t.Errorf("got %v, want %s", got["n"], tt.want)
			}
		})
	}
}

func TestFitScore(t *testing.T) {
	nodes := []*v1.Node{
		st.Node("busy").Cap("cpu", "4", "memory", "8Gi").Obj(),
		st.Node("empty").Cap("cpu", "4", "memory", "8Gi").Obj(),
	}
	snap := framework.NewSnapshot([]*v1.Pod{st.Pod("e").Node("busy").Req("cpu", "1", "memory", "2Gi").Obj()}, nodes)
	tests := []struct {
		name     string
		strategy ScoringStrategy
		pod      *v1.Pod
		want     map[string]int64
	}{
		{"least allocated prefers room", LeastAllocated, st.Pod("p").Req("cpu", "1", "memory", "2Gi").Obj(),
			map[string]int64{"busy": 50, "empty": 75}},
		{"best effort pods count the defaults", LeastAllocated, st.Pod("p").Obj(),
			map[string]int64{"empty": 97}},
		{"most allocated packs", MostAllocated, st.Pod("p").Req("cpu", "1", "memory", "2Gi").Obj(),
			map[string]int64{"busy": 50, "empty": 25}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s := st.Score(newFit(t, FitConfig{Strategy: tt.strategy}), tt.pod, snap)
			if !s.IsSuccess() {
				t.Fatal(s)
			}
			for n, w := range tt.want {
				if got[n] != w {
					t.Errorf("%s: %d, want %d", n, got[n], w)
				}
			}
		})
	}
}

func TestBalancedAllocation(t *testing.T) {
	nodes := []*v1.Node{
		st.Node("empty").Cap("cpu", "4", "memory", "8Gi").Obj(),
		st.Node("memory-heavy").Cap("cpu", "4", "memory", "8Gi").Obj(),
	}
	snap := framework.NewSnapshot([]*v1.Pod{st.Pod("e").Node("memory-heavy").Req("memory", "4Gi").Obj()}, nodes)
	got, s := st.Score(NewBalancedAllocation(nil), st.Pod("p").Req("cpu", "1", "memory", "1Gi").Obj(), snap)
	if !s.IsSuccess() {
		t.Fatal(s)
	}
	// empty: balance 100 without the pod, 93 with it -> 50 + (50+93-100)/2 = 71.
	// memory-heavy: 75 without, 81 with: the cpu-heavy pod evens it out -> 78.
	want := map[string]int64{"empty": 71, "memory-heavy": 78}
	for n, w := range want {
		if got[n] != w {
			t.Errorf("%s: %d, want %d", n, got[n], w)
		}
	}
	if _, s := st.Score(NewBalancedAllocation(nil), st.Pod("p").Obj(), snap); !s.IsSkip() {
		t.Errorf("best-effort pods skip balanced allocation, got %v", s)
	}
}

func TestNewFitValidates(t *testing.T) {
	if _, err := NewFit(FitConfig{Strategy: "Random"}); err == nil {
		t.Error("unknown strategy accepted")
	}
	if _, err := NewFit(FitConfig{Resources: []ResourceSpec{{Name: "cpu", Weight: 0}}}); err == nil {
		t.Error("zero weight accepted")
	}
}

func TestQueueingHint(t *testing.T) {
	pod := st.Pod("p").Req("cpu", "2").Obj()
	small, big := st.Node("n").Cap("cpu", "1").Obj(), st.Node("n").Cap("cpu", "4").Obj()
	tests := []struct {
		name     string
		old, new *v1.Node
		want     framework.QueueingHint
	}{
		{"a node too small is added", nil, small, framework.QueueSkip},
		{"a big node is added", nil, big, framework.Queue},
		{"a node grows", small, big, framework.Queue},
		{"a big node changes but does not grow", big, big, framework.QueueSkip},
	}
	for _, tt := range tests {
		var old any
		if tt.old != nil {
			old = tt.old
		}
		if got, _ := afterNodeChange(pod, old, tt.new); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
