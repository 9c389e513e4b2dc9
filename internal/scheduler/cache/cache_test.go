package cache

import (
	"fmt"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

func newCache(t *testing.T) (*Cache, *clocktesting.FakeClock) {
	t.Helper()
	c := clocktesting.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cache := New(Config{Clock: c, AssumedPodTTL: 30 * time.Second})
	cache.AddNode(st.Node("n1").Cap("cpu", "4").Obj())
	cache.AddNode(st.Node("n2").Cap("cpu", "4").Obj())
	return cache, c
}

func snapshot(t *testing.T, c *Cache, snap *framework.Snapshot) *framework.Snapshot {
	t.Helper()
	if snap == nil {
		snap = framework.NewEmptySnapshot()
	}
	if err := c.UpdateSnapshot(snap); err != nil {
		t.Fatal(err)
	}
	return snap
}

func onNode(t *testing.T, snap *framework.Snapshot, node string) []string {
	t.Helper()
	ni := snap.Get(node)
	if ni == nil {
		t.Fatalf("node %s not in snapshot", node)
	}
	var out []string
	for _, p := range ni.Pods {
		out = append(out, p.Pod.Name)
	}
	return out
}

func TestAssumeIsVisibleAtOnce(t *testing.T) {
	c, _ := newCache(t)
	snap := snapshot(t, c, nil)
	p := st.Pod("p").Node("n1").Req("cpu", "1").Obj()
	if err := c.AssumePod(p); err != nil {
		t.Fatal(err)
	}
	snapshot(t, c, snap)
	if got := onNode(t, snap, "n1"); fmt.Sprint(got) != "[p]" || snap.Get("n1").Requested.MilliCPU != 1000 {
		t.Errorf("n1 holds %v, %dm", got, snap.Get("n1").Requested.MilliCPU)
	}
	if !c.IsAssumedPod(p) {
		t.Error("not assumed")
	}
	if err := c.AssumePod(p); err == nil {
		t.Error("assuming twice should fail")
	}
	if err := c.AssumePod(st.Pod("q").Obj()); err == nil {
		t.Error("assuming a pod without a node should fail")
	}
}

func TestConfirmation(t *testing.T) {
	c, _ := newCache(t)
	p := st.Pod("p").Node("n1").Req("cpu", "1").Obj()
	if err := c.AssumePod(p); err != nil {
		t.Fatal(err)
	}
	if err := c.FinishBinding(p); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPod(p.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, c, nil)
	if c.IsAssumedPod(p) || len(onNode(t, snap, "n1")) != 1 || snap.Get("n1").Requested.MilliCPU != 1000 {
		t.Errorf("after confirmation: assumed=%v pods=%v", c.IsAssumedPod(p), onNode(t, snap, "n1"))
	}
	if err := c.AddPod(p); err == nil {
		t.Error("adding a pod twice should fail")
	}
}

func TestConfirmationOnAnotherNode(t *testing.T) {
	c, _ := newCache(t)
	p := st.Pod("p").Node("n1").Obj()
	if err := c.AssumePod(p); err != nil {
		t.Fatal(err)
	}
	if err := c.AddPod(st.Pod("p").Node("n2").Obj()); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, c, nil)
	if len(onNode(t, snap, "n1")) != 0 || len(onNode(t, snap, "n2")) != 1 {
		t.Errorf("n1 %v, n2 %v", onNode(t, snap, "n1"), onNode(t, snap, "n2"))
	}
}

func TestForget(t *testing.T) {
	c, _ := newCache(t)
	p := st.Pod("p").Node("n1").Obj()
	if err := c.AssumePod(p); err != nil {
		t.Fatal(err)
	}
	if err := c.ForgetPod(st.Pod("p").Node("n2").Obj()); err == nil {
		t.Error("forgetting on the wrong node should fail")
	}
	if err := c.ForgetPod(p); err != nil {
		t.Fatal(err)
	}
	if c.PodCount() != 0 || len(onNode(t, snapshot(t, c, nil), "n1")) != 0 {
		t.Error("pod still counted after ForgetPod")
	}
	bound := st.Pod("b").Node("n1").Obj()
	if err := c.AddPod(bound); err != nil {
		t.Fatal(err)
	}
	if err := c.ForgetPod(bound); err == nil {
		t.Error("forgetting a confirmed pod should fail")
	}
}

func TestExpiry(t *testing.T) {
	c, clk := newCache(t)
	finished, pending := st.Pod("finished").Node("n1").Obj(), st.Pod("pending").Node("n1").Obj()
	for _, p := range []*v1.Pod{finished, pending} {
		if err := c.AssumePod(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.FinishBinding(finished); err != nil {
		t.Fatal(err)
	}
	clk.Step(30 * time.Second)
	if got := c.CleanupExpiredAssumedPods(); len(got) != 0 {
		t.Errorf("expired at the deadline: %v", got)
	}
	clk.Step(time.Millisecond)
	got := c.CleanupExpiredAssumedPods()
	if len(got) != 1 || got[0].Name != "finished" {
		t.Errorf("expired %v, want only the pod whose binding finished", got)
	}
	if fmt.Sprint(onNode(t, snapshot(t, c, nil), "n1")) != "[pending]" {
		t.Error("the expired pod is still counted")
	}
}

func TestUpdateAndRemovePod(t *testing.T) {
	c, _ := newCache(t)
	p := st.Pod("p").Node("n1").Req("cpu", "1").Obj()
	if err := c.AddPod(p); err != nil {
		t.Fatal(err)
	}
	bigger := st.Pod("p").Node("n1").Req("cpu", "2").Obj()
	if err := c.UpdatePod(p, bigger); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, c, nil)
	if snap.Get("n1").Requested.MilliCPU != 2000 {
		t.Errorf("requested %dm after update", snap.Get("n1").Requested.MilliCPU)
	}
	if err := c.UpdatePod(bigger, st.Pod("p").Node("n2").Obj()); err == nil {
		t.Error("a pod cannot move between nodes")
	}
	if err := c.RemovePod(bigger); err != nil {
		t.Fatal(err)
	}
	snapshot(t, c, snap)
	if snap.Get("n1").Requested.MilliCPU != 0 || c.PodCount() != 0 {
		t.Error("pod still counted after removal")
	}
	if err := c.RemovePod(bigger); err == nil {
		t.Error("removing twice should fail")
	}
}

func TestRemovedNodeKeepsItsPodsUntilTheyGo(t *testing.T) {
	c, _ := newCache(t)
	p := st.Pod("p").Node("n1").Obj()
	if err := c.AddPod(p); err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, c, nil)
	if err := c.RemoveNode(st.Node("n1").Obj()); err != nil {
		t.Fatal(err)
	}
	snapshot(t, c, snap)
	if snap.NumNodes() != 1 || snap.Get("n1") != nil || c.NodeCount() != 1 {
		t.Fatalf("snapshot lists %d nodes", snap.NumNodes())
	}
	if c.PodCount() != 1 {
		t.Error("the pod of the removed node was forgotten early")
	}
	if err := c.RemovePod(p); err != nil {
		t.Fatal(err)
	}
	// The node comes back.
	c.AddNode(st.Node("n1").Obj())
	snapshot(t, c, snap)
	if snap.NumNodes() != 2 || len(onNode(t, snap, "n1")) != 0 {
		t.Errorf("after re-adding n1: %d nodes", snap.NumNodes())
	}
	if err := c.RemoveNode(st.Node("nope").Obj()); err == nil {
		t.Error("removing an unknown node should fail")
	}
}

func TestSnapshotIsIncremental(t *testing.T) {
	c, _ := newCache(t)
	snap := snapshot(t, c, nil)
	n1, n2 := snap.Get("n1"), snap.Get("n2")
	g1, g2 := n1.Generation, n2.Generation
	if err := c.AssumePod(st.Pod("p").Node("n1").Obj()); err != nil {
		t.Fatal(err)
	}
	snapshot(t, c, snap)
	if snap.Get("n1") != n1 || snap.Get("n2") != n2 {
		t.Error("NodeInfo pointers must survive an update")
	}
	if n1.Generation == g1 || n2.Generation != g2 {
		t.Errorf("n1 %d->%d, n2 %d->%d: only n1 changed", g1, n1.Generation, g2, n2.Generation)
	}
	// A snapshot must not see changes before it is updated.
	if err := c.AssumePod(st.Pod("q").Node("n2").Obj()); err != nil {
		t.Fatal(err)
	}
	if len(n2.Pods) != 0 {
		t.Error("the snapshot changed before UpdateSnapshot")
	}
}

func TestAffinityListsFollowPods(t *testing.T) {
	c, _ := newCache(t)
	snap := snapshot(t, c, nil)
	p := st.Pod("p").Node("n2").PodAntiAffinity(st.AffinityTerm(v1.LabelHostname, "a", "b")).Obj()
	if err := c.AddPod(p); err != nil {
		t.Fatal(err)
	}
	snapshot(t, c, snap)
	if l := snap.HavePodsWithRequiredAntiAffinityList(); len(l) != 1 || l[0].Name() != "n2" {
		t.Errorf("anti-affinity list = %v", l)
	}
	if err := c.RemovePod(p); err != nil {
		t.Fatal(err)
	}
	snapshot(t, c, snap)
	if len(snap.HavePodsWithAffinityList()) != 0 {
		t.Error("affinity list kept a node without such pods")
	}
}

func TestNodeOrderInterleavesZones(t *testing.T) {
	c := New(Config{})
	for _, n := range []struct{ name, zone string }{{"a1", "a"}, {"a2", "a"}, {"a3", "a"}, {"b1", "b"}, {"c1", "c"}, {"b2", "b"}} {
		c.AddNode(st.Node(n.name).Zone(n.zone).Obj())
	}
	snap := snapshot(t, c, nil)
	var got []string
	for _, ni := range snap.List() {
		got = append(got, ni.Name())
	}
	if fmt.Sprint(got) != "[a1 b1 c1 a2 b2 a3]" {
		t.Errorf("order = %v", got)
	}
	c.UpdateNode(st.Node("a1").Zone("a").Obj(), st.Node("a1").Zone("c").Obj())
	snapshot(t, c, snap)
	got = got[:0]
	for _, ni := range snap.List() {
		got = append(got, ni.Name())
	}
	if fmt.Sprint(got) != "[a2 b1 c1 a3 b2 a1]" {
		t.Errorf("order after a zone change = %v", got)
	}
}

func TestImagesAndNamespaces(t *testing.T) {
	c := New(Config{})
	c.AddNode(st.Node("n1").Images(100, "img:1").Obj())
	c.AddNode(st.Node("n2").Images(100, "img:1").Obj())
	c.AddNamespace(&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team", Labels: map[string]string{"t": "x"}}})
	snap := snapshot(t, c, nil)
	if got := snap.Get("n1").ImageStates["img:1"].NumNodes; got != 2 {
		t.Errorf("img:1 on %d nodes, want 2", got)
	}
	if snap.NamespaceLabels("team")["t"] != "x" {
		t.Error("namespace labels missing")
	}
	c.RemoveNamespace(&v1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team"}})
	snapshot(t, c, snap)
	if snap.NamespaceLabels("team") != nil {
		t.Error("namespace kept after removal")
	}
}
