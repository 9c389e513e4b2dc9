package daemonset

import (
	"context"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

// fixture is the controller on a controllertest.Fixture (fake
// clientset, informers preloaded with objs); sync is called directly.
type fixture struct {
	*controllertest.Fixture
	t *testing.T
	c *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	fx, c := controllertest.Build(t, now, newController, objs...)
	return &fixture{Fixture: fx, t: t, c: c}
}

func (f *fixture) sync() {
	f.t.Helper()
	if err := f.c.sync(context.Background(), "ns/agent"); err != nil {
		f.t.Fatal(err)
	}
}

// created returns the pods the fake client holds, by target node.
func (f *fixture) created() map[string]*v1.Pod {
	list, _ := f.Client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	out := map[string]*v1.Pod{}
	for i := range list.Items {
		n, _ := TargetNode(&list.Items[i])
		out[n] = &list.Items[i]
	}
	return out
}

func (f *fixture) status() appsv1.DaemonSetStatus {
	ds, err := f.Client.AppsV1().DaemonSets("ns").Get(context.Background(), "agent", metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return ds.Status
}

func TestSyncCreatesOnePodPerEligibleNodeOnce(t *testing.T) {
	ds := newDS(withNodeSelector("role", "edge"))
	f := newFixture(t, ds, newNode("a", labelled("role", "edge")), newNode("b", labelled("role", "edge")), newNode("c"))
	f.sync()
	want := "create controllerrevisions,create pods,create pods,update daemonsets/status"
	if got := strings.Join(f.NamedWrites("delete"), ","); got != want {
		t.Errorf("writes = %s\nwant     %s", got, want)
	}
	pods := f.created()
	hash := controller.ComputeHash(&ds.Spec.Template, nil)
	for _, n := range []string{"a", "b"} {
		p := pods[n]
		if p == nil || p.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] != hash || p.Spec.NodeName != "" {
			t.Errorf("pod for %s: %+v", n, p)
		}
	}
	if ev := f.Events(); len(ev) != 2 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: agent-") {
		t.Errorf("events = %q", ev)
	}
	rev, err := f.Client.AppsV1().ControllerRevisions("ns").Get(context.Background(), "agent-"+hash, metav1.GetOptions{})
	if err != nil || rev.Revision != 1 {
		t.Errorf("revision: %v %+v", err, rev)
	}
	if st := f.status(); st.DesiredNumberScheduled != 2 || st.CurrentNumberScheduled != 0 || st.NumberUnavailable != 2 || st.ObservedGeneration != 1 {
		t.Errorf("status = %+v", st)
	}
	// The creations have not come back through the informer: no second
	// round, and only the status may move.
	f.Client.ClearActions()
	f.sync()
	if slices.Contains(f.NamedWrites("delete"), "create pods") {
		t.Errorf("created twice while in flight: %v", f.NamedWrites("delete"))
	}
	for range 2 {
		f.c.podEvents.OnAdd(dpod("x", "a", hash))
	}
	if !f.c.expectations.Satisfied("ns/agent") {
		t.Error("expectations not satisfied after the pods were observed")
	}
}

func TestSyncRollsOutANewTemplateOneNodeAtATime(t *testing.T) {
	prev := newDS()
	oldRev, _ := NewRevision(prev, 1)
	oldHash := oldRev.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	ds := newDS(func(ds *appsv1.DaemonSet) {
		ds.Generation = 2
		ds.Spec.Template.Spec.Containers[0].Image = "agent:2"
	})
	f := newFixture(t, ds, oldRev, newNode("a"), newNode("b"),
		dpod("pa", "a", oldHash, ready), dpod("pb", "b", oldHash, ready))
	f.sync()
	want := "create controllerrevisions,delete pods pa,update daemonsets/status"
	if got := strings.Join(f.NamedWrites("delete"), ","); got != want {
		t.Errorf("writes = %s\nwant     %s", got, want)
	}
	newHash := controller.ComputeHash(&ds.Spec.Template, nil)
	rev, err := f.Client.AppsV1().ControllerRevisions("ns").Get(context.Background(), "agent-"+newHash, metav1.GetOptions{})
	if err != nil || rev.Revision != 2 {
		t.Errorf("new revision: %v %+v", err, rev)
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Normal SuccessfulDelete Deleted pod: pa" {
		t.Errorf("events = %q", ev)
	}
	if st := f.status(); st.UpdatedNumberScheduled != 0 || st.NumberReady != 2 || st.DesiredNumberScheduled != 2 {
		t.Errorf("status = %+v", st)
	}
}

func TestSyncOnDeleteLeavesOldPods(t *testing.T) {
	ds := newDS(func(ds *appsv1.DaemonSet) {
		ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType}
	})
	f := newFixture(t, ds, newNode("a"), dpod("pa", "a", "stale", ready))
	f.sync()
	if got := strings.Join(f.NamedWrites("delete"), ","); got != "create controllerrevisions,update daemonsets/status" {
		t.Errorf("writes = %s", got)
	}
	if st := f.status(); st.UpdatedNumberScheduled != 0 || st.CurrentNumberScheduled != 1 {
		t.Errorf("status = %+v", st)
	}
}

func TestSyncReplacesAFailedPodWithBackoff(t *testing.T) {
	ds := newDS()
	rev, _ := NewRevision(ds, 1)
	hash := rev.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	failed := dpod("pa", "a", hash, phase(v1.PodFailed))
	f := newFixture(t, ds, rev, newNode("a"), failed)
	f.sync()
	if got := strings.Join(f.NamedWrites("delete"), ","); got != "delete pods pa,update daemonsets/status" {
		t.Errorf("writes = %s", got)
	}
	if ev := f.Events(); len(ev) != 2 || ev[0] != "Warning FailedDaemonPod Found failed daemon pod ns/pa on node a, will try to kill it" {
		t.Errorf("events = %q", ev)
	}
	// The deletion was seen but the pod failed again at once: back off.
	f.c.podEvents.OnDelete(failed)
	f.Client.ClearActions()
	f.sync()
	if slices.Contains(f.NamedWrites("delete"), "delete pods pa") {
		t.Errorf("deleted again within the back-off: %v", f.NamedWrites("delete"))
	}
}

func TestSyncAdoptsAnOrphanAndDeletesExtras(t *testing.T) {
	ds := newDS()
	rev, _ := NewRevision(ds, 1)
	hash := rev.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	orphan := dpod("orphan", "a", hash, ready, func(p *v1.Pod) { p.OwnerReferences = nil })
	f := newFixture(t, ds, rev, newNode("a"), orphan, dpod("young", "a", hash, age(0)))
	f.sync()
	want := "patch pods,delete pods young,update daemonsets/status"
	if got := strings.Join(f.NamedWrites("delete"), ","); got != want {
		t.Errorf("writes = %s\nwant     %s", got, want)
	}
	p, _ := f.Client.CoreV1().Pods("ns").Get(context.Background(), "orphan", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != ds.UID {
		t.Errorf("orphan not adopted: %+v", p.OwnerReferences)
	}
}

func TestSyncOfAGoneDaemonSetForgetsIt(t *testing.T) {
	f := newFixture(t)
	f.c.expectations.ExpectCreations("ns/agent", 2)
	f.sync()
	if len(f.NamedWrites("delete")) != 0 || !f.c.expectations.Satisfied("ns/agent") {
		t.Errorf("writes %v; expectations kept", f.NamedWrites("delete"))
	}
}
