package informerrun

import (
	"context"
	"errors"
	"testing"
	"time"

	testclock "k8s.io/utils/clock/testing"
)

// call is one Sync the loop made.
type call struct {
	at       time.Duration // since the start
	periodic bool
}

// loopRig runs a Loop on a fake clock; every Sync reports itself on
// calls and returns what the test sends on results.
type loopRig struct {
	t       *testing.T
	clk     *testclock.FakeClock
	t0      time.Time
	changed chan struct{}
	calls   chan call
	results chan error
	retries chan time.Duration
}

func startLoop(t *testing.T, period, minPeriod time.Duration) *loopRig {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := &loopRig{t: t, clk: testclock.NewFakeClock(t0), t0: t0, changed: make(chan struct{}, 1),
		calls: make(chan call), results: make(chan error), retries: make(chan time.Duration, 1)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Loop{Clock: r.clk, Changed: r.changed, Period: period, MinPeriod: minPeriod,
			Sync: func(_ context.Context, periodic bool) error {
				r.calls <- call{r.clk.Since(t0), periodic}
				return <-r.results
			},
			Failed: func(_ error, retry time.Duration) { r.retries <- retry },
		}.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// next waits for the loop's next Sync and answers it with err.
func (r *loopRig) next(err error) call {
	r.t.Helper()
	select {
	case c := <-r.calls:
		r.results <- err
		return c
	case <-time.After(60 * time.Second):
		r.t.Fatal("no sync")
		return call{}
	}
}

// waiters waits until the loop waits on n timers (the ticker is one).
func (r *loopRig) waiters(n int) {
	r.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); r.clk.Waiters() != n; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			r.t.Fatalf("%d timers waited on, want %d", r.clk.Waiters(), n)
		}
	}
}

// TestLoopBackOff: failed syncs are retried (as periodic ones) after 1 s,
// doubling to 30 s; one that works ends the retries.
func TestLoopBackOff(t *testing.T) {
	r := startLoop(t, time.Hour, 0)
	fail := errors.New("boom")
	at := time.Duration(0)
	if c := r.next(fail); c != (call{0, true}) {
		t.Fatalf("first sync %+v", c)
	}
	for _, want := range []time.Duration{1, 2, 4, 8, 16, 30, 30} {
		want *= time.Second
		if got := <-r.retries; got != want {
			t.Fatalf("retry in %v, want %v", got, want)
		}
		r.waiters(2) // the ticker and the retry's timer
		r.clk.Step(want - time.Millisecond)
		r.waiters(2) // not yet
		r.clk.Step(time.Millisecond)
		at += want
		res := fail
		if want == 30*time.Second && at > 70*time.Second {
			res = nil
		}
		if c := r.next(res); c != (call{at, true}) {
			t.Fatalf("retry %+v, want at %v, periodic", c, at)
		}
	}
	r.waiters(1) // only the ticker: waiting for a change
}

// TestLoopMinPeriodAndResync: changes within MinPeriod of a sync wait for
// it and come together as one sync, not a periodic one; the Period (here
// the default, none being set) wakes a periodic sync.
func TestLoopMinPeriodAndResync(t *testing.T) {
	r := startLoop(t, 0, time.Second)
	if c := r.next(nil); c != (call{0, true}) {
		t.Fatalf("first sync %+v", c)
	}
	r.waiters(2) // MinPeriod
	for range 3 {
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}
	r.clk.Step(time.Second)
	if c := r.next(nil); c != (call{time.Second, false}) {
		t.Fatalf("sync after changes %+v, want one at 1s, not periodic", c)
	}
	r.waiters(2)
	r.clk.Step(time.Second)
	r.waiters(1)
	r.clk.Step(DefaultPeriod - 2*time.Second)
	if c := r.next(nil); c != (call{DefaultPeriod, true}) {
		t.Fatalf("sync %+v, want the periodic one at %v (no other before)", c, DefaultPeriod)
	}
}

func TestHealth(t *testing.T) {
	var h Health
	if h.Ready() || h.Check("c") == nil {
		t.Error("healthy before a sync")
	}
	h.Failed(errors.New("boom"))
	if err := h.Check("c"); err == nil || h.Ready() {
		t.Errorf("a failed first sync: %v, ready %v", err, h.Ready())
	}
	h.Synced()
	if err := h.Check("c"); err != nil || !h.Ready() {
		t.Errorf("after a sync: %v", err)
	}
	h.Failed(errors.New("boom"))
	if err := h.Check("c"); err == nil || err.Error() != "c: last sync failed: boom" || !h.Ready() {
		t.Errorf("a failing sync: %v, ready %v", err, h.Ready())
	}
}
