// Package component runs a process's components in order: each starts
// only when the one before it is ready, and they stop in reverse. It is
// the one lifecycle every Skiff component follows, and it reports each
// component's state (Status) so that a kubelet can show the components
// of its process as pods.
package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"k8s.io/utils/clock"
)

// Component is one part of a Skiff process (etcd, the API server, a
// controller manager...).
type Component interface {
	// Name identifies the component in logs.
	Name() string
	// Run runs until ctx ends, then cleans up and returns. An error before
	// that stops the whole process (unless the manager tolerates it).
	Run(ctx context.Context) error
}

// Readier is a component that can say it is ready to serve; the manager
// starts the next component only once it is, and Status reports it.
// Ready should follow the component's health, not only its start, and
// be cheap (an atomic load): Status calls it under the manager's lock.
type Readier interface {
	Ready() bool
}

// Checker is a component with a health check, its /healthz: while it
// runs, Status reports it Ready only when Ready says so and the check
// has not failed failureThreshold times in a row. The manager runs the
// checks in its own loop, never in Status. Healthz must return within
// ctx's deadline.
type Checker interface {
	Healthz(ctx context.Context) error
}

const (
	// healthzTimeout bounds one component's health check.
	healthzTimeout = 2 * time.Second
	// defaultHealthPeriod is how often the manager checks health.
	defaultHealthPeriod = 2 * time.Second
)

// Manager starts components in order and stops them in reverse.
type Manager struct {
	// ReadyTimeout bounds how long one component may take to become ready.
	ReadyTimeout time.Duration
	Logger       *slog.Logger
	// Tolerate names the components whose failure, once every component
	// has started, does not stop the others: Status reports them Failed
	// and the process goes on without them (their pods show it). Any
	// other component's failure stops everything, as does a failure
	// while starting.
	Tolerate map[string]bool
	// Clock stamps start and finish times. Default the real clock.
	Clock clock.PassiveClock
	// OnReady, when set, is called once per component, in start order, as
	// soon as it is ready (or started, for a component that is not a
	// Readier), with the time since Run began. `skiff up` prints it.
	OnReady func(name string, sinceStart time.Duration)
	// Changed, when set, is called after a component became ready (as
	// the manager saw it start), ended, or its health verdict flipped (a
	// kubelet then updates the components' pods at once; other changes,
	// such as a Readier turning unready, show at its next poll). It is called
	// without the manager's lock and must not block.
	Changed func()
	// OnStop, when set, is called once Run has begun stopping the
	// components (ctx ended or a component failed), before the first
	// stops.
	OnStop func()
	// HealthPeriod is how often the health checks of running, ready
	// Checkers run (concurrently, each bounded by 2 s). Default 2 s.
	HealthPeriod time.Duration

	mu         sync.Mutex
	components []Component
	states     map[string]*running
	stopping   bool
	allStarted bool
}

// Started reports that every component has started and was ready: the
// start phase is over (a failure of a Tolerate component is now
// tolerated).
func (m *Manager) Started() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.allStarted && !m.stopping
}

// State is where a component is in its life.
type State string

const (
	// Waiting: not started yet (an earlier component is starting).
	Waiting State = "Waiting"
	// Running: Run has been called and has not returned.
	Running State = "Running"
	// Stopped: Run returned without an error (the manager or Stop asked,
	// or the component ended on its own without one).
	Stopped State = "Stopped"
	// Failed: Run returned an error on its own.
	Failed State = "Failed"
)

// Status is one component's state as Status reports it.
type Status struct {
	Name  string
	State State
	// Ready is true while the component runs and its Ready says so (a
	// component without Ready is ready once started).
	Ready bool
	// Started is when Run was called; Finished when it returned.
	Started, Finished time.Time
	// Err is why a Failed component failed.
	Err error
	// Unhealthy is why a running component's health check failed the
	// last time (it is then not Ready: failureThreshold failures in a
	// row).
	Unhealthy error
}

// Add appends a component; order of Add is start order.
func (m *Manager) Add(c Component) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.components = append(m.components, c)
}

type running struct {
	c      Component
	cancel context.CancelFunc
	done   chan struct{}
	// Guarded by Manager.mu.
	started, finished time.Time
	err               error
	stopped           bool // Stop or the manager's stop asked it to end
	health            health
}

func (m *Manager) clock() clock.PassiveClock {
	if m.Clock == nil {
		return clock.RealClock{}
	}
	return m.Clock
}

// Status reports every added component in start order. It only reads
// state (the health checks run in the manager's own loop), so it is
// cheap and never waits on I/O.
func (m *Manager) Status() []Status {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Status, 0, len(m.components))
	for _, c := range m.components {
		s := Status{Name: c.Name(), State: Waiting}
		if r := m.states[c.Name()]; r != nil {
			s.Started, s.Finished, s.Err = r.started, r.finished, r.err
			switch {
			case r.finished.IsZero():
				s.State = Running
				s.Ready = true
				if rd, ok := c.(Readier); ok {
					s.Ready = rd.Ready()
				}
				if _, ok := c.(Checker); ok && s.Ready && !r.health.healthy() {
					s.Ready, s.Unhealthy = false, r.health.last
				}
			case r.err != nil:
				s.State = Failed
			default:
				s.State = Stopped
			}
		}
		out = append(out, s)
	}
	return out
}

// changed calls Changed, when set.
func (m *Manager) changed() {
	if m.Changed != nil {
		m.Changed()
	}
}

// healthLoop runs the health checks every HealthPeriod until ctx ends.
func (m *Manager) healthLoop(ctx context.Context) {
	period := m.HealthPeriod
	if period == 0 {
		period = defaultHealthPeriod
	}
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		m.checkHealth(ctx)
	}
}

// checkHealth runs the checks of the running, ready Checkers
// concurrently (outside the lock) and records each verdict.
func (m *Manager) checkHealth(ctx context.Context) {
	m.mu.Lock()
	var checks []*running
	for _, r := range m.states {
		if _, ok := r.c.(Checker); !ok || !r.finished.IsZero() {
			continue
		}
		if rd, ok := r.c.(Readier); ok && !rd.Ready() {
			continue
		}
		checks = append(checks, r)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, healthzTimeout)
			defer cancel()
			err := r.c.(Checker).Healthz(cctx)
			if ctx.Err() != nil {
				return // the manager is stopping: not the component's fault
			}
			m.mu.Lock()
			was := r.health.healthy()
			r.health = r.health.observe(err)
			flipped := was != r.health.healthy()
			m.mu.Unlock()
			if flipped {
				m.changed()
			}
		}()
	}
	wg.Wait()
}

// Stop stops one running component and waits (up to 30 s) for it to
// return; the others keep running, and Status reports it Stopped. It is
// how a test (or an operator) takes one component away.
func (m *Manager) Stop(name string) error {
	m.mu.Lock()
	r := m.states[name]
	if r == nil || !r.finished.IsZero() {
		m.mu.Unlock()
		return fmt.Errorf("component %q is not running", name)
	}
	r.stopped = true
	m.mu.Unlock()
	r.cancel()
	select {
	case <-r.done:
		return nil
	case <-time.After(30 * time.Second):
		return fmt.Errorf("component %q did not stop in 30s", name)
	}
}

// Run starts every component and blocks until ctx ends or one fails (and
// is not tolerated); then it stops them all, last started first. It
// returns the first failure that stopped them.
func (m *Manager) Run(ctx context.Context) error {
	logger := m.Logger
	if logger == nil {
		logger = slog.Default()
	}
	timeout := m.ReadyTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	m.mu.Lock()
	components := append([]Component(nil), m.components...)
	m.states = map[string]*running{}
	m.allStarted, m.stopping = false, false
	m.mu.Unlock()
	begin := m.clock().Now()
	failed := make(chan failure, len(components))
	hctx, stopHealth := context.WithCancel(context.Background())
	healthDone := make(chan struct{})
	go func() {
		defer close(healthDone)
		m.healthLoop(hctx)
	}()
	var started []*running
	stopAll := func() {
		if m.OnStop != nil {
			m.OnStop()
		}
		stopHealth()
		<-healthDone
		m.mu.Lock()
		m.stopping = true
		m.mu.Unlock()
		for i := len(started) - 1; i >= 0; i-- {
			r := started[i]
			m.mu.Lock()
			r.stopped = true
			m.mu.Unlock()
			r.cancel()
			select {
			case <-r.done:
			case <-time.After(30 * time.Second):
				logger.Warn("component did not stop in 30s", "component", r.c.Name())
			}
		}
	}
	for _, c := range components {
		cctx, cancel := context.WithCancel(context.Background())
		r := &running{c: c, cancel: cancel, done: make(chan struct{}), started: m.clock().Now()}
		m.mu.Lock()
		m.states[c.Name()] = r
		m.mu.Unlock()
		started = append(started, r)
		go func() {
			defer close(r.done)
			err := c.Run(cctx)
			m.mu.Lock()
			r.finished = m.clock().Now()
			if err != nil && !r.stopped {
				r.err = err
			}
			if r.err != nil && !m.stopping {
				failed <- failure{c.Name(), fmt.Errorf("%s: %w", c.Name(), err)}
			}
			m.mu.Unlock()
			m.changed()
		}()
		if rd, ok := c.(Readier); ok {
			others := func(f failure) bool {
				if !m.Tolerate[f.name] {
					return false
				}
				logger.Error("component failed; the others keep running", "component", f.name, "err", f.err)
				return true
			}
			if err := waitReady(ctx, rd, timeout, failed, r.done, others); err != nil {
				if ctx.Err() == nil && m.Tolerate[c.Name()] {
					// Its pod shows it; the rest of the process goes on.
					logger.Error("component did not become ready; starting the next", "component", c.Name(), "err", err)
					continue
				}
				stopAll()
				return fmt.Errorf("%s: %w", c.Name(), err)
			}
			m.mu.Lock()
			ended := !r.finished.IsZero()
			m.mu.Unlock()
			if ended {
				logger.Info("component stopped before it was ready; starting the next", "component", c.Name())
				continue
			}
		}
		logger.Info("component started", "component", c.Name())
		if m.OnReady != nil {
			m.OnReady(c.Name(), m.clock().Since(begin))
		}
		m.changed()
	}
	m.mu.Lock()
	m.allStarted = true
	m.mu.Unlock()
	for {
		select {
		case <-ctx.Done():
			stopAll()
			return nil
		case f := <-failed:
			if m.Tolerate[f.name] {
				logger.Error("component failed; the others keep running", "component", f.name, "err", f.err)
				continue
			}
			logger.Error("component failed", "err", f.err)
			stopAll()
			return f.err
		}
	}
}

// failure is a component's Run returning an error on its own.
type failure struct {
	name string
	err  error
}

// waitReady waits until rd is ready; it returns nil early when the
// component's Run returned without an error (done closed: Stop asked it
// to end, or it ended on its own; Status shows it Stopped). A failure
// that handled says it took care of (another component's, tolerated) is
// not waitReady's.
func waitReady(ctx context.Context, rd Readier, timeout time.Duration, failed <-chan failure, done <-chan struct{}, handled func(failure) bool) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !rd.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case f := <-failed:
			if handled(f) {
				continue
			}
			return f.err
		case <-done:
			select {
			case f := <-failed:
				if handled(f) {
					continue
				}
				return f.err
			default:
				return nil
			}
		case <-tick.C:
		case <-deadline.C:
			return errors.New("not ready in time")
		}
	}
	return nil
}
