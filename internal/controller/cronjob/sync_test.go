package cronjob

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/client-go/tools/record"
	clocktesting "k8s.io/utils/clock/testing"

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

func newFixture(t *testing.T, now time.Time, objs ...runtime.Object) *fixture {
	t.Helper()
	fx, c := controllertest.Build(t, now, newController, objs...)
	return &fixture{Fixture: fx, t: t, c: c}
}

func TestSyncStartsTheJobAndWaitsForTheNextTime(t *testing.T) {
	cj := newCronJob("*/2 * * * *")
	f := newFixture(t, t1002.Add(time.Second), cj)
	err := f.c.sync(context.Background(), "ns/hello")
	if !isRequeue(err, 2*time.Minute-time.Second+nextScheduleDelta) {
		t.Fatalf("sync: %v", err)
	}
	if got := strings.Join(f.Writes(), "; "); got != "create jobs; update cronjobs/status" {
		t.Errorf("writes: %s", got)
	}
	if e := f.Event(); e != "Normal SuccessfulCreate Created job hello-29939642" {
		t.Errorf("event %q", e)
	}
	got, err := f.Client.BatchV1().CronJobs("ns").Get(context.Background(), "hello", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Status.Active) != 1 || got.Status.Active[0].Name != "hello-29939642" || !got.Status.LastScheduleTime.Time.Equal(t1002) {
		t.Errorf("status %+v", got.Status)
	}
}

func TestSyncDeletesJobsBeyondTheHistory(t *testing.T) {
	cj := newCronJob("*/2 * * * *", lastScheduled(t1002))
	f := newFixture(t, t1002.Add(time.Second), cj, job("f0", "Failed", 0), job("f1", "Failed", 1))
	if err := f.c.sync(context.Background(), "ns/hello"); !isRequeue(err, 0) {
		t.Fatalf("sync: %v", err)
	}
	if got := strings.Join(f.Writes(), "; "); got != "delete jobs" {
		t.Errorf("writes: %s", got)
	}
	if _, err := f.Client.BatchV1().Jobs("ns").Get(context.Background(), "f0", metav1.GetOptions{}); err == nil {
		t.Error("f0 is still there")
	}
	if e := f.Event(); e != "Normal SuccessfulDelete Deleted job f0" {
		t.Errorf("event %q", e)
	}
}

// isRequeue reports whether err asks for a requeue (after d, when d is
// not zero).
func isRequeue(err error, d time.Duration) bool {
	if err == nil || controller.IsPermanent(err) {
		return false
	}
	want := controller.RequeueAfter(d)
	return d == 0 || err.Error() == want.Error() || errors.Is(err, want)
}

// TestControllerRunsOnTheInjectedClock runs the controller's queue on a
// fake clock: nothing happens until the clock reaches the schedule time,
// then the requeued key starts the Job.
func TestControllerRunsOnTheInjectedClock(t *testing.T) {
	cj := newCronJob("* * * * *")
	client := fake.NewClientset(cj)
	clock := clocktesting.NewFakeClock(created) // 10:00:30
	inf := informers.NewSharedInformerFactory(client, 0)
	c, err := newController(controller.Context{Client: client, Informers: inf, Clock: clock,
		Recorder: func(string) record.EventRecorder { return record.NewFakeRecorder(100) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	inf.Start(ctx.Done())
	inf.WaitForCacheSync(ctx.Done())
	done := make(chan struct{})
	go func() { c.Run(ctx, 1); close(done) }()
	defer func() { cancel(); <-done; c.ShutDown() }()

	jobsNow := func() int {
		list, err := client.BatchV1().Jobs("ns").List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(list.Items)
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30 s", what)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// The first sync requeues the key for 10:01:00.1 on the fake clock
	// (if it runs only after the step below, it starts the Job itself).
	waitFor("the queue's timers", clock.HasWaiters)
	if n := jobsNow(); n != 0 {
		t.Fatalf("%d jobs before the schedule time", n)
	}
	clock.Step(30 * time.Second)
	// A requeue the queue took in just as the clock stepped is timed from
	// the new time: nudge the clock on (still within 10:01) until it fires.
	waitFor("the job of 10:01", func() bool {
		if jobsNow() == 1 {
			return true
		}
		if clock.Now().Before(created.Add(75 * time.Second)) {
			clock.Step(time.Second)
		}
		return false
	})
	j, err := client.BatchV1().Jobs("ns").Get(context.Background(), "hello-29939641", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if j.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2026-12-04T10:01:00Z" {
		t.Errorf("annotations %v", j.Annotations)
	}
}
