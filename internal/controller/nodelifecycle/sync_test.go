package nodelifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

type fixture struct {
	*controllertest.Fixture
	t *testing.T
	c *Controller
}

// newFixture is the controller on a controllertest.Fixture with the
// nodes and pods, at t0, tainting at rate nodes per second.
func newFixture(t *testing.T, rate float32, nodes []*v1.Node, pods ...*v1.Pod) *fixture {
	t.Helper()
	var objs []runtime.Object
	for _, n := range nodes {
		objs = append(objs, n)
	}
	for _, p := range pods {
		objs = append(objs, p)
	}
	fx, c := controllertest.Build(t, t0, func(ctx controller.Context) (*Controller, error) {
		ctx.NodeEviction = controller.NodeEviction{Rate: rate}
		return newController(ctx)
	}, objs...)
	c.updateZones()
	return &fixture{Fixture: fx, t: t, c: c}
}

func (f *fixture) sync(name string) {
	f.t.Helper()
	if err := f.c.sync(context.Background(), name); err != nil && !strings.HasPrefix(err.Error(), "requeue after") {
		f.t.Fatal(err)
	}
}

// tainted lists the nodes updated with a NoExecute taint, in order.
func (f *fixture) tainted() []string {
	var out []string
	for _, a := range f.Client.Actions() {
		u, ok := a.(k8stesting.UpdateAction)
		if !ok || a.GetSubresource() != "" || a.GetResource().Resource != "nodes" {
			continue
		}
		n := u.GetObject().(*v1.Node)
		for _, t := range n.Spec.Taints {
			if managedTaint(t) {
				out = append(out, n.Name)
			}
		}
	}
	return out
}

// Newly tainting nodes takes a token of the zone's bucket (burst 1): the
// second unreachable node of a zone waits for the next token.
func TestTaintingIsRateLimitedPerZone(t *testing.T) {
	nodes := nodesOf("a", 5, 2)
	nodes = append(nodes, nodesOf("b", 5, 1)...)
	f := newFixture(t, 1, nodes)
	f.sync("a-down-0")
	f.sync("a-down-1")
	f.sync("b-down-0") // another zone: its own bucket
	if got := strings.Join(f.tainted(), ","); got != "a-down-0,b-down-0" {
		t.Fatalf("tainted %s, want a-down-0,b-down-0", got)
	}
	f.Clock.Step(time.Second)
	f.sync("a-down-1")
	if got := strings.Join(f.tainted(), ","); got != "a-down-0,b-down-0,a-down-1" {
		t.Fatalf("tainted %s after a second", got)
	}
}

// A partially disrupted small zone taints nothing.
func TestPartiallyDisruptedSmallZoneStops(t *testing.T) {
	f := newFixture(t, 1, nodesOf("a", 2, 3))
	f.sync("a-down-0")
	if got := f.tainted(); len(got) != 0 {
		t.Fatalf("tainted %v", got)
	}
}

// When every node is down the controller taints none and takes its
// taints off the tainted ones.
func TestAllZonesDownUntaints(t *testing.T) {
	nodes := nodesOf("a", 0, 2)
	nodes[0].Spec.Taints = []v1.Taint{{Key: v1.TaintNodeUnreachable, Effect: v1.TaintEffectNoExecute}, {Key: "keep", Effect: v1.TaintEffectNoSchedule}}
	f := newFixture(t, 1, nodes)
	f.sync("a-down-0")
	f.sync("a-down-1")
	var updates []*v1.Node
	for _, a := range f.Client.Actions() {
		if u, ok := a.(k8stesting.UpdateAction); ok && a.GetSubresource() == "" {
			updates = append(updates, u.GetObject().(*v1.Node))
		}
	}
	if len(updates) != 1 || updates[0].Name != "a-down-0" || len(updates[0].Spec.Taints) != 1 || updates[0].Spec.Taints[0].Key != "keep" {
		t.Fatalf("updates %+v", updates)
	}
}

// A node is registered once; one that stops being ready gets
// NodeNotReady, and its pods too; a deleted node is removed.
func TestNodeEvents(t *testing.T) {
	nodes := nodesOf("a", 2, 0)
	nodes[0].Status.Conditions[0].LastHeartbeatTime.Time = t0.Add(-time.Hour)
	pod := &v1.Pod{}
	pod.Name, pod.Namespace, pod.Spec.NodeName = "p", "default", nodes[0].Name
	pod.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}
	f := newFixture(t, 1, nodes, pod)
	f.sync(nodes[1].Name)
	f.sync(nodes[1].Name)
	want := []string{"Normal RegisteredNode Node a-ready-1 event: Registered Node a-ready-1 in Controller"}
	if got := f.Events(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", got, want)
	}
	f.sync(nodes[0].Name)
	want = []string{
		"Normal RegisteredNode Node a-ready-0 event: Registered Node a-ready-0 in Controller",
		"Normal NodeNotReady Node a-ready-0 status is now: NodeNotReady",
		"Warning NodeNotReady Node is not ready",
		"Normal TaintManagerEviction Marking for deletion Pod default/p", // tolerates nothing
	}
	if got := f.Events(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", got, want)
	}
	_ = f.Informers.Core().V1().Nodes().Informer().GetIndexer().Delete(nodes[1])
	f.sync(nodes[1].Name)
	f.sync(nodes[1].Name)
	want = []string{"Normal RemovingNode Node a-ready-1 event: Removing Node a-ready-1 from Controller"}
	if got := f.Events(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("events %q, want %q", got, want)
	}
}
