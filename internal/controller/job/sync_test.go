package job

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller"
)

// fixture is a controller on a fake clientset whose listers are
// preloaded with objects; sync is called directly.
type fixture struct {
	t      *testing.T
	client *fake.Clientset
	events *record.FakeRecorder
	c      *Controller
}

func newFixture(t *testing.T, objs ...runtime.Object) *fixture {
	t.Helper()
	f := &fixture{t: t, client: fake.NewClientset(objs...), events: record.NewFakeRecorder(100)}
	inf := informers.NewSharedInformerFactory(f.client, 0)
	c, err := newController(controller.Context{
		Client: f.client, Informers: inf, Clock: clocktesting.NewFakeClock(now),
		Recorder: func(string) record.EventRecorder { return f.events },
	})
	if err != nil {
		t.Fatal(err)
	}
	f.c = c
	for _, o := range objs {
		switch o := o.(type) {
		case *batchv1.Job:
			_ = inf.Batch().V1().Jobs().Informer().GetIndexer().Add(o)
		case *v1.Pod:
			_ = inf.Core().V1().Pods().Informer().GetIndexer().Add(o)
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

// writes lists the fake client's write actions as "verb resource[/sub] [name]".
func (f *fixture) writes() []string {
	var out []string
	for _, a := range f.client.Actions() {
		s := a.GetVerb() + " " + a.GetResource().Resource
		if a.GetSubresource() != "" {
			s += "/" + a.GetSubresource()
		}
		switch a := a.(type) {
		case k8stesting.PatchAction:
			s += " " + a.GetName()
		case k8stesting.DeleteAction:
			s += " " + a.GetName()
		case k8stesting.GetAction, k8stesting.ListAction, k8stesting.WatchAction:
			continue
		}
		out = append(out, s)
	}
	slices.Sort(out)
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

func (f *fixture) job(name string) *batchv1.Job {
	f.t.Helper()
	j, err := f.client.BatchV1().Jobs("ns").Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		f.t.Fatal(err)
	}
	return j
}

func TestSyncCreatesPodsWithTheTrackingFinalizer(t *testing.T) {
	j := newJob(ptr.To[int32](3), ptr.To[int32](2), withStatus(func(s *batchv1.JobStatus) { s.StartTime = nil }))
	f := newFixture(t, j)
	if err := f.c.sync(context.Background(), "ns/pi"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.writes(), "; "); got != "create pods; create pods; update jobs/status" {
		t.Errorf("writes: %s", got)
	}
	pods, _ := f.client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	for _, p := range pods.Items {
		if !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) || !strings.HasPrefix(p.Name, "pi-") {
			t.Errorf("pod %s finalizers %v", p.Name, p.Finalizers)
		}
	}
	if st := f.job("pi").Status; st.Active != 2 || st.StartTime == nil {
		t.Errorf("status %+v", st)
	}
	if ev := f.drainEvents(); len(ev) != 2 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: pi-") {
		t.Errorf("events %v", ev)
	}
	// The creations are in flight: a second sync creates nothing.
	f.client.ClearActions()
	if err := f.c.sync(context.Background(), "ns/pi"); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); slices.Contains(got, "create pods") {
		t.Errorf("writes while in flight: %v", got)
	}
}

func TestSyncRecordsAPodBeforeLettingItGo(t *testing.T) {
	j := newJob(ptr.To[int32](1), ptr.To[int32](1))
	a := pod("a", "Succeeded,fin")
	f := newFixture(t, j, a)
	if err := f.c.sync(context.Background(), "ns/pi"); err != nil {
		t.Fatal(err)
	}
	acts := f.client.Actions()
	var order []string
	for _, x := range acts {
		if x.GetVerb() == "update" || x.GetVerb() == "patch" {
			order = append(order, x.GetVerb()+" "+x.GetResource().Resource)
		}
	}
	if strings.Join(order, ", ") != "update jobs, patch pods" {
		t.Errorf("order: %v", order)
	}
	st := f.job("pi").Status
	if uncounted(st) != "s[a] f[]" || conds(st) != "SuccessCriteriaMet/CompletionsReached" {
		t.Errorf("uncounted %s conditions %q", uncounted(st), conds(st))
	}
	p, _ := f.client.CoreV1().Pods("ns").Get(context.Background(), "a", metav1.GetOptions{})
	if len(p.Finalizers) != 0 {
		t.Errorf("finalizers %v", p.Finalizers)
	}
	if !f.c.removing.has("a") {
		t.Error("the removal is not remembered until the cache shows it")
	}
}

func TestSyncOfAGoneJobLetsItsPodsGo(t *testing.T) {
	f := newFixture(t, pod("a", "Running,fin"))
	if err := f.c.sync(context.Background(), "ns/pi"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.writes(), "; "); got != "patch pods a" {
		t.Errorf("writes: %s", got)
	}
}

func TestSyncLetsGoOfThePodsOfAnEarlierJobOfTheSameName(t *testing.T) {
	old := pod("old", "Running,fin,del")
	old.OwnerReferences[0].UID = "earlier-uid"
	f := newFixture(t, newJob(ptr.To[int32](1), ptr.To[int32](1)), old, pod("a", "Running,fin"))
	if err := f.c.sync(context.Background(), "ns/pi"); err != nil {
		t.Fatal(err)
	}
	if got := f.writes(); !slices.Contains(got, "patch pods old") || slices.Contains(got, "patch pods a") {
		t.Errorf("writes: %v", got)
	}
}

func TestSyncOrphanLetsGoOfAPodNoJobControls(t *testing.T) {
	orphan := pod("o", "Running,fin")
	orphan.OwnerReferences = nil
	f := newFixture(t, orphan)
	if err := f.c.syncOrphan(context.Background(), "ns/o"); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(f.writes(), "; "); got != "patch pods o" {
		t.Errorf("writes: %s", got)
	}
}
