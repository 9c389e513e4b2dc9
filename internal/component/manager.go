// Package component runs a process's components in order: each starts
// only when the one before it is ready, and they stop in reverse. It is
// the one lifecycle every Skiff component follows.
package component

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// Component is one part of a Skiff process (etcd, the API server, a
// controller manager...).
type Component interface {
	// Name identifies the component in logs.
	Name() string
	// Run runs until ctx ends, then cleans up and returns. An error before
	// that stops the whole process.
	Run(ctx context.Context) error
}

// Readier is a component that can say it is ready to serve; the manager
// starts the next component only once it is.
type Readier interface {
	Ready() bool
}

// Manager starts components in order and stops them in reverse.
type Manager struct {
	// ReadyTimeout bounds how long one component may take to become ready.
	ReadyTimeout time.Duration
	Logger       *slog.Logger
	// OnReady, when set, is called once per component, in start order, as
	// soon as it is ready (or started, for a component that is not a
	// Readier), with the time since Run began. `skiff up` prints it.
	OnReady func(name string, sinceStart time.Duration)
	// OnStop, when set, is called once Run has begun stopping the
	// components (ctx ended or one failed), before the first stops.
	OnStop     func()
	components []Component
}

// Add appends a component; order of Add is start order.
func (m *Manager) Add(c Component) { m.components = append(m.components, c) }

type running struct {
	c      Component
	cancel context.CancelFunc
	done   chan error
}

// Run starts every component and blocks until ctx ends or one fails; then
// it stops them all, last started first. It returns the first failure.
func (m *Manager) Run(ctx context.Context) error {
	logger := m.Logger
	if logger == nil {
		logger = slog.Default()
	}
	timeout := m.ReadyTimeout
	if timeout == 0 {
		timeout = 2 * time.Minute
	}
	begin := time.Now()
	failed := make(chan error, len(m.components))
	var started []*running
	stopAll := func() {
		if m.OnStop != nil {
			m.OnStop()
		}
		for i := len(started) - 1; i >= 0; i-- {
			r := started[i]
			r.cancel()
			select {
			case <-r.done:
			case <-time.After(30 * time.Second):
				logger.Warn("component did not stop in 30s", "component", r.c.Name())
			}
		}
	}
	for _, c := range m.components {
		cctx, cancel := context.WithCancel(context.Background())
		r := &running{c: c, cancel: cancel, done: make(chan error, 1)}
		started = append(started, r)
		go func() {
			err := c.Run(cctx)
			if err != nil && cctx.Err() == nil {
				failed <- fmt.Errorf("%s: %w", c.Name(), err)
			}
			r.done <- err
			close(r.done)
		}()
		if rd, ok := c.(Readier); ok {
			if err := waitReady(ctx, rd, timeout, failed); err != nil {
				stopAll()
				return fmt.Errorf("%s: %w", c.Name(), err)
			}
		}
		logger.Info("component started", "component", c.Name())
		if m.OnReady != nil {
			m.OnReady(c.Name(), time.Since(begin))
		}
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-failed:
		logger.Error("component failed", "err", err)
	}
	stopAll()
	return err
}

func waitReady(ctx context.Context, rd Readier, timeout time.Duration, failed <-chan error) error {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !rd.Ready() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-failed:
			return err
		case <-deadline.C:
			return errors.New("not ready in time")
		case <-tick.C:
		}
	}
	return nil
}
