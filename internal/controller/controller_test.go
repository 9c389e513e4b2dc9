package controller

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	clocktesting "k8s.io/utils/clock/testing"
)

// recorder is a Sync that answers from a script and records the keys.
type recorder struct {
	mu     sync.Mutex
	calls  map[string]int
	answer func(key string, n int) error
	seen   chan string
}

func (r *recorder) sync(_ context.Context, key string) error {
	r.mu.Lock()
	r.calls[key]++
	n := r.calls[key]
	r.mu.Unlock()
	r.seen <- key
	return r.answer(key, n)
}

func newTestQueue(t *testing.T, answer func(string, int) error) (*Queue, *recorder) {
	t.Helper()
	r := &recorder{calls: map[string]int{}, answer: answer, seen: make(chan string, 100)}
	q, err := New(Config{Name: "test", Sync: r.sync,
		RateLimiter: workqueue.NewTypedItemExponentialFailureRateLimiter[string](time.Millisecond, 10*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	return q, r
}

func waitKey(t *testing.T, r *recorder, want string) {
	t.Helper()
	select {
	case k := <-r.seen:
		if k != want {
			t.Fatalf("synced %q, want %q", k, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%q was never synced", want)
	}
}

func TestQueueRetriesTransientErrorsAndDropsPermanentOnes(t *testing.T) {
	q, r := newTestQueue(t, func(key string, n int) error {
		switch {
		case key == "ns/flaky" && n < 3:
			return errors.New("conflict")
		case key == "ns/bad":
			return Permanent(errors.New("invalid selector"))
		}
		return nil
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx, 2); close(done) }()
	q.Add("ns/flaky")
	for range 3 {
		waitKey(t, r, "ns/flaky")
	}
	q.Add("ns/bad")
	waitKey(t, r, "ns/bad")
	q.Add("ns/ok")
	waitKey(t, r, "ns/ok")
	cancel()
	<-done
	if r.calls["ns/bad"] != 1 {
		t.Errorf("a permanent error was retried: %d calls", r.calls["ns/bad"])
	}
	if r.calls["ns/flaky"] != 3 {
		t.Errorf("flaky synced %d times, want 3", r.calls["ns/flaky"])
	}
}

func TestQueueKeepsKeysAcrossTermsOfLeadership(t *testing.T) {
	q, r := newTestQueue(t, func(string, int) error { return nil })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { q.Run(ctx, 3); close(done) }()
	q.Add("a")
	waitKey(t, r, "a")
	cancel()
	<-done
	// Not leading: keys queue up and nobody syncs them.
	q.Add("b")
	select {
	case k := <-r.seen:
		t.Fatalf("%q synced while no term ran", k)
	case <-time.After(50 * time.Millisecond):
	}
	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	go q.Run(ctx, 3)
	waitKey(t, r, "b")
}

func TestPermanentAndRequeueAfter(t *testing.T) {
	base := errors.New("x")
	if !IsPermanent(Permanent(base)) || !errors.Is(Permanent(base), base) {
		t.Error("Permanent must wrap its error and be recognised")
	}
	if IsPermanent(base) || Permanent(nil) != nil {
		t.Error("only marked errors are permanent")
	}
	var ra *requeueAfter
	if !errors.As(RequeueAfter(time.Second), &ra) || ra.d != time.Second {
		t.Error("RequeueAfter must carry its delay")
	}
}

func TestExpectations(t *testing.T) {
	clk := clocktesting.NewFakePassiveClock(time.Unix(1000, 0))
	tests := []struct {
		name string
		do   func(e *Expectations)
		want bool
	}{
		{"nothing recorded", func(*Expectations) {}, true},
		{"creations in flight", func(e *Expectations) { e.ExpectCreations("k", 2); e.CreationObserved("k") }, false},
		{"creations all seen", func(e *Expectations) {
			e.ExpectCreations("k", 2)
			e.CreationObserved("k")
			e.CreationObserved("k")
		}, true},
		{"a deletion seen twice counts once", func(e *Expectations) {
			e.ExpectDeletions("k", []string{"ns/a", "ns/b"})
			e.DeletionObserved("k", "ns/a")
			e.DeletionObserved("k", "ns/a")
		}, false},
		{"deletions all seen", func(e *Expectations) {
			e.ExpectDeletions("k", []string{"ns/a", "ns/b"})
			e.DeletionObserved("k", "ns/a")
			e.DeletionObserved("k", "ns/b")
		}, true},
		{"an unexpected deletion is ignored", func(e *Expectations) {
			e.ExpectDeletions("k", []string{"ns/a"})
			e.DeletionObserved("k", "ns/z")
		}, false},
		{"expired", func(e *Expectations) {
			e.ExpectCreations("k", 1)
			clk.SetTime(clk.Now().Add(ExpectationsTimeout + time.Second))
		}, true},
		{"forgotten", func(e *Expectations) { e.ExpectCreations("k", 1); e.Delete("k") }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk.SetTime(time.Unix(1000, 0))
			e := NewExpectations(clk)
			tt.do(e)
			if got := e.Satisfied("k"); got != tt.want {
				t.Errorf("Satisfied = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestDeleted(t *testing.T) {
	type obj struct{ name string }
	if o, ok := Deleted[*obj](&obj{"a"}); !ok || o.name != "a" {
		t.Error("plain object not returned")
	}
	if o, ok := Deleted[*obj](cache.DeletedFinalStateUnknown{Key: "b", Obj: &obj{"b"}}); !ok || o.name != "b" {
		t.Error("tombstone not unwrapped")
	}
	if _, ok := Deleted[*obj]("other"); ok {
		t.Error("another type accepted")
	}
}

func TestSelecting(t *testing.T) {
	type owner struct {
		name string
		sel  *metav1.LabelSelector
	}
	owners := []owner{
		{"web", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}},
		{"all", &metav1.LabelSelector{}},
		{"bad", &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "x", Operator: "Bogus"}}}},
		{"db", &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
	}
	sel := func(o owner) *metav1.LabelSelector { return o.sel }
	got := Selecting(owners, sel, map[string]string{"app": "web", "tier": "x"})
	if len(got) != 1 || got[0].name != "web" {
		t.Errorf("selecting = %v, want [web]", got)
	}
	if got := Selecting(owners, sel, nil); len(got) != 0 {
		t.Errorf("no labels selected %v", got)
	}
}
