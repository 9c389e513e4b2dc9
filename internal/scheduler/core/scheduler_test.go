package core

import (
	"errors"
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

const controlPlane = "node-role.kubernetes.io/control-plane"

// firstOfTies always keeps the first of tied nodes.
func firstOfTies(int) int { return 1 }

func newScheduler(t *testing.T, cfg Config) *Scheduler {
	t.Helper()
	if cfg.Rand == nil {
		cfg.Rand = firstOfTies
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestFailedSchedulingMessage(t *testing.T) {
	small := func(name string) *v1.Node { return st.Node(name).Cap("cpu", "1", "memory", "2Gi").Obj() }
	tainted := func(name string) *v1.Node {
		return st.Node(name).Cap("cpu", "4", "memory", "8Gi").Taint(controlPlane, "", v1.TaintEffectNoSchedule).Obj()
	}
	many := func(n int, mk func(string) *v1.Node, prefix string) []*v1.Node {
		var out []*v1.Node
		for i := 0; i < n; i++ {
			out = append(out, mk(fmt.Sprintf("%s%d", prefix, i)))
		}
		return out
	}
	twoCPU := st.Pod("p").Req("cpu", "2").Obj()
	tests := []struct {
		name  string
		pod   *v1.Pod
		nodes []*v1.Node
		pods  []*v1.Pod
		want  string
	}{
		{
			name:  "the issue's example",
			pod:   twoCPU,
			nodes: []*v1.Node{small("w1"), tainted("cp1"), tainted("cp2")},
			want: "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
		{
			name:  "counts sort as strings, as upstream's do",
			pod:   twoCPU,
			nodes: append(many(2, small, "w"), many(10, tainted, "cp")...),
			want: "0/12 nodes are available: 10 node(s) had untolerated taint(s), 2 Insufficient cpu. " +
				"preemption: 0/12 nodes are available: 12 Preemption is not helpful for scheduling.",
		},
		{
			name:  "a full node with no lower-priority pods",
			pod:   st.Pod("p").Req("cpu", "1").Obj(),
			nodes: []*v1.Node{small("w1")},
			pods:  []*v1.Pod{st.Pod("busy").Node("w1").Req("cpu", "500m").Obj()},
			want: "0/1 nodes are available: 1 Insufficient cpu. " +
				"preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod.",
		},
		{
			name:  "preemption found victims",
			pod:   st.Pod("p").Priority(100).Req("cpu", "1").Obj(),
			nodes: []*v1.Node{small("w1")},
			pods:  []*v1.Pod{st.Pod("busy").Node("w1").Req("cpu", "500m").Obj()},
			want: "0/1 nodes are available: 1 Insufficient cpu. " +
				"preemption: found a potential placement for pod on node w1, preempting 1 victims",
		},
		{
			name:  "preemptionPolicy Never",
			pod:   st.Pod("p").Priority(100).PreemptNever().Req("cpu", "1").Obj(),
			nodes: []*v1.Node{small("w1")},
			pods:  []*v1.Pod{st.Pod("busy").Node("w1").Req("cpu", "500m").Obj()},
			want:  "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to preemptionPolicy=Never.",
		},
		{
			name: "a PreFilter rejection stands for every node",
			pod: st.Pod("p").RequiredNodeTerm(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{
				st.Expr("metadata.name", v1.NodeSelectorOpIn, "w1"), st.Expr("metadata.name", v1.NodeSelectorOpIn, "w2")}}).Obj(),
			nodes: []*v1.Node{small("w1"), small("w2")},
			want: "0/2 nodes are available: pod affinity terms conflict. " +
				"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		{
			name:  "a node that does not exist",
			pod:   st.Pod("p").RequiredNodeTerm(v1.NodeSelectorTerm{MatchFields: []v1.NodeSelectorRequirement{st.Expr("metadata.name", v1.NodeSelectorOpIn, "gone")}}).Obj(),
			nodes: []*v1.Node{small("w1"), small("w2")},
			want: "0/2 nodes are available: 2 node(s) didn't satisfy plugin(s) [NodeAffinity]. " +
				"preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.",
		},
		{
			name:  "one reason per node: the first failing plugin's",
			pod:   st.Pod("p").NodeSelector("disk", "ssd").Req("cpu", "2").Obj(),
			nodes: []*v1.Node{small("w1"), st.Node("w2").Cap("cpu", "1").Label("disk", "ssd").Obj(), st.Node("w3").Unschedulable().Obj()},
			want: "0/3 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) were unschedulable. " +
				"preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling.",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScheduler(t, Config{})
			d, err := s.Decide(framework.NewPodInfo(tt.pod), framework.NewSnapshot(tt.pods, tt.nodes), PreemptionInput{})
			if err != nil {
				t.Fatal(err)
			}
			if d.Node != "" {
				t.Fatalf("scheduled on %s", d.Node)
			}
			if d.Message != tt.want {
				t.Errorf("message\n got: %s\nwant: %s", d.Message, tt.want)
			}
		})
	}
}

func TestUnschedulablePluginsAreReported(t *testing.T) {
	s := newScheduler(t, Config{})
	nodes := []*v1.Node{
		st.Node("w1").Cap("cpu", "1").Obj(),
		st.Node("cp").Cap("cpu", "4").Taint(controlPlane, "", v1.TaintEffectNoSchedule).Obj(),
	}
	_, err := s.Schedule(framework.NewPodInfo(st.Pod("p").Req("cpu", "2").Obj()), framework.NewSnapshot(nil, nodes), nil)
	var fe *FitError
	if !errors.As(err, &fe) {
		t.Fatalf("err = %v", err)
	}
	got := fe.Diagnosis.UnschedulablePlugins
	if got.Len() != 2 || !got.Has("NodeResourcesFit") || !got.Has("TaintToleration") {
		t.Errorf("unschedulable plugins = %v", got.UnsortedList())
	}
}

func TestNoNodes(t *testing.T) {
	s := newScheduler(t, Config{})
	if _, err := s.Schedule(framework.NewPodInfo(st.Pod("p").Obj()), framework.NewEmptySnapshot(), nil); !errors.Is(err, ErrNoNodesAvailable) {
		t.Errorf("err = %v", err)
	}
}

func TestPlacement(t *testing.T) {
	tests := []struct {
		name  string
		pod   *v1.Pod
		nodes []*v1.Node
		pods  []*v1.Pod
		want  string
	}{
		{
			name:  "the emptiest node",
			pod:   st.Pod("p").Req("cpu", "1", "memory", "1Gi").Obj(),
			nodes: []*v1.Node{st.Node("busy").Cap("cpu", "4", "memory", "8Gi").Obj(), st.Node("idle").Cap("cpu", "4", "memory", "8Gi").Obj()},
			pods:  []*v1.Pod{st.Pod("x").Node("busy").Req("cpu", "2", "memory", "4Gi").Obj()},
			want:  "idle",
		},
		{
			name: "preferred node affinity outweighs a little room",
			pod: st.Pod("p").Req("cpu", "1", "memory", "1Gi").
				PreferredNodeTerm(10, st.Term(st.Expr("disk", v1.NodeSelectorOpIn, "ssd"))).Obj(),
			nodes: []*v1.Node{
				st.Node("ssd").Cap("cpu", "4", "memory", "8Gi").Label("disk", "ssd").Obj(),
				st.Node("idle").Cap("cpu", "4", "memory", "8Gi").Obj(),
			},
			pods: []*v1.Pod{st.Pod("x").Node("ssd").Req("cpu", "1", "memory", "2Gi").Obj()},
			want: "ssd",
		},
		{
			name: "a PreferNoSchedule taint is avoided",
			pod:  st.Pod("p").Obj(),
			nodes: []*v1.Node{
				st.Node("soft").Cap("cpu", "4", "memory", "8Gi").Taint("k", "v", v1.TaintEffectPreferNoSchedule).Obj(),
				st.Node("plain").Cap("cpu", "4", "memory", "8Gi").Obj(),
			},
			want: "plain",
		},
		{
			name: "spread across zones",
			pod:  st.Pod("p").Label("app", "web").Spread(1, v1.LabelTopologyZone, v1.ScheduleAnyway, "app", "web").Obj(),
			nodes: []*v1.Node{
				st.Node("a").Cap("cpu", "4", "memory", "8Gi").Zone("a").Obj(),
				st.Node("b").Cap("cpu", "4", "memory", "8Gi").Zone("b").Obj(),
			},
			pods: []*v1.Pod{st.Pod("w").Node("a").Label("app", "web").Obj()},
			want: "b",
		},
		{
			name: "the only node that passes every filter",
			pod:  st.Pod("p").Req("cpu", "1").HostPort(80, v1.ProtocolTCP, "").Obj(),
			nodes: []*v1.Node{
				st.Node("ports").Cap("cpu", "4").Obj(),
				st.Node("free").Cap("cpu", "4").Obj(),
			},
			pods: []*v1.Pod{st.Pod("x").Node("ports").HostPort(80, v1.ProtocolTCP, "").Obj()},
			want: "free",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScheduler(t, Config{})
			res, err := s.Schedule(framework.NewPodInfo(tt.pod), framework.NewSnapshot(tt.pods, tt.nodes), nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Node != tt.want {
				t.Errorf("node = %s, want %s", res.Node, tt.want)
			}
		})
	}
}

func TestTiesAreBrokenByTheRandomSource(t *testing.T) {
	var nodes []*v1.Node
	for i := 0; i < 4; i++ {
		nodes = append(nodes, st.Node(fmt.Sprintf("n%d", i)).Cap("cpu", "4", "memory", "8Gi").Obj())
	}
	snap := framework.NewSnapshot(nil, nodes)
	pod := framework.NewPodInfo(st.Pod("p").Req("cpu", "1").Obj())
	tests := []struct {
		name string
		rand func(int) int
		want string
	}{
		{"never replace the first", func(int) int { return 1 }, "n0"},
		{"always replace", func(int) int { return 0 }, "n3"},
		{"replace only when the second tie is seen", func(n int) int {
			if n == 2 {
				return 0
			}
			return 1
		}, "n1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := newScheduler(t, Config{Rand: tt.rand}).Schedule(pod, snap, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.Node != tt.want {
				t.Errorf("node = %s, want %s", res.Node, tt.want)
			}
		})
	}
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	tests := []struct {
		percentage int32
		nodes      int
		want       int
	}{
		{0, 50, 50},
		{0, 100, 100},
		{0, 1000, 420},
		{0, 5000, 500},
		{0, 6000, 300},
		{0, 10000, 500},
		{0, 30000, 1500},
		{20, 1000, 200},
		{1, 1000, 100},
		{100, 1000, 1000},
	}
	for _, tt := range tests {
		s := newScheduler(t, Config{PercentageOfNodesToScore: tt.percentage})
		if got := s.numFeasibleNodesToFind(tt.nodes); got != tt.want {
			t.Errorf("%d%% of %d nodes: %d, want %d", tt.percentage, tt.nodes, got, tt.want)
		}
	}
}

func TestFilteringStopsEarlyAndRotates(t *testing.T) {
	var nodes []*v1.Node
	for i := 0; i < 300; i++ {
		nodes = append(nodes, st.Node(fmt.Sprintf("n%03d", i)).Cap("cpu", "4", "memory", "8Gi").Obj())
	}
	snap := framework.NewSnapshot(nil, nodes)
	pod := framework.NewPodInfo(st.Pod("p").Obj())
	// 300 nodes: 50% - 2% = 48% is 144 nodes.
	for _, parallelism := range []int{1, 4} {
		s := newScheduler(t, Config{Parallelism: parallelism})
		for round, wantFirst := range []string{"n000", "n144", "n288"} {
			res, err := s.Schedule(pod, snap, nil)
			if err != nil {
				t.Fatal(err)
			}
			if res.EvaluatedNodes != 144 || res.FeasibleNodes != 144 {
				t.Errorf("parallelism %d round %d: evaluated %d, feasible %d; want 144", parallelism, round, res.EvaluatedNodes, res.FeasibleNodes)
			}
			if res.Node != wantFirst {
				t.Errorf("parallelism %d round %d: node %s, want the first scanned, %s", parallelism, round, res.Node, wantFirst)
			}
		}
	}
}

func TestNominatedPodsKeepTheirRoom(t *testing.T) {
	nodes := []*v1.Node{st.Node("n1").Cap("cpu", "2").Obj(), st.Node("n2").Cap("cpu", "2").Obj()}
	snap := framework.NewSnapshot(nil, nodes)
	nominated := fakeNominated{"n1": {framework.NewPodInfo(st.Pod("vip").Priority(1000).Req("cpu", "2").Obj())}}
	s := newScheduler(t, Config{})
	for i := 0; i < 3; i++ {
		res, err := s.Schedule(framework.NewPodInfo(st.Pod("p").Priority(10).Req("cpu", "1").Obj()), snap, nominated)
		if err != nil {
			t.Fatal(err)
		}
		if res.Node != "n2" {
			t.Errorf("a lower-priority pod took the room nominated to vip on %s", res.Node)
		}
	}
	res, err := s.Schedule(framework.NewPodInfo(st.Pod("boss").Priority(2000).Req("cpu", "2").Obj()), framework.NewSnapshot(nil, nodes[:1]), nominated)
	if err != nil || res.Node != "n1" {
		t.Errorf("a higher-priority pod ignores lower nominations: %v, %v", res, err)
	}
}

type fakeNominated map[string][]*framework.PodInfo

func (f fakeNominated) NominatedPodsForNode(n string) []*framework.PodInfo { return f[n] }

func TestPreemption(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	node := func(name string) *v1.Node { return st.Node(name).Cap("cpu", "4", "memory", "8Gi").Obj() }
	low := func(name, node string, prio int32, cpu string) *v1.Pod {
		return st.Pod(name).Node(node).Priority(prio).Req("cpu", cpu).Label("app", name).StartTime(now.Add(-time.Hour)).Obj()
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "keep", Namespace: "default"},
		Spec:       policyv1.PodDisruptionBudgetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "guarded"}}},
	}
	tests := []struct {
		name        string
		pod         *v1.Pod
		nodes       []*v1.Node
		pods        []*v1.Pod
		pdbs        []*policyv1.PodDisruptionBudget
		wantNode    string
		wantVictims []string
	}{
		{
			name:        "evict only as much as needed, least important first",
			pod:         st.Pod("p").Priority(100).Req("cpu", "2").Obj(),
			nodes:       []*v1.Node{node("n1")},
			pods:        []*v1.Pod{low("a", "n1", 10, "1"), low("b", "n1", 5, "1"), low("c", "n1", 1, "2")},
			wantNode:    "n1",
			wantVictims: []string{"c"},
		},
		{
			name:        "never pods of equal or higher priority",
			pod:         st.Pod("p").Priority(100).Req("cpu", "3").Obj(),
			nodes:       []*v1.Node{node("n1")},
			pods:        []*v1.Pod{low("peer", "n1", 100, "2"), low("small", "n1", 1, "2")},
			wantNode:    "",
			wantVictims: nil,
		},
		{
			name:        "the node whose most important victim is least important",
			pod:         st.Pod("p").Priority(100).Req("cpu", "2").Obj(),
			nodes:       []*v1.Node{node("n1"), node("n2")},
			pods:        []*v1.Pod{low("mid", "n1", 50, "4"), low("cheap", "n2", 1, "4")},
			wantNode:    "n2",
			wantVictims: []string{"cheap"},
		},
		{
			name:        "fewer victims when priorities tie",
			pod:         st.Pod("p").Priority(100).Req("cpu", "4").Obj(),
			nodes:       []*v1.Node{node("n1"), node("n2")},
			pods:        []*v1.Pod{low("x1", "n1", 1, "2"), low("x2", "n1", 1, "2"), low("y1", "n2", 1, "4")},
			wantNode:    "n2",
			wantVictims: []string{"y1"},
		},
		{
			name:        "a pod protected by a PodDisruptionBudget is spared where possible",
			pod:         st.Pod("p").Priority(100).Req("cpu", "2").Obj(),
			nodes:       []*v1.Node{node("n1"), node("n2")},
			pods:        []*v1.Pod{low("guarded", "n1", 1, "4"), low("other", "n2", 5, "4")},
			pdbs:        []*policyv1.PodDisruptionBudget{pdb},
			wantNode:    "n2",
			wantVictims: []string{"other"},
		},
		{
			name:        "a node rejected for a taint is not a candidate",
			pod:         st.Pod("p").Priority(100).Req("cpu", "2").Obj(),
			nodes:       []*v1.Node{st.Node("cp").Cap("cpu", "4").Taint(controlPlane, "", v1.TaintEffectNoSchedule).Obj(), node("n1")},
			pods:        []*v1.Pod{low("a", "cp", 1, "4"), low("b", "n1", 50, "4")},
			wantNode:    "n1",
			wantVictims: []string{"b"},
		},
		{
			name:        "evicting a pod the preemptor's anti-affinity rejects",
			pod:         st.Pod("p").Priority(100).PodAntiAffinity(st.AffinityTerm(v1.LabelHostname, "app", "noisy")).Obj(),
			nodes:       []*v1.Node{node("n1")},
			pods:        []*v1.Pod{low("noisy", "n1", 1, "1"), low("quiet", "n1", 1, "1")},
			wantNode:    "n1",
			wantVictims: []string{"noisy"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newScheduler(t, Config{Rand: func(int) int { return 0 }})
			d, err := s.Decide(framework.NewPodInfo(tt.pod), framework.NewSnapshot(tt.pods, tt.nodes), PreemptionInput{PDBs: tt.pdbs, Now: now})
			if err != nil {
				t.Fatal(err)
			}
			if d.Node != "" {
				t.Fatalf("scheduled on %s without preemption", d.Node)
			}
			if tt.wantNode == "" {
				if d.Nominate != nil {
					t.Errorf("unexpected preemption on %s of %v", d.Nominate.Node, names(d.Nominate.Victims))
				}
				return
			}
			if d.Nominate == nil {
				t.Fatalf("no preemption: %s", d.Message)
			}
			if d.Nominate.Node != tt.wantNode || fmt.Sprint(names(d.Nominate.Victims)) != fmt.Sprint(tt.wantVictims) {
				t.Errorf("preempt %v on %s, want %v on %s", names(d.Nominate.Victims), d.Nominate.Node, tt.wantVictims, tt.wantNode)
			}
		})
	}
}

func TestNominatedPodWaitsForItsVictims(t *testing.T) {
	victim := st.Pod("victim").Node("n1").Priority(1).Req("cpu", "4").Obj()
	victim.DeletionTimestamp = &metav1.Time{Time: time.Now()}
	victim.Status.Conditions = []v1.PodCondition{{Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: v1.PodReasonPreemptionByScheduler}}
	pod := st.Pod("p").Priority(100).Req("cpu", "2").Nominated("n1").Obj()
	s := newScheduler(t, Config{})
	d, err := s.Decide(framework.NewPodInfo(pod), framework.NewSnapshot([]*v1.Pod{victim}, []*v1.Node{st.Node("n1").Cap("cpu", "4").Obj()}), PreemptionInput{})
	if err != nil {
		t.Fatal(err)
	}
	want := "0/1 nodes are available: 1 Insufficient cpu. preemption: not eligible due to a terminating pod on the nominated node."
	if d.Nominate != nil || d.Message != want {
		t.Errorf("got %v, %q", d.Nominate, d.Message)
	}
}

func names(pods []*v1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	return out
}

func TestConfigValidation(t *testing.T) {
	if _, err := New(Config{PercentageOfNodesToScore: 101}); err == nil {
		t.Error("percentage 101 accepted")
	}
	if _, err := New(Config{Plugins: append(DefaultPlugins(), DefaultPlugins()[0])}); err == nil {
		t.Error("duplicate plugin accepted")
	}
	if _, err := New(Config{Weights: map[string]int64{"TaintToleration": -1}}); err == nil {
		t.Error("negative weight accepted")
	}
}
