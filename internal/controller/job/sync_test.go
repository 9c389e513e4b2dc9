package job

import (
	"context"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"

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

// writes lists the write actions, sorted, with the names of patches and
// deletions.
func (f *fixture) writes() []string {
	out := f.NamedWrites("patch", "delete")
	slices.Sort(out)
	return out
}

func (f *fixture) job(name string) *batchv1.Job {
	f.t.Helper()
	j, err := f.Client.BatchV1().Jobs("ns").Get(context.Background(), name, metav1.GetOptions{})
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
	pods, _ := f.Client.CoreV1().Pods("ns").List(context.Background(), metav1.ListOptions{})
	for _, p := range pods.Items {
		if !slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) || !strings.HasPrefix(p.Name, "pi-") {
			t.Errorf("pod %s finalizers %v", p.Name, p.Finalizers)
		}
	}
	if st := f.job("pi").Status; st.Active != 2 || st.StartTime == nil {
		t.Errorf("status %+v", st)
	}
	if ev := f.Events(); len(ev) != 2 || !strings.HasPrefix(ev[0], "Normal SuccessfulCreate Created pod: pi-") {
		t.Errorf("events %v", ev)
	}
	// The creations are in flight: a second sync creates nothing.
	f.Client.ClearActions()
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
	acts := f.Client.Actions()
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
	p, _ := f.Client.CoreV1().Pods("ns").Get(context.Background(), "a", metav1.GetOptions{})
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
