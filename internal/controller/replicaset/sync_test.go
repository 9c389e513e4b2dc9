package replicaset

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8stesting "k8s.io/client-go/testing"

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

func (f *fixture) sync(key string) error {
	f.t.Helper()
	return f.c.sync(context.Background(), key)
}

func TestSyncCreatesMissingPodsOnceWhileInFlight(t *testing.T) {
	rs := newRS(3)
	f := newFixture(t, rs)
	if err := f.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(f.Writes(), ",")
	if got != "create pods,create pods,create pods,update replicasets/status" {
		t.Errorf("writes = %s", got)
	}
	ev := f.Events()
	if len(ev) != 3 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: ") {
		t.Errorf("events = %q", ev)
	}
	// The creations have not come back through the informer: a second
	// sync must not create again.
	f.Client.ClearActions()
	if err := f.sync("ns/web"); err != nil {
		t.Fatal(err)
	}
	for _, w := range f.Writes() {
		if w == "create pods" {
			t.Fatalf("created twice while its creations were in flight: %v", f.Writes())
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
	f.Client.PrependReactor("create", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		return true, nil, errForbidden
	})
	if err := f.sync("ns/web"); err == nil {
		t.Fatal("a failing create must be retried")
	}
	creates := 0
	for _, w := range f.Writes() {
		if w == "create pods" {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("%d creates sent; slow start must stop after the first batch of 1", creates)
	}
	if ev := f.Events(); len(ev) != 1 || !strings.HasPrefix(ev[0], "Warning FailedCreate Error creating: ") {
		t.Errorf("events = %q", ev)
	}
	if !f.c.expectations.Satisfied("ns/web") {
		t.Error("the creations never sent must be taken off the expectations")
	}
	st, _ := f.Client.AppsV1().ReplicaSets("ns").Get(context.Background(), "web", metav1.GetOptions{})
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
	if got := strings.Join(f.Writes(), ","); got != want {
		t.Errorf("writes = %s, want %s", got, want)
	}
	for _, a := range f.Client.Actions() {
		if d, ok := a.(k8stesting.DeleteAction); ok && d.GetName() != "surplus" {
			t.Errorf("deleted %s, want the not-ready surplus", d.GetName())
		}
	}
	if ev := f.Events(); len(ev) != 1 || ev[0] != "Normal SuccessfulDelete Deleted pod: surplus" {
		t.Errorf("events = %q", ev)
	}
	p, _ := f.Client.CoreV1().Pods("ns").Get(context.Background(), "orphan", metav1.GetOptions{})
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
	if len(f.Writes()) != 0 || !f.c.expectations.Satisfied("ns/web") {
		t.Errorf("writes %v; expectations kept", f.Writes())
	}
}

var errForbidden = &apiStatusError{}

type apiStatusError struct{}

func (*apiStatusError) Error() string { return `pods "web-" is forbidden: exceeded quota` }
