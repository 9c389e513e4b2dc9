package component

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"
)

// fake is a component that runs until its context ends or fail is
// closed.
type fake struct {
	name  string
	ready atomic.Bool
	fail  chan error
}

func newFake(name string) *fake { return &fake{name: name, fail: make(chan error, 1)} }

func (f *fake) Name() string { return f.name }
func (f *fake) Ready() bool  { return f.ready.Load() }
func (f *fake) Run(ctx context.Context) error {
	f.ready.Store(true)
	select {
	case <-ctx.Done():
		return nil
	case err := <-f.fail:
		return err
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func statusOf(m *Manager, name string) Status {
	for _, s := range m.Status() {
		if s.Name == name {
			return s
		}
	}
	return Status{}
}

func TestManagerStatusStopAndTolerate(t *testing.T) {
	a, b, c := newFake("a"), newFake("b"), newFake("c")
	m := &Manager{Tolerate: map[string]bool{"c": true}}
	m.Add(a)
	m.Add(b)
	m.Add(c)
	if s := m.Status(); len(s) != 3 || s[0].State != Waiting || s[0].Ready {
		t.Fatalf("before Run: %+v", s)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitFor(t, "all running and ready", func() bool {
		if !m.Started() {
			return false
		}
		for _, s := range m.Status() {
			if s.State != Running || !s.Ready || s.Started.IsZero() {
				return false
			}
		}
		return true
	})

	// Stop takes one away; the others keep running.
	if err := m.Stop("b"); err != nil {
		t.Fatal(err)
	}
	if s := statusOf(m, "b"); s.State != Stopped || s.Ready || s.Finished.IsZero() || s.Err != nil {
		t.Fatalf("b after Stop: %+v", s)
	}
	if err := m.Stop("b"); err == nil {
		t.Fatal("a second Stop succeeded")
	}

	// A tolerated failure is reported and the process goes on.
	c.fail <- errors.New("boom")
	waitFor(t, "c failed", func() bool { return statusOf(m, "c").State == Failed })
	if s := statusOf(m, "c"); s.Err == nil || s.Err.Error() != "boom" || s.Ready {
		t.Fatalf("c: %+v", s)
	}
	if s := statusOf(m, "a"); s.State != Running {
		t.Fatalf("a after c failed: %+v", s)
	}

	// Any other failure stops everything.
	a.fail <- errors.New("bad")
	select {
	case err := <-done:
		if err == nil || err.Error() != "a: bad" {
			t.Fatalf("Run returned %v, want a: bad", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return after a failed")
	}
}

func TestManagerRunStopsAllOnContext(t *testing.T) {
	a := newFake("a")
	m := &Manager{}
	m.Add(a)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitFor(t, "a ready", m.Started)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if s := statusOf(m, "a"); s.State != Stopped {
		t.Fatalf("a: %+v", s)
	}
}

// checked is a fake with a health check.
type checked struct {
	*fake
	health atomic.Pointer[error]
}

func (c *checked) Healthz(ctx context.Context) error {
	if err := c.health.Load(); err != nil {
		return *err
	}
	return nil
}

func TestManagerStatusFollowsHealthz(t *testing.T) {
	h := &checked{fake: newFake("h")}
	m := &Manager{HealthPeriod: 5 * time.Millisecond}
	m.Add(h)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Run(ctx) }()
	waitFor(t, "h ready", func() bool { return statusOf(m, "h").Ready })

	bad := errors.New("lease not renewed")
	h.health.Store(&bad)
	waitFor(t, "h not ready after failed checks", func() bool {
		s := statusOf(m, "h")
		return !s.Ready && s.State == Running && errors.Is(s.Unhealthy, bad)
	})
	h.health.Store(nil)
	waitFor(t, "h ready again", func() bool {
		s := statusOf(m, "h")
		return s.Ready && s.Unhealthy == nil
	})
}

// blocked is a fake whose health check waits until its context ends.
type blocked struct {
	*fake
	checking chan struct{}
}

func (b *blocked) Healthz(ctx context.Context) error {
	select {
	case b.checking <- struct{}{}:
	default:
	}
	<-ctx.Done()
	return ctx.Err()
}

// TestManagerStatusDoesNotWaitForChecks: Status reads the recorded
// verdicts while a check hangs.
func TestManagerStatusDoesNotWaitForChecks(t *testing.T) {
	b := &blocked{fake: newFake("b"), checking: make(chan struct{}, 1)}
	m := &Manager{HealthPeriod: time.Millisecond}
	m.Add(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Run(ctx) }()
	select {
	case <-b.checking:
	case <-time.After(60 * time.Second):
		t.Fatal("no health check ran")
	}
	// The check is hanging now; Status answers from the record.
	if s := statusOf(m, "b"); s.State != Running {
		t.Fatalf("b while its check hangs: %+v", s)
	}
	waitFor(t, "b not ready after timed-out checks", func() bool { return !statusOf(m, "b").Ready })
}

func TestHealthThreshold(t *testing.T) {
	bad := errors.New("bad")
	cases := []struct {
		name    string
		checks  []error
		healthy bool
	}{
		{"no check yet", nil, true},
		{"one success", []error{nil}, true},
		{"one failure", []error{bad}, true},
		{"two failures", []error{bad, bad}, true},
		{"three failures", []error{bad, bad, bad}, false},
		{"more failures", []error{bad, bad, bad, bad}, false},
		{"a success resets", []error{bad, bad, nil, bad, bad}, true},
		{"one success after the threshold", []error{bad, bad, bad, nil}, true},
		{"failures after a success", []error{nil, bad, bad, bad}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var h health
			for _, err := range tc.checks {
				h = h.observe(err)
			}
			if h.healthy() != tc.healthy {
				t.Errorf("healthy = %v, want %v (%+v)", h.healthy(), tc.healthy, h)
			}
			if last := len(tc.checks) - 1; last >= 0 && (h.last == nil) != (tc.checks[last] == nil) {
				t.Errorf("last = %v after %v", h.last, tc.checks[last])
			}
		})
	}
}

// slow is a component that never becomes ready.
type slow struct{ name string }

func (s *slow) Name() string { return s.name }
func (s *slow) Ready() bool  { return false }
func (s *slow) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

// TestManagerStopBeforeReady: Stop ends the wait for a component that is
// not ready yet, and the next one starts.
func TestManagerStopBeforeReady(t *testing.T) {
	a, b := &slow{name: "a"}, newFake("b")
	m := &Manager{ReadyTimeout: time.Hour}
	m.Add(a)
	m.Add(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitFor(t, "a running", func() bool { return statusOf(m, "a").State == Running })
	if err := m.Stop("a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b started", m.Started)
	if s := statusOf(m, "a"); s.State != Stopped {
		t.Fatalf("a: %+v", s)
	}
	if s := statusOf(m, "b"); s.State != Running || !s.Ready {
		t.Fatalf("b: %+v", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestManagerReportsReadyInOrderAndStop(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var order []string
	stops := 0
	m := &Manager{
		OnReady: func(name string, since time.Duration) {
			order = append(order, name)
			if since < 0 {
				t.Errorf("%s ready at %v", name, since)
			}
			if len(order) == 3 {
				cancel()
			}
		},
		OnStop: func() { stops++ },
	}
	for _, n := range []string{"etcd", "kube-apiserver", "kubelet"} {
		m.Add(newFake(n))
	}
	if err := m.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := order; len(got) != 3 || got[0] != "etcd" || got[1] != "kube-apiserver" || got[2] != "kubelet" {
		t.Errorf("ready order %v", got)
	}
	if stops != 1 {
		t.Errorf("OnStop called %d times", stops)
	}
}

func TestManagerChangedOnReadyAndEnd(t *testing.T) {
	a, b := newFake("a"), newFake("b")
	var changes atomic.Int32
	m := &Manager{Changed: func() { changes.Add(1) }}
	m.Add(a)
	m.Add(b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = m.Run(ctx) }()
	waitFor(t, "both ready, one change each", func() bool { return m.Started() && changes.Load() >= 2 })
	before := changes.Load()
	if err := m.Stop("b"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a change for b's end", func() bool { return changes.Load() > before })
}

// never is a component that runs but never becomes ready.
type never struct{ name string }

func (n never) Name() string { return n.name }
func (n never) Ready() bool  { return false }
func (n never) Run(ctx context.Context) error {
	<-ctx.Done()
	return nil
}

func TestManagerTolerated(t *testing.T) {
	early, slow, last := newFake("early"), never{"slow"}, newFake("last")
	m := &Manager{ReadyTimeout: 200 * time.Millisecond, Tolerate: map[string]bool{"early": true, "slow": true}}
	m.Add(early)
	m.Add(slow)
	m.Add(last)
	// early fails while slow is being waited for; slow never gets ready:
	// both tolerated, so last still starts.
	early.fail <- errors.New("boom")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitFor(t, "every component started", m.Started)
	if s := statusOf(m, "early"); s.State != Failed {
		t.Fatalf("early: %+v", s)
	}
	if s := statusOf(m, "slow"); s.State != Running || s.Ready {
		t.Fatalf("slow: %+v", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
}
