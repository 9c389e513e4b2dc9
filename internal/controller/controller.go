// Package controller is the one template every Skiff controller is built
// on (client-go's sample-controller pattern): informer handlers only
// enqueue namespace/name keys, workers pull keys from a rate-limited
// queue and call a level-based Sync that reads the informer caches.
// A Sync error requeues the key with per-key exponential back-off,
// unless it is marked Permanent: then it is logged and the key dropped.
package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
)

// SyncFunc brings the object named by key (namespace/name, or name for
// cluster-scoped objects) to its desired state. It must be level-based:
// read what exists from listers, never trust an event's payload, and
// deep-copy cached objects before changing them. A nil error forgets the
// key's back-off; an error requeues it with back-off; Permanent(err)
// drops it; RequeueAfter(d) asks for another look after d.
type SyncFunc func(ctx context.Context, key string) error

// Config configures a Queue.
type Config struct {
	// Name is the controller's upstream name (e.g. "replicaset-controller"); it
	// names the workqueue and the component of the logs. Required.
	Name string
	// Sync handles one key. Required.
	Sync SyncFunc
	// RateLimiter spaces the retries of failing keys. Default client-go's
	// DefaultTypedControllerRateLimiter: per key 5 ms doubling to 1000 s,
	// overall 10 qps with a burst of 100, as upstream's controllers.
	RateLimiter workqueue.TypedRateLimiter[string]
	// Logger receives structured logs with controller=<Name> and the key.
	// Default: discarded.
	Logger *slog.Logger
	// Clock times the delayed and rate-limited requeues. Default the
	// real clock.
	Clock clock.WithTicker
}

// Queue is a controller's work queue and its workers.
type Queue struct {
	name   string
	sync   SyncFunc
	queue  workqueue.TypedRateLimitingInterface[string]
	logger *slog.Logger
}

// New validates cfg and makes the queue; the workers start with Run.
func New(cfg Config) (*Queue, error) {
	if cfg.Name == "" || cfg.Sync == nil {
		return nil, errors.New("controller: a Name and a Sync are required")
	}
	if cfg.RateLimiter == nil {
		cfg.RateLimiter = workqueue.DefaultTypedControllerRateLimiter[string]()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	return &Queue{
		name: cfg.Name,
		sync: cfg.Sync,
		queue: workqueue.NewTypedRateLimitingQueueWithConfig(cfg.RateLimiter,
			workqueue.TypedRateLimitingQueueConfig[string]{Name: cfg.Name, Clock: cfg.Clock}),
		logger: cfg.Logger.With("controller", cfg.Name),
	}, nil
}

// Logger is the controller's logger.
func (q *Queue) Logger() *slog.Logger { return q.logger }

// Add enqueues a key.
func (q *Queue) Add(key string) { q.queue.Add(key) }

// AddAfter enqueues a key once d has passed.
func (q *Queue) AddAfter(key string, d time.Duration) { q.queue.AddAfter(key, d) }

// Enqueue enqueues the key of an object (or of a deletion tombstone).
func (q *Queue) Enqueue(obj any) {
	key, err := cache.DeletionHandlingMetaNamespaceKeyFunc(obj)
	if err != nil {
		utilruntime.HandleError(err)
		return
	}
	q.queue.Add(key)
}

// Selecting returns the candidates whose selector is valid, not empty,
// and matches set: the owners (ReplicaSets, Deployments) that could adopt
// an orphan with labels set.
func Selecting[T any](candidates []T, selector func(T) *metav1.LabelSelector, set map[string]string) []T {
	if len(set) == 0 {
		return nil
	}
	var out []T
	for _, c := range candidates {
		sel, err := metav1.LabelSelectorAsSelector(selector(c))
		if err == nil && !sel.Empty() && sel.Matches(labels.Set(set)) {
			out = append(out, c)
		}
	}
	return out
}

// Keys are the objects' namespace/name keys.
func Keys[T metav1.Object](objs []T) []string {
	keys := make([]string, len(objs))
	for i, o := range objs {
		keys[i] = o.GetNamespace() + "/" + o.GetName()
	}
	return keys
}

// Deleted is the object of an informer's delete notification, unwrapping
// the tombstone (cache.DeletedFinalStateUnknown) of a delete the watch
// missed; ok is false when it is not a T.
func Deleted[T any](obj any) (T, bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	t, ok := obj.(T)
	return t, ok
}

// Handler is the informer handler of a controller's own kind: every add,
// update and delete enqueues the object's key.
func (q *Queue) Handler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    q.Enqueue,
		UpdateFunc: func(_, cur any) { q.Enqueue(cur) },
		DeleteFunc: q.Enqueue,
	}
}

// Len is the number of keys waiting (not those being synced).
func (q *Queue) Len() int { return q.queue.Len() }

// Run starts workers goroutines and blocks until ctx ends and the syncs
// in flight have finished. The queue outlives Run: keys keep arriving
// while a replica does not lead, and a later Run (the next term of
// leadership) syncs them.
func (q *Queue) Run(ctx context.Context, workers int) {
	if workers < 1 {
		workers = 1
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for q.processNext(ctx) {
			}
		}()
	}
	<-ctx.Done()
	// Wake every worker blocked in Get with a key of its own (the queue
	// folds equal keys into one).
	for i := range workers {
		q.queue.Add(fmt.Sprintf("%s%d", wakeKey, i))
	}
	wg.Wait()
}

// wakeKey prefixes the keys that only wake workers; no object key
// starts with a NUL.
const wakeKey = "\x00wake-"

// ShutDown stops the queue for good (the process is stopping).
func (q *Queue) ShutDown() { q.queue.ShutDown() }

func (q *Queue) processNext(ctx context.Context) bool {
	key, shutdown := q.queue.Get()
	if shutdown {
		return false
	}
	defer q.queue.Done(key)
	wake := strings.HasPrefix(key, wakeKey)
	if ctx.Err() != nil {
		if !wake {
			// Not ours to sync any more: keep it for the next term.
			defer q.queue.Add(key)
		}
		return false
	}
	if wake {
		return true
	}
	err := q.sync(ctx, key)
	var after *requeueAfter
	switch {
	case err == nil:
		q.queue.Forget(key)
	case errors.As(err, &after):
		q.queue.Forget(key)
		q.queue.AddAfter(key, after.d)
	case errors.Is(err, errPermanent):
		q.queue.Forget(key)
		q.logger.Error("sync failed; dropping the key", "key", key, "err", err)
	case ctx.Err() != nil:
		// Lost the lease or stopping: the next term syncs it again.
		q.queue.Add(key)
	default:
		q.logger.Info("sync failed; retrying", "key", key, "err", err, "retries", q.queue.NumRequeues(key))
		q.queue.AddRateLimited(key)
	}
	return true
}

var errPermanent = errors.New("permanent")

type permanent struct{ err error }

func (p *permanent) Error() string        { return p.err.Error() }
func (p *permanent) Unwrap() []error      { return []error{p.err, errPermanent} }
func (p *permanent) Is(target error) bool { return target == errPermanent }

// Permanent marks err as one that a retry cannot fix (invalid input, a
// rejected spec): the key is dropped until its object changes again.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &permanent{err: err}
}

// IsPermanent reports whether err was marked Permanent.
func IsPermanent(err error) bool { return errors.Is(err, errPermanent) }

type requeueAfter struct{ d time.Duration }

func (r *requeueAfter) Error() string { return fmt.Sprintf("requeue after %v", r.d) }

// RequeueAfter is a Sync result that is not a failure: the key is synced
// again after d (content still draining, a minReadySeconds to wait).
func RequeueAfter(d time.Duration) error { return &requeueAfter{d: d} }
