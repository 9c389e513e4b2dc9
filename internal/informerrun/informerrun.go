// Package informerrun is the informer plumbing that level-based node
// components (kube-proxy, the cluster DNS, the pod network) share: start
// a shared informer factory, wait for it, stop it; and a handler that
// only says "something changed"; and the sync loop they run on it.
package informerrun

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"
)

// Start starts f's informers and waits until they have synced. They run
// until stop is called (or ctx ends); stop also waits for their
// goroutines, so call it (defer it) whatever Start returned. The error is
// ctx's when ctx ended first, else it names an informer that did not sync.
func Start(ctx context.Context, f informers.SharedInformerFactory) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	stop = func() { cancel(); f.Shutdown() }
	f.Start(ctx.Done())
	for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
		if !ok {
			if ctx.Err() != nil {
				return stop, ctx.Err()
			}
			return stop, fmt.Errorf("%v informer did not sync", typ)
		}
	}
	return stop, nil
}

// Signal is a handler that sends on ch, without blocking, for every add,
// update and delete. With a channel of capacity 1 a burst of changes
// wakes the receiver once.
func Signal(ch chan<- struct{}) cache.ResourceEventHandlerFuncs {
	send := func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { send() },
		UpdateFunc: func(any, any) { send() },
		DeleteFunc: func(any) { send() },
	}
}

// Loop is the sync loop of a level-based node component: sync once, then
// again on every change signal and every Period, never sooner than
// MinPeriod after the last start; a failed sync is retried after 1 s,
// doubling to 30 s.
type Loop struct {
	// Clock times the loop. Default the real clock.
	Clock clock.WithTicker
	// Changed wakes a sync (see Signal).
	Changed <-chan struct{}
	// Period is the resync period; zero or less means DefaultPeriod.
	Period time.Duration
	// MinPeriod is the least time between two syncs' starts.
	MinPeriod time.Duration
	// Sync does the work. periodic is true for the first sync, a retry
	// and a sync the Period woke (a component may rewrite everything
	// then, and only what changed otherwise).
	Sync func(ctx context.Context, periodic bool) error
	// Failed hears of a failed sync and the wait before the retry.
	// Optional.
	Failed func(err error, retryIn time.Duration)
}

// DefaultPeriod is a Loop's Period when none is set (upstream
// kube-proxy's sync period).
const DefaultPeriod = 30 * time.Second

// Run runs the loop until ctx ends.
// RunInformers starts f, waits for its caches (Start), runs the loop until
// ctx ends, then stops f. It returns nil when ctx ends, even while the
// caches were syncing, and an error naming component when they could not
// sync: the whole Run of a looped component (kube-proxy, the pod network,
// network policy).
func (l Loop) RunInformers(ctx context.Context, f informers.SharedInformerFactory, component string) error {
	stop, err := Start(ctx, f)
	defer stop()
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%s: %w", component, err)
	}
	l.Run(ctx)
	return nil
}

func (l Loop) Run(ctx context.Context) {
	if l.Period <= 0 {
		l.Period = DefaultPeriod // a ticker of zero would panic
	}
	if l.Clock == nil {
		l.Clock = clock.RealClock{}
	}
	if l.Failed == nil {
		l.Failed = func(error, time.Duration) {}
	}
	tick := l.Clock.NewTicker(l.Period)
	defer tick.Stop()
	periodic := true
	// retry is the wait after a failed sync, nothing once one succeeds.
	var retry time.Duration
	for {
		start := l.Clock.Now()
		if err := l.Sync(ctx, periodic); err != nil {
			if ctx.Err() != nil {
				return
			}
			retry = min(max(2*retry, time.Second), 30*time.Second)
			l.Failed(err, retry)
			periodic = true
		} else {
			periodic, retry = false, 0
		}
		// Changes that arrive within MinPeriod (or the retry wait) wait
		// for the next sync.
		if wait := max(l.MinPeriod, retry) - l.Clock.Since(start); wait > 0 {
			select {
			case <-ctx.Done():
				return
			case <-l.Clock.After(wait):
			}
		}
		if retry > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-l.Changed:
		case <-tick.C():
			periodic = true
		}
	}
}

// Health is a looped component's state for its Ready and Healthz: not
// ready before its first sync worked, failing while its syncs fail. Safe
// for concurrent use; the zero value is a component that has not synced.
type Health struct {
	synced atomic.Bool
	// failing is the error of the last sync when it failed, nil after
	// one that worked.
	failing atomic.Pointer[error]
}

// Synced records a sync that worked.
func (h *Health) Synced() {
	h.synced.Store(true)
	h.failing.Store(nil)
}

// Failed records a sync that failed with err.
func (h *Health) Failed(err error) { h.failing.Store(&err) }

// Ready reports whether a sync has worked.
func (h *Health) Ready() bool { return h.synced.Load() }

// Check fails, naming the component, before the first sync worked and
// while the last one failed.
func (h *Health) Check(component string) error {
	if !h.synced.Load() {
		return fmt.Errorf("%s: not synced yet", component)
	}
	if err := h.failing.Load(); err != nil {
		return fmt.Errorf("%s: last sync failed: %w", component, *err)
	}
	return nil
}
