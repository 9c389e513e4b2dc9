// Package scheduler is `skiff scheduler`: it watches pods that wait for a
// node, decides where each goes with the pure core (package core), and
// writes the decision to the API server as a binding.
//
// The running component is a thin loop around the core:
//
//	informers → cache (nodes, bound pods) and queue (pods of this scheduler)
//	queue.Pop → cache.UpdateSnapshot → core.Decide
//	  fits:      cache.AssumePod, bind through pods/binding in a goroutine
//	             (cache.ForgetPod and back-off on failure), Scheduled event
//	  no fit:    back to the queue, PodScheduled=False (Unschedulable) and a
//	             FailedScheduling event; for a preemption, victims deleted
//	             and status.nominatedNodeName set
//
// With leader election on, a replica schedules only while it holds the
// Lease; its informers, cache and queue stay warm while it waits.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	corelisters "k8s.io/client-go/listers/core/v1"
	policylisters "k8s.io/client-go/listers/policy/v1"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/klog/v2"

	"github.com/skiff-sh/skiff/internal/leaderelect"
	"github.com/skiff-sh/skiff/internal/scheduler/cache"
	"github.com/skiff-sh/skiff/internal/scheduler/core"
	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/queue"
)

// Scheduler is the scheduler component. Create it with New, then call Run
// once.
type Scheduler struct {
	cfg    Config
	logger *slog.Logger
	client kubernetes.Interface

	informers informers.SharedInformerFactory
	podLister corelisters.PodLister
	pdbLister atomic.Pointer[policylisters.PodDisruptionBudgetLister]
	handlers  []toolscache.ResourceEventHandlerRegistration

	queue    *queue.Queue
	cache    *cache.Cache
	core     *core.Scheduler
	snapshot *framework.Snapshot // used by the scheduling loop only
	metrics  *metrics
	recorder events.EventRecorder
	watchdog *leaderelection.HealthzAdaptor

	started atomic.Bool
	ready   atomic.Bool
	leading atomic.Bool
	// binding counts bindings in flight, so that a replica that stops
	// leading waits for them before it campaigns again.
	binding sync.WaitGroup
}

// New validates cfg and builds a Scheduler: its client, informers, queue,
// cache and metrics. Nothing talks to the API server until Run.
func New(cfg Config) (*Scheduler, error) {
	if err := cfg.defaultAndValidate(); err != nil {
		return nil, err
	}
	client := cfg.Client
	if client == nil {
		rc := rest.CopyConfig(cfg.RESTConfig)
		rc.QPS, rc.Burst = cfg.QPS, cfg.Burst
		if cfg.QPS == 0 {
			rc.QPS, rc.Burst, rc.RateLimiter = -1, 0, nil
		}
		// As upstream's scheduler: protobuf, which costs the watches of
		// thousands of pods far less to decode than JSON.
		if rc.ContentType == "" {
			rc.ContentType = "application/vnd.kubernetes.protobuf"
			rc.AcceptContentTypes = "application/vnd.kubernetes.protobuf,application/json"
		}
		rc = rest.AddUserAgent(rc, "skiff-scheduler")
		var err error
		if client, err = kubernetes.NewForConfig(rc); err != nil {
			return nil, fmt.Errorf("scheduler: client: %w", err)
		}
	}
	decider, err := core.New(core.Config{
		PercentageOfNodesToScore: cfg.PercentageOfNodesToScore,
		Parallelism:              cfg.Parallelism,
		Rand:                     cfg.Rand,
	})
	if err != nil {
		return nil, err
	}
	q, err := queue.New(queue.Config{
		Clock:          cfg.Clock,
		InitialBackoff: cfg.PodInitialBackoff,
		MaxBackoff:     cfg.PodMaxBackoff,
		Plugins:        decider.Plugins(),
	})
	if err != nil {
		return nil, err
	}
	s := &Scheduler{
		cfg:      cfg,
		logger:   cfg.Logger,
		client:   client,
		queue:    q,
		cache:    cache.New(cache.Config{Clock: cfg.Clock}),
		core:     decider,
		snapshot: framework.NewEmptySnapshot(),
	}
	if s.metrics, err = newMetrics(cfg.Registry, cfg.SchedulerName, q); err != nil {
		return nil, err
	}
	if cfg.LeaderElection.Enabled {
		s.watchdog = leaderelection.NewLeaderHealthzAdaptor(20 * time.Second)
	}
	s.informers = informers.NewSharedInformerFactory(client, 0)
	if err := s.addEventHandlers(); err != nil {
		return nil, err
	}
	return s, nil
}

// Ready reports that the informers have synced and every object they
// listed has reached the cache and the queue: the scheduler serves (and
// schedules, if it leads).
func (s *Scheduler) Ready() bool { return s.ready.Load() }

// Leading reports whether the scheduler places pods right now: always
// once ready without leader election, while it holds the Lease with it.
func (s *Scheduler) Leading() bool { return s.leading.Load() }

// Run starts the informers, waits for them to sync, and schedules until
// ctx ends (with leader election, whenever it holds the Lease). It returns
// nil after ctx ends, or the error that stopped it.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.started.CompareAndSwap(false, true) {
		return errors.New("scheduler: Run may be called only once")
	}
	// client-go (informers, leader election, events) logs through ctx.
	ctx = klog.NewContext(ctx, logr.FromSlogHandler(s.logger.Handler()))
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var runErr error
	var errOnce sync.Once
	fail := func(err error) {
		errOnce.Do(func() { runErr = err })
		cancel()
	}
	if l := s.cfg.MetricsListener; l != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.serveHTTP(ctx, l); err != nil {
				fail(err)
			}
		}()
	}

	broadcaster := events.NewBroadcaster(&boundedEventSink{
		sink:  &events.EventSinkImpl{Interface: s.client.EventsV1()},
		slots: make(chan struct{}, maxEventWrites),
	})
	if err := broadcaster.StartRecordingToSinkWithContext(ctx); err != nil {
		cancel()
		wg.Wait()
		return fmt.Errorf("scheduler: events: %w", err)
	}
	s.recorder = broadcaster.NewRecorder(scheme.Scheme, s.cfg.SchedulerName)
	defer broadcaster.Shutdown()

	s.watchPDBsIfServed(ctx)
	s.informers.StartWithContext(ctx)
	if err := s.waitForSync(ctx); err != nil {
		if ctx.Err() == nil {
			fail(err)
		}
	} else {
		s.ready.Store(true)
		s.logger.Info("caches synced", "nodes", s.cache.NodeCount(), "pods", s.cache.PodCount())
		wg.Add(2)
		go func() { defer wg.Done(); s.queue.Run(ctx) }()
		go func() { defer wg.Done(); s.cache.Run(ctx) }()
		if s.cfg.LeaderElection.Enabled {
			if err := s.runLeaderElection(ctx); err != nil {
				fail(err)
			}
		} else {
			s.scheduleLoop(ctx)
		}
	}
	cancel()
	s.informers.Shutdown()
	wg.Wait()
	return runErr
}

func (s *Scheduler) waitForSync(ctx context.Context) error {
	for typ, ok := range s.informers.WaitForCacheSync(ctx.Done()) {
		if !ok {
			return fmt.Errorf("scheduler: informer for %v did not sync", typ)
		}
	}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		synced := true
		for _, h := range s.handlers {
			synced = synced && h.HasSynced()
		}
		if synced {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// watchPDBsIfServed adds a PodDisruptionBudget informer when the API
// server serves policy/v1 budgets, so that preemption avoids breaking
// them; without it preemption sees no budgets.
func (s *Scheduler) watchPDBsIfServed(ctx context.Context) {
	list, err := s.client.Discovery().ServerResourcesForGroupVersion(policyv1.SchemeGroupVersion.String())
	if err != nil {
		return
	}
	for _, r := range list.APIResources {
		if r.Name == "poddisruptionbudgets" {
			inf := s.informers.Policy().V1().PodDisruptionBudgets()
			inf.Informer()
			l := inf.Lister()
			s.pdbLister.Store(&l)
			return
		}
	}
}

func (s *Scheduler) pdbs() []*policyv1.PodDisruptionBudget {
	l := s.pdbLister.Load()
	if l == nil {
		return nil
	}
	out, err := (*l).List(labels.Everything())
	if err != nil {
		return nil
	}
	return out
}

// runLeaderElection campaigns for the Lease and schedules while holding
// it. A replica that loses the Lease stops scheduling, waits for its
// bindings in flight, and campaigns again; it returns when ctx ends.
func (s *Scheduler) runLeaderElection(ctx context.Context) error {
	return leaderelect.Run(ctx, s.cfg.LeaderElection, s.client, s.watchdog, s.logger, s.scheduleLoop)
}

// scheduleLoop places pods one at a time until ctx ends, then waits for
// the bindings it started.
func (s *Scheduler) scheduleLoop(ctx context.Context) {
	s.leading.Store(true)
	defer s.leading.Store(false)
	for {
		pi, err := s.queue.Pop(ctx)
		if err != nil {
			break
		}
		s.scheduleOne(ctx, pi)
	}
	s.binding.Wait()
}

func (s *Scheduler) addEventHandlers() error {
	// Every pod, finished ones included (see terminal).
	podInformer := s.informers.Core().V1().Pods().Informer()
	s.podLister = s.informers.Core().V1().Pods().Lister()
	add := func(inf toolscache.SharedIndexInformer, h toolscache.ResourceEventHandlerFuncs) error {
		reg, err := inf.AddEventHandler(h)
		if err != nil {
			return fmt.Errorf("scheduler: event handler: %w", err)
		}
		s.handlers = append(s.handlers, reg)
		return nil
	}
	if err := add(podInformer, toolscache.ResourceEventHandlerFuncs{
		AddFunc: s.onPodAdd, UpdateFunc: s.onPodUpdate, DeleteFunc: s.onPodDelete,
	}); err != nil {
		return err
	}
	if err := add(s.informers.Core().V1().Nodes().Informer(), toolscache.ResourceEventHandlerFuncs{
		AddFunc: s.onNodeAdd, UpdateFunc: s.onNodeUpdate, DeleteFunc: s.onNodeDelete,
	}); err != nil {
		return err
	}
	return add(s.informers.Core().V1().Namespaces().Informer(), toolscache.ResourceEventHandlerFuncs{
		AddFunc: s.onNamespaceAdd, UpdateFunc: s.onNamespaceUpdate, DeleteFunc: s.onNamespaceDelete,
	})
}

// maxEventWrites bounds the event writes in flight. client-go's
// broadcaster starts a goroutine per event; without a bound, a scheduler
// that finds thousands of pods unschedulable at once (a restart with no
// nodes) sends thousands of requests at once, and the API server holds
// them all in memory.
const maxEventWrites = 16

// boundedEventSink lets at most cap(slots) writes through at a time; the
// others wait their turn.
type boundedEventSink struct {
	sink  events.EventSink
	slots chan struct{}
}

func (b *boundedEventSink) acquire(ctx context.Context) error {
	select {
	case b.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *boundedEventSink) Create(ctx context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-b.slots }()
	return b.sink.Create(ctx, e)
}

func (b *boundedEventSink) Update(ctx context.Context, e *eventsv1.Event) (*eventsv1.Event, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-b.slots }()
	return b.sink.Update(ctx, e)
}

func (b *boundedEventSink) Patch(ctx context.Context, e *eventsv1.Event, data []byte) (*eventsv1.Event, error) {
	if err := b.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-b.slots }()
	return b.sink.Patch(ctx, e, data)
}
