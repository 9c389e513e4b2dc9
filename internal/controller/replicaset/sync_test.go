package replicaset

import (
	"context"
	"fmt"
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
	"github.com/skiff-sh/skiff/internal/controller/controllertest"
)

// fixture is a controller on a fake clientset whose listers are
// preloaded with objects; sync is called directly.
type fixture struct {
	t        *testing.T
	client   *fake.Clientset
	events   *record.FakeRecorder
	c        *Controller
	informer informers.SharedInformerFactory
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, client: fake.NewClientset(objs...), events: record.NewFakeRecorder(100)}
	f.informer = informers.NewSharedInformerFactory(f.client, 0)
	c, err := newController(controller.Context{
		Client: f.client, Informers: f.informer, Clock: clocktesting.NewFakeClock(now),
		Recorder: func(string) record.EventRecorder { return f.events },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	for _, o := range objs {
		switch o := o.(type) {
		case *appsv1.ReplicaSet:
			_ = f.informer.Apps().V1().ReplicaSets().Informer().GetIndexer().Add(o)
		case *v1.Pod:
			_ = f.informer.Core().V1().Pods().Informer().GetIndexer().Add(o)
		}
	}
	// The fake clientset does not generate names.
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

func (f *fixture) sync(key string) error {
	f.t.Helper()
	return f.c.sync(context.Background(), key)
}

func (f *fixture) writes() []string { return controllertest.Writes(f.client.Actions()) }

func (f *fixture) drainEvents() []string { return controllertest.Events(f.events) }

func TestSyncCreatesMissingPodsOnceWhileInFlight(t *testing.T) {
	rs := newRS(3)
	f := newFixture(t, rs)
	if err := f.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.writes(), ",")
	if got != "create pods,create pods,create pods,update replicasets/status" {
		t.Errorf("writes = %s", got)
	}
	ev := f.drainEvents()
	if len(ev) != 3 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: ") {
		t.Errorf("events = %q", ev)
	}
	// The creations have not come back through the informer: a second
	// sync must not create again.
	f.client.ClearActions()
	if err := f.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	for _, w := range f.writes() {
		if w == "create pods" {
			t.Fatalf("created twice while its creations were in flight: %v", f.writes())
		}
	}
	// Once they are observed, the controller is free again.
	for range 3 {
		f.c.podEvents.OnAdd(pod("x", owned(rs)))
	}
	if !f.c.expectations.Satisfied("ns/web") {
		t.Error("expectations not satisfied after the pods were observed")
	}
}

func TestSyncStopsAtTheFirstFailingBatch(t *testing.T) {
	rs := newRS(10)
	f := newFixture(t, rs)
	f.client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errForbidden
	})
	if err := f.sync("ns/web"); err == nil {
		t.Fatal("a failing create must be retried")
	}
	creates := 0
	for _, w := range f.writes() {
		if w == "create pods" {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("%d creates sent; slow start must stop after the first batch of 1", creates)
	}
	if ev := f.drainEvents(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning FailedCreate Error creating: ") {
		t.Errorf("events = %q", ev)
	}
	if !f.c.expectations.Satisfied("ns/web") {
		t.Error("the creations never sent must be taken off the expectations")
	}
	st, _ := f.client.AppsV1().ReplicaSets("ns").Get(context.Background(), "web", metav1.GetOptions{})
	if len(st.Status.Conditions) != 1 || st.Status.Conditions[0].Reason != "FailedCreate" {
		t.Errorf("conditions = %+v", st.Status.Conditions)
	}
}

func TestSyncAdoptsReleasesAndDeletes(t *testing.T) {
	rs := newRS(2)
	keep := pod("keep", owned(rs), onNode("n"), readyFor(60))
	surplus := pod("surplus", owned(rs))
	orphan := pod("orphan", onNode("n"), readyFor(60))
	strayed := pod("strayed", owned(rs), labelled("app", "debug"))
	f := newFixture(t, rs, keep, surplus, orphan, strayed)
	if err := f.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	want := "patch pods,patch pods,delete pods,update replicasets/status"
	if got := strings.Join(f.writes(), ","); got != want {
		t.Errorf("writes = %s, want %s", got, want)
	}
	for _, a := range f.client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && d.GetName() != "surplus" {
			t.Errorf("deleted %s, want the not-ready surplus", d.GetName())
		}
	}
	if ev := f.drainEvents(); len(ev) != 1 || ev[0] != "Normal SuccessfulDelete Deleted pod: surplus" {
		t.Errorf("events = %q", ev)
	}
	p, _ := f.client.CoreV1().Pods("ns").Get(context.Background(), "orphan", metav1.GetOptions{})
	if ref := metav1.GetControllerOf(p); ref == nil || ref.UID != rs.UID || !*ref.BlockOwnerDeletion {
		t.Errorf("orphan not adopted: %+v", p.OwnerReferences)
	}
}

func TestSyncOfAGoneReplicaSetForgetsIt(t *testing.T) {
	f := newFixture(t)
	f.c.expectations.ExpectCreations("ns/web", 2)
	if err := f.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	if len(f.writes()) != 0 || !f.c.expectations.Satisfied("ns/web") {
		t.Errorf("writes %v; expectations kept", f.writes())
	}
}

var errForbidden = &apiStatusError{}

type apiStatusError struct{}

func (*apiStatusError) Error() string { return `pods "web-" is forbidden: exceeded quota` }
