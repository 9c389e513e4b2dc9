package daemonset

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/controller"
)

// fixture is a controller on a fake clientset whose listers are
// preloaded with objects; sync is called directly.
type fixture struct {
	t      *testing.T
	client *fake.Clientset
	events *record.FakeRecorder
	clock  *clocktesting.FakeClock
	c      *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, client: fake.NewClientset(objs...), events: record.NewFakeRecorder(100), clock: clocktesting.NewFakeClock(now)}
	inf := informers.NewSharedInformerFactory(f.client, 0)
	c, err := newController(controller.Context{
		Client: f.client, Informers: inf, Clock: f.clock,
		Recorder: func(string) record.EventRecorder { return f.events },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.DaemonSet:
			_ = inf.Apps().V1().DaemonSets().Informer().GetIndexer().Add(o)
		case *appsv1.ControllerRevision:
			_ = inf.Apps().V1().ControllerRevisions().Informer().GetIndexer().Add(o)
		case *v1.Pod:
			_ = inf.Core().V1().Pods().Informer().GetIndexer().Add(o)
		case *v1.Node:
			_ = inf.Core().V1().Nodes().Informer().GetIndexer().Add(o)
		}
	}
	n := 0
	f.client.PrependReactor("create", "pods", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p := a.(k8stesting.CreateAction).GetObject().(*v1.Pod)
		if p.Name == "" {
			n++
			p.Name = fmt.Sprintf("%s%05d", p.GenerateName, n)
		}
		return false, nil, nil
	})
	f.client.ClearActions()
	return f
}

func (f *fixture) sync() {
	f.t.Helper()
	if err := f.c.sync(context.Background(), "ns/agent"); err != nil {
		f.t.Fatal(err)
	}
}

// writes lists the write actions as "verb resource[/sub] [name]".
func (f *fixture) writes() []string {
	var out []string
	for _, a := range f.client.Actions() {
		if a.GetVerb() == "get" || a.GetVerb() == "list" || a.GetVerb() == "watch" {
			continue
		}
		s := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			s += "/" + a.GetSubresource()
		}
		if d, ok := a.(k8stesting.DeleteAction); ok {
			s += " " + d.GetName()
		}
		out = append(out, s)
	}
	return out
}

func (f *fixture) drainEvents() []string {
	var out []string
	for {
		select {
		case e := <-f.events.Events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// created returns the pods the fake client holds, by target node.
func (f *fixture) created() map[string]*v1.Pod {
	list, _ := f.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	out := map[string]*v1.Pod{}
	for i := range list.Items {
		n, _ := TargetNode(&list.Items[i])
		out[n] = &list.Items[i]
	}
	return out
}

func (f *fixture) status() appsv1.DaemonSetStatus {
	ds, err := f.client.AppsV1().DaemonSets("ns").Get(context.Background(), "agent", metav1.GetOptions{})
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
	if got := strings.Join(f.writes(), ","); got != want {
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
	if ev := f.drainEvents(); len(ev) != 2 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: agent-") {
		t.Errorf("events = %q", ev)
	}
	rev, err := f.client.AppsV1().ControllerRevisions("ns").Get(context.Background(), "agent-"+hash, metav1.GetOptions{})
	if err != nil || rev.Revision != 1 {
		t.Errorf("revision: %v %+v", err, rev)
	}
	if st := f.status(); st.DesiredNumberScheduled != 2 || st.CurrentNumberScheduled != 0 || st.NumberUnavailable != 2 || st.ObservedGeneration != 1 {
		t.Errorf("status = %+v", st)
	}
	// The creations have not come back through the informer: no second
	// round, and only the status may move.
	f.client.ClearActions()
	f.sync()
	if slices.Contains(f.writes(), "create pods") {
		t.Errorf("created twice while in flight: %v", f.writes())
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
	if got := strings.Join(f.writes(), ","); got != want {
		t.Errorf("writes = %s\nwant     %s", got, want)
	}
	newHash := controller.ComputeHash(&ds.Spec.Template, nil)
	rev, err := f.client.AppsV1().ControllerRevisions("ns").Get(context.Background(), "agent-"+newHash, metav1.GetOptions{})
	if err != nil || rev.Revision != 2 {
		t.Errorf("new revision: %v %+v", err, rev)
	}
	if ev := f.drainEvents(); len(ev) != 1 || ev[0] != "Normal SuccessfulDelete Deleted pod: pa" {
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
	if got := strings.Join(f.writes(), ","); got != "create controllerrevisions,update daemonsets/status" {
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
	if got := strings.Join(f.writes(), ","); got != "delete pods pa,update daemonsets/status" {
		t.Errorf("writes = %s", got)
	}
	if ev := f.drainEvents(); len(ev) != 2 || ev[0] != "Warning FailedDaemonPod Found failed daemon pod ns/pa on node a, will try to kill it" {
		t.Errorf("events = %q", ev)
	}
	// The deletion was seen but the pod failed again at once: back off.
	f.c.podEvents.OnDelete(failed)
	f.client.ClearActions()
	f.sync()
	if slices.Contains(f.writes(), "delete pods pa") {
		t.Errorf("deleted again within the back-off: %v", f.writes())
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
	if got := strings.Join(f.writes(), ","); got != want {
		t.Errorf("writes = %s\nwant     %s", got, want)
	}
	p, _ := f.client.CoreV1().Pods("ns").Get(context.Background(), "orphan", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != ds.UID {
		t.Errorf("orphan not adopted: %+v", p.OwnerReferences)
	}
}

func TestSyncOfAGoneDaemonSetForgetsIt(t *testing.T) {
	f := newFixture(t)
	f.c.expectations.ExpectCreations("ns/agent", 2)
	f.sync()
	if len(f.writes()) != 0 || !f.c.expectations.Satisfied("ns/agent") {
		t.Errorf("writes %v; expectations kept", f.writes())
	}
}
