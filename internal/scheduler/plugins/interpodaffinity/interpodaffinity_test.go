package interpodaffinity

import (
	"testing"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

const zone = v1.LabelTopologyZone

func newPlugin(t *testing.T) *InterPodAffinity {
	t.Helper()
	pl, err := New(DefaultConfig)
	if err != nil {
		t.Fatal(err)
	}
	return pl
}

func filterNodes() []*v1.Node {
	return []*v1.Node{
		st.Node("n1").Zone("a").Obj(),
		st.Node("n2").Zone("a").Obj(),
		st.Node("n3").Zone("b").Obj(),
		st.Node("n4").Obj(),
	}
}

func TestFilter(t *testing.T) {
	pods := []*v1.Pod{
		st.Pod("db").Node("n1").Label("app", "db").Obj(),
		st.Pod("guard").Node("n3").Label("app", "guard").PodAntiAffinity(st.AffinityTerm(zone, "security", "s1")).Obj(),
	}
	other := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "other"}}
	def := &v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	snap := framework.NewSnapshot(pods, filterNodes(), def, other)

	const (
		ok       = "Success"
		affinity = "UnschedulableAndUnresolvable: " + ErrReasonAffinityRulesNotMatch
		anti     = "Unschedulable: " + ErrReasonAntiAffinityRulesNotMatch
		existing = "Unschedulable: " + ErrReasonExistingAntiAffinityRulesNotMatch
	)
	allNamespaces := st.AffinityTerm(zone, "app", "db")
	allNamespaces.NamespaceSelector = &metav1.LabelSelector{}
	tests := []struct {
		name string
		pod  *v1.Pod
		want [4]string // n1..n4
	}{
		{"no constraints is skipped", st.Pod("p").Obj(), [4]string{ok, ok, ok, ok}},
		{"affinity to a zone with a db", st.Pod("p").PodAffinity(st.AffinityTerm(zone, "app", "db")).Obj(),
			[4]string{ok, ok, affinity, affinity}},
		{"affinity to the db's host", st.Pod("p").PodAffinity(st.AffinityTerm(v1.LabelHostname, "app", "db")).Obj(),
			[4]string{ok, affinity, affinity, affinity}},
		{"first of a self-affine group goes anywhere labelled", st.Pod("p").Label("app", "cache").PodAffinity(st.AffinityTerm(zone, "app", "cache")).Obj(),
			[4]string{ok, ok, ok, affinity}},
		{"affinity to pods that exist nowhere", st.Pod("p").PodAffinity(st.AffinityTerm(zone, "app", "cache")).Obj(),
			[4]string{affinity, affinity, affinity, affinity}},
		{"anti-affinity to the db's zone", st.Pod("p").PodAntiAffinity(st.AffinityTerm(zone, "app", "db")).Obj(),
			[4]string{anti, anti, ok, ok}},
		{"an existing pod's anti-affinity keeps us out of its zone", st.Pod("p").Label("security", "s1").Obj(),
			[4]string{ok, ok, existing, ok}},
		{"terms select the pod's own namespace by default", st.Pod("p").Namespace("other").PodAffinity(st.AffinityTerm(zone, "app", "db")).Obj(),
			[4]string{affinity, affinity, affinity, affinity}},
		{"an empty namespace selector selects every namespace", st.Pod("p").Namespace("other").PodAffinity(allNamespaces).Obj(),
			[4]string{ok, ok, affinity, affinity}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, pre := st.Filter(newPlugin(t), tt.pod, snap)
			if got == nil {
				t.Fatalf("PreFilter: %v", pre)
			}
			for i, want := range tt.want {
				n := filterNodes()[i].Name
				if got[n].String() != want {
					t.Errorf("%s: %v, want %s", n, got[n], want)
				}
			}
		})
	}
}

func TestAddRemovePod(t *testing.T) {
	db := st.Pod("db").Node("n1").Label("app", "db").Obj()
	snap := framework.NewSnapshot([]*v1.Pod{db}, filterNodes())
	pl := newPlugin(t)
	pod := framework.NewPodInfo(st.Pod("p").PodAntiAffinity(st.AffinityTerm(zone, "app", "db")).Obj())
	state := framework.NewCycleState()
	if _, s := pl.PreFilter(state, pod, snap); !s.IsSuccess() {
		t.Fatal(s)
	}
	n2 := snap.Get("n2")
	if s := pl.Filter(state, pod, n2); s.Code() != framework.Unschedulable {
		t.Fatalf("before removal: %v", s)
	}
	removed := state.Clone()
	if s := pl.RemovePod(removed, pod, framework.NewPodInfo(db), snap.Get("n1")); !s.IsSuccess() {
		t.Fatal(s)
	}
	if s := pl.Filter(removed, pod, n2); !s.IsSuccess() {
		t.Errorf("with the db removed: %v", s)
	}
	if s := pl.Filter(state, pod, n2); s.IsSuccess() {
		t.Error("the original state changed through its clone")
	}
	if s := pl.AddPod(removed, pod, framework.NewPodInfo(db), snap.Get("n3")); !s.IsSuccess() {
		t.Fatal(s)
	}
	if s := pl.Filter(removed, pod, snap.Get("n3")); s.IsSuccess() {
		t.Error("with a db added to zone b, n3 must be rejected")
	}
}

func TestScore(t *testing.T) {
	nodes := []*v1.Node{st.Node("n1").Zone("a").Obj(), st.Node("n2").Zone("a").Obj(), st.Node("n3").Zone("b").Obj()}
	tests := []struct {
		name string
		pods []*v1.Pod
		pod  *v1.Pod
		want map[string]int64
	}{
		{
			name: "preferred affinity and anti-affinity of the incoming pod",
			pods: []*v1.Pod{st.Pod("db").Node("n1").Label("app", "db").Obj(), st.Pod("web").Node("n3").Label("app", "web").Obj()},
			pod: st.Pod("p").PreferredPodAffinity(10, st.AffinityTerm(zone, "app", "db")).
				PreferredPodAntiAffinity(5, st.AffinityTerm(zone, "app", "web")).Obj(),
			// zone a: +10, zone b: -5.
			want: map[string]int64{"n1": 100, "n2": 100, "n3": 0},
		},
		{
			name: "running pods' terms towards the incoming pod",
			pods: []*v1.Pod{
				st.Pod("fan").Node("n3").PodAffinity(st.AffinityTerm(v1.LabelHostname, "app", "p")).Obj(),
				st.Pod("hater").Node("n1").PreferredPodAntiAffinity(4, st.AffinityTerm(zone, "app", "p")).Obj(),
			},
			pod: st.Pod("p").Label("app", "p").Obj(),
			// n3: +1 (hard affinity weight), zone a: -4.
			want: map[string]int64{"n1": 0, "n2": 0, "n3": 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, s := st.Score(newPlugin(t), tt.pod, framework.NewSnapshot(tt.pods, nodes))
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
	if _, s := st.Score(newPlugin(t), st.Pod("p").Obj(), framework.NewSnapshot(nil, nodes)); !s.IsSkip() {
		t.Errorf("nothing to score should skip, got %v", s)
	}
}

func TestQueueingHint(t *testing.T) {
	pod := st.Pod("p").PodAffinity(st.AffinityTerm(zone, "app", "db")).PodAntiAffinity(st.AffinityTerm(zone, "app", "web")).Obj()
	db := st.Pod("db").Node("n").Label("app", "db").Obj()
	web := st.Pod("web").Node("n").Label("app", "web").Obj()
	if h, _ := afterAssignedPodChange(pod, nil, db); h != framework.Queue {
		t.Error("a db bound should queue")
	}
	if h, _ := afterAssignedPodChange(pod, nil, web); h != framework.QueueSkip {
		t.Error("a web bound should not")
	}
	if h, _ := afterAssignedPodChange(pod, web, nil); h != framework.Queue {
		t.Error("a web deleted should queue")
	}
}
