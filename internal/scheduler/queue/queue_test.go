package queue

import (
	"context"
	"errors"
	"testing"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	clocktesting "k8s.io/utils/clock/testing"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/nodeaffinity"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/noderesources"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/tainttoleration"
	st "github.com/skiff-sh/skiff/internal/scheduler/schedtest"
)

var start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func newQueue(t *testing.T, popFromBackoff bool) (*Queue, *clocktesting.FakeClock) {
	t.Helper()
	fit, err := noderesources.NewFit(noderesources.FitConfig{})
	if err != nil {
		t.Fatal(err)
	}
	c := clocktesting.NewFakeClock(start)
	q, err := New(Config{
		Clock:                  c,
		Plugins:                []framework.Plugin{fit, tainttoleration.New(), nodeaffinity.New()},
		DisablePopFromBackoffQ: !popFromBackoff,
	})
	if err != nil {
		t.Fatal(err)
	}
	return q, c
}

// popNow pops without blocking for long; it fails the test if nothing is
// ready.
func popNow(t *testing.T, q *Queue) *QueuedPodInfo {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	pi, err := q.Pop(ctx)
	if err != nil {
		t.Fatalf("Pop: %v", err)
	}
	return pi
}

// nothingReady asserts that Pop would block.
func nothingReady(t *testing.T, q *Queue) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if pi, err := q.Pop(ctx); err == nil {
		t.Fatalf("Pop returned %s, want nothing ready", pi.Pod.Name)
	}
}

// fail pops the next pod and returns it as rejected by plugins (none for
// an error).
func fail(t *testing.T, q *Queue, plugins ...string) *QueuedPodInfo {
	t.Helper()
	pi := popNow(t, q)
	pi.UnschedulablePlugins = sets.New(plugins...)
	if err := q.AddUnschedulableIfNotPresent(pi); err != nil {
		t.Fatal(err)
	}
	return pi
}

func TestOrderIsPriorityThenAge(t *testing.T) {
	q, c := newQueue(t, true)
	q.Add(st.Pod("old-low").Priority(1).Obj())
	c.Step(time.Second)
	q.Add(st.Pod("high").Priority(100).Obj())
	c.Step(time.Second)
	q.Add(st.Pod("new-low").Priority(1).Obj())
	q.Add(st.Pod("default").Obj())
	for _, want := range []string{"high", "old-low", "new-low", "default"} {
		if got := popNow(t, q).Pod.Name; got != want {
			t.Errorf("popped %s, want %s", got, want)
		}
	}
}

func TestPopBlocksUntilAddOrCancel(t *testing.T) {
	q, _ := newQueue(t, true)
	got := make(chan string)
	go func() {
		pi, err := q.Pop(context.Background())
		if err != nil {
			got <- err.Error()
			return
		}
		got <- pi.Pod.Name
	}()
	time.Sleep(10 * time.Millisecond)
	q.Add(st.Pod("p").Obj())
	if name := <-got; name != "p" {
		t.Errorf("got %s", name)
	}

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { _, err := q.Pop(ctx); errc <- err }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("Pop after cancel = %v", err)
	}

	go func() { _, err := q.Pop(context.Background()); errc <- err }()
	q.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("Pop after Close = %v", err)
	}
}

func TestBackoffDoublesUpToTheMaximum(t *testing.T) {
	q, _ := newQueue(t, false)
	want := []time.Duration{1, 2, 4, 8, 10, 10, 10}
	for i, w := range want {
		if got := q.backoffDuration(i + 1); got != w*time.Second {
			t.Errorf("failure %d: back-off %v, want %v", i+1, got, w*time.Second)
		}
	}
}

func TestBackoffThenActive(t *testing.T) {
	q, c := newQueue(t, false)
	q.Add(st.Pod("p").Obj())
	for attempt, backoff := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		pi := popNow(t, q)
		if pi.Attempts != attempt+1 {
			t.Errorf("attempts = %d", pi.Attempts)
		}
		// The attempt fails with an error: no plugin rejected the pod.
		if err := q.AddUnschedulableIfNotPresent(pi); err != nil {
			t.Fatal(err)
		}
		if s := q.Stats(); s.Backoff != 1 {
			t.Fatalf("stats = %+v, want the pod backing off", s)
		}
		c.Step(backoff - time.Millisecond)
		q.FlushBackoffQCompleted()
		nothingReady(t, q)
		c.Step(2 * time.Millisecond)
		q.FlushBackoffQCompleted()
	}
	popNow(t, q)
}

func TestUnschedulableWaitsForAnEventThatMayHelp(t *testing.T) {
	q, c := newQueue(t, false)
	q.Add(st.Pod("p").Req("cpu", "2").Obj())
	fail(t, q, noderesources.FitName)
	if s := q.Stats(); s.Unschedulable != 1 {
		t.Fatalf("stats = %+v", s)
	}

	// A relabelled node: Fit did not ask for that event.
	old, relabelled := st.Node("n").Cap("cpu", "1").Obj(), st.Node("n").Cap("cpu", "1").Label("x", "y").Obj()
	q.NodeUpdated(old, relabelled)
	// A node too small even when empty: Fit's hint says no.
	q.NodeAdded(st.Node("small").Cap("cpu", "1").Obj())
	if s := q.Stats(); s.Unschedulable != 1 {
		t.Fatalf("irrelevant events moved the pod: %+v", s)
	}

	// A big node arrives while the pod is still backing off (1 s).
	q.NodeAdded(st.Node("big").Cap("cpu", "4").Obj())
	if s := q.Stats(); s.Backoff != 1 {
		t.Fatalf("stats = %+v, want backing off", s)
	}
	nothingReady(t, q)
	c.Step(time.Second + time.Millisecond)
	q.FlushBackoffQCompleted()
	if got := popNow(t, q); got.UnschedulableCount != 1 {
		t.Errorf("unschedulable count = %d", got.UnschedulableCount)
	}
}

func TestAnEventAfterTheBackoffGoesStraightToActive(t *testing.T) {
	q, c := newQueue(t, false)
	q.Add(st.Pod("p").Obj())
	fail(t, q, tainttoleration.Name)
	c.Step(5 * time.Second)
	q.NodeUpdated(st.Node("n").Taint("k", "v", v1.TaintEffectNoSchedule).Obj(), st.Node("n").Obj())
	popNow(t, q)
}

func TestAssignedPodDeletedHelpsFit(t *testing.T) {
	q, c := newQueue(t, false)
	q.Add(st.Pod("p").Req("cpu", "2").Obj())
	fail(t, q, noderesources.FitName)
	c.Step(time.Minute)
	q.AssignedPodAdded(st.Pod("other").Node("n").Obj())
	nothingReady(t, q)
	q.AssignedPodDeleted(st.Pod("other").Node("n").Obj())
	popNow(t, q)
}

func TestLeftoverFlushAfterFiveMinutes(t *testing.T) {
	q, c := newQueue(t, false)
	q.Add(st.Pod("p").Obj())
	fail(t, q, nodeaffinity.Name)
	c.Step(5 * time.Minute)
	q.FlushUnschedulableLeftover()
	nothingReady(t, q)
	c.Step(time.Second)
	q.FlushUnschedulableLeftover()
	popNow(t, q)
}

func TestEventsDuringTheAttemptCount(t *testing.T) {
	q, c := newQueue(t, false)
	q.Add(st.Pod("p").Req("cpu", "2").Obj())
	pi := popNow(t, q)
	// While the pod is being scheduled, a node that fits it arrives.
	q.NodeAdded(st.Node("big").Cap("cpu", "4").Obj())
	pi.UnschedulablePlugins = sets.New(noderesources.FitName)
	if err := q.AddUnschedulableIfNotPresent(pi); err != nil {
		t.Fatal(err)
	}
	if s := q.Stats(); s.Backoff != 1 || s.InFlight != 0 {
		t.Fatalf("stats = %+v, want backing off, not parked", s)
	}
	c.Step(2 * time.Second)
	q.FlushBackoffQCompleted()
	popNow(t, q)
}

func TestPopFromBackoffWhenIdle(t *testing.T) {
	q, _ := newQueue(t, true)
	q.Add(st.Pod("p").Obj())
	fail(t, q) // an error: straight to the error back-off queue
	nothingReady(t, q)

	q.Add(st.Pod("r").Obj())
	fail(t, q, noderesources.FitName)
	q.AssignedPodDeleted(st.Pod("gone").Node("n").Obj())
	// activeQ is empty: the rejected pod is taken before its back-off ends.
	if got := popNow(t, q).Pod.Name; got != "r" {
		t.Errorf("popped %s", got)
	}
}

func TestSchedulingGates(t *testing.T) {
	q, _ := newQueue(t, false)
	gated := st.Pod("p").Gate("example.com/wait").Obj()
	q.Add(gated)
	if s := q.Stats(); s.Gated != 1 {
		t.Fatalf("stats = %+v", s)
	}
	nothingReady(t, q)
	q.FlushUnschedulableLeftover()
	q.NodeAdded(st.Node("n").Obj())
	nothingReady(t, q)
	q.Update(gated, st.Pod("p").Obj())
	popNow(t, q)
}

func TestUpdateOfAParkedPod(t *testing.T) {
	q, c := newQueue(t, false)
	old := st.Pod("p").Obj()
	q.Add(old)
	fail(t, q, tainttoleration.Name)
	c.Step(time.Minute)
	q.Update(old, st.Pod("p").Label("a", "b").Obj())
	nothingReady(t, q)
	q.Update(old, st.Pod("p").Toleration("k", v1.TolerationOpExists, "", "").Obj())
	if got := popNow(t, q); len(got.Pod.Spec.Tolerations) != 1 {
		t.Errorf("popped the old version")
	}
}

func TestDeleteAndActivate(t *testing.T) {
	q, _ := newQueue(t, false)
	a, b := st.Pod("a").Obj(), st.Pod("b").Obj()
	q.Add(a)
	q.Add(b)
	q.Delete(a)
	if got := popNow(t, q).Pod.Name; got != "b" {
		t.Errorf("popped %s", got)
	}
	q.Add(a)
	fail(t, q, noderesources.FitName)
	q.Activate(a)
	popNow(t, q)
	if len(q.PendingPods()) != 0 {
		t.Errorf("pending = %d", len(q.PendingPods()))
	}
}

func TestNominator(t *testing.T) {
	q, _ := newQueue(t, false)
	p := st.Pod("p").Nominated("n1").Obj()
	q.Add(p)
	if got := q.NominatedPodsForNode("n1"); len(got) != 1 {
		t.Fatalf("nominated on n1: %d", len(got))
	}
	q.AddNominatedPod(framework.NewPodInfo(p), "n2")
	if len(q.NominatedPodsForNode("n1")) != 0 || len(q.NominatedPodsForNode("n2")) != 1 {
		t.Error("re-nomination did not move the pod")
	}
	// An update without a nomination in its status keeps ours.
	q.Update(st.Pod("p").Obj(), st.Pod("p").Label("x", "y").Obj())
	if len(q.NominatedPodsForNode("n2")) != 1 {
		t.Error("nomination lost on update")
	}
	q.DeleteNominatedPodIfExists(p)
	if len(q.NominatedPodsForNode("n2")) != 0 {
		t.Error("nomination kept after delete")
	}
}

func TestRunFlushesWithTheClock(t *testing.T) {
	q, c := newQueue(t, false)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx); close(done) }()
	q.Add(st.Pod("p").Obj())
	fail(t, q)
	for i := 0; i < 3 && q.Stats().Active == 0; i++ {
		for !c.HasWaiters() {
			time.Sleep(time.Millisecond)
		}
		c.Step(time.Second)
		time.Sleep(5 * time.Millisecond)
	}
	popNow(t, q)
	cancel()
	<-done
	if _, err := q.Pop(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Run did not close the queue: %v", err)
	}
}
