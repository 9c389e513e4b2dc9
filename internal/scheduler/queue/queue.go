// Package queue holds the pods waiting for a node, in three places as
// upstream's scheduling queue does:
//
//   - activeQ: pods to try now, highest priority first, then oldest;
//   - backoffQ: pods that failed and wait out a back-off (1 s, doubling per
//     failure, at most 10 s) before they are tried again;
//   - unschedulable: pods no node fitted, parked until a cluster event that
//     one of the plugins that rejected them cares about (a node added, a
//     pod deleted, ...) may have changed that, or until 5 minutes pass.
//
// Time comes from an injected clock; Run drives the periodic flushes, which
// tests may also call directly. All methods are safe for concurrent use.
package queue

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Upstream's defaults.
const (
	DefaultInitialBackoff     = 1 * time.Second
	DefaultMaxBackoff         = 10 * time.Second
	DefaultMaxInUnschedulable = 5 * time.Minute

	// backoffWindow is the granularity backoff expiry is aligned to when
	// pods may be popped from the backoff queue.
	backoffWindow = time.Second
	// unschedulableFlushPeriod is how often Run looks for pods parked too long.
	unschedulableFlushPeriod = 30 * time.Second
)

// SchedulingGatesPlugin names the built-in check that keeps pods with
// spec.schedulingGates out of activeQ until the gates are removed.
const SchedulingGatesPlugin = "SchedulingGates"

// ErrClosed is returned by Pop once the queue is closed.
var ErrClosed = errors.New("scheduling queue is closed")

// Config configures a Queue.
type Config struct {
	// Clock drives back-off and flushes; clock.RealClock{} when nil.
	Clock clock.WithTicker
	// InitialBackoff is the back-off after the first failure (1 s when 0);
	// each further failure doubles it up to MaxBackoff (10 s when 0).
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// MaxInUnschedulable is how long a pod may stay parked before it is
	// retried anyway (5 min when 0).
	MaxInUnschedulable time.Duration
	// Plugins are asked, through framework.EnqueueExtensions, which
	// events may make a pod they rejected schedulable.
	Plugins []framework.Plugin
	// DisablePopFromBackoffQ turns off upstream's SchedulerPopFromBackoffQ
	// behaviour (on by default since v1.33): when activeQ is empty Pop
	// takes the pod whose back-off ends first instead of idling, and
	// back-off expiry is aligned to whole seconds.
	DisablePopFromBackoffQ bool
}

// QueuedPodInfo is a pod in the queue with its scheduling history.
type QueuedPodInfo struct {
	*framework.PodInfo
	// Timestamp is when the pod was added, or last came back after a
	// failed attempt; it orders pods of equal priority and starts back-off.
	Timestamp time.Time
	// Attempts counts the times the pod was popped.
	Attempts int
	// UnschedulableCount counts failures where plugins rejected the pod;
	// ConsecutiveErrorsCount counts failures from errors since the last
	// rejection. Whichever applies sets the back-off.
	UnschedulableCount     int
	ConsecutiveErrorsCount int
	// InitialAttemptTimestamp is when the pod was first popped.
	InitialAttemptTimestamp *time.Time
	// UnschedulablePlugins rejected the pod in its last attempt; set it
	// before AddUnschedulableIfNotPresent. Empty means the attempt failed
	// with an error.
	UnschedulablePlugins sets.Set[string]
	// Gated pods have scheduling gates and are not tried.
	Gated bool

	backoffExpiration time.Time
	flushTimestamp    time.Time
}

type strategy int

const (
	queueSkip strategy = iota
	queueAfterBackoff
)

type recordedEvent struct {
	event          framework.ClusterEvent
	oldObj, newObj any
}

type pluginHint struct {
	plugin string
	event  framework.ClusterEvent
	fn     framework.QueueingHintFn
}

// Queue is the scheduling queue.
type Queue struct {
	clock              clock.WithTicker
	initialBackoff     time.Duration
	maxBackoff         time.Duration
	maxInUnschedulable time.Duration
	popFromBackoff     bool
	hints              []pluginHint

	mu            sync.Mutex
	cond          *sync.Cond
	active        *podHeap
	backoff       *podHeap // rejected by plugins
	errorBackoff  *podHeap // failed with errors
	unschedulable map[string]*QueuedPodInfo
	// inFlight maps popped pods not yet Done to the events seen since.
	inFlight map[string][]recordedEvent
	closed   bool

	nominator
}

// New validates cfg, fills its defaults and returns an empty Queue.
func New(cfg Config) (*Queue, error) {
	if cfg.Clock == nil {
		cfg.Clock = clock.RealClock{}
	}
	if cfg.InitialBackoff == 0 {
		cfg.InitialBackoff = DefaultInitialBackoff
	}
	if cfg.MaxBackoff == 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxInUnschedulable == 0 {
		cfg.MaxInUnschedulable = DefaultMaxInUnschedulable
	}
	if cfg.InitialBackoff < 0 || cfg.MaxBackoff < cfg.InitialBackoff || cfg.MaxInUnschedulable < 0 {
		return nil, fmt.Errorf("queue: invalid back-off %v..%v or unschedulable limit %v", cfg.InitialBackoff, cfg.MaxBackoff, cfg.MaxInUnschedulable)
	}
	q := &Queue{
		clock:              cfg.Clock,
		initialBackoff:     cfg.InitialBackoff,
		maxBackoff:         cfg.MaxBackoff,
		maxInUnschedulable: cfg.MaxInUnschedulable,
		popFromBackoff:     !cfg.DisablePopFromBackoffQ,
		unschedulable:      map[string]*QueuedPodInfo{},
		inFlight:           map[string][]recordedEvent{},
		nominator:          newNominator(),
	}
	q.cond = sync.NewCond(&q.mu)
	q.active = newPodHeap(activeLess)
	q.errorBackoff = newPodHeap(func(a, b *QueuedPodInfo) bool { return q.backoffTime(a).Before(q.backoffTime(b)) })
	q.backoff = newPodHeap(func(a, b *QueuedPodInfo) bool {
		ta, tb := q.backoffTime(a), q.backoffTime(b)
		if !ta.Equal(tb) || !q.popFromBackoff {
			return ta.Before(tb)
		}
		return activeLess(a, b)
	})
	for _, p := range cfg.Plugins {
		ext, ok := p.(framework.EnqueueExtensions)
		if !ok {
			continue
		}
		for _, e := range ext.EventsToRegister() {
			q.hints = append(q.hints, pluginHint{plugin: p.Name(), event: e.Event, fn: e.QueueingHintFn})
		}
	}
	q.hints = append(q.hints, pluginHint{plugin: SchedulingGatesPlugin,
		event: framework.ClusterEvent{Resource: framework.TargetPod, ActionType: framework.UpdatePodSchedulingGatesEliminated}})
	return q, nil
}

// activeLess orders by priority, then by time in the queue.
func activeLess(a, b *QueuedPodInfo) bool {
	pa, pb := a.Priority(), b.Priority()
	if pa != pb {
		return pa > pb
	}
	return a.Timestamp.Before(b.Timestamp)
}

// Run flushes completed back-offs every second and pods parked too long
// every 30 seconds, until ctx is done; then it closes the queue.
func (q *Queue) Run(ctx context.Context) {
	backoffTicker := q.clock.NewTicker(backoffWindow)
	defer backoffTicker.Stop()
	leftoverTicker := q.clock.NewTicker(unschedulableFlushPeriod)
	defer leftoverTicker.Stop()
	defer q.Close()
	for {
		select {
		case <-ctx.Done():
			return
		case <-backoffTicker.C():
			q.FlushBackoffQCompleted()
		case <-leftoverTicker.C():
			q.FlushUnschedulableLeftover()
		}
	}
}

// Close wakes every Pop, which then returns ErrClosed.
func (q *Queue) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
	q.cond.Broadcast()
}

func gated(pod *v1.Pod) bool { return len(pod.Spec.SchedulingGates) > 0 }

// Add queues a new pod that waits for a node.
func (q *Queue) Add(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	pi := &QueuedPodInfo{PodInfo: framework.NewPodInfo(pod), Timestamp: q.clock.Now()}
	q.nominator.add(pi.PodInfo, "")
	q.moveToActive(pi)
}

// moveToActive puts pi in activeQ, or parks it if it is gated.
func (q *Queue) moveToActive(pi *QueuedPodInfo) bool {
	if gated(pi.Pod) {
		pi.Gated = true
		q.unschedulable[pi.Key()] = pi
		return false
	}
	pi.Gated = false
	delete(q.unschedulable, pi.Key())
	q.active.addOrUpdate(pi)
	q.cond.Broadcast()
	return true
}

func (q *Queue) moveToBackoff(pi *QueuedPodInfo) {
	if gated(pi.Pod) {
		pi.Gated = true
		q.unschedulable[pi.Key()] = pi
		return
	}
	delete(q.unschedulable, pi.Key())
	if len(pi.UnschedulablePlugins) == 0 {
		q.errorBackoff.addOrUpdate(pi)
		return
	}
	q.backoff.addOrUpdate(pi)
	if q.popFromBackoff {
		q.cond.Broadcast()
	}
}

// Pop blocks until a pod is ready and returns it, counting the attempt.
// Call Done once the attempt is over. It returns ctx's error when ctx ends
// and ErrClosed after Close.
func (q *Queue) Pop(ctx context.Context) (*QueuedPodInfo, error) {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		q.cond.Broadcast()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if q.closed {
			return nil, ErrClosed
		}
		pi := q.active.pop()
		if pi == nil && q.popFromBackoff {
			pi = q.backoff.pop()
		}
		if pi != nil {
			pi.Attempts++
			if pi.InitialAttemptTimestamp == nil {
				now := q.clock.Now()
				pi.InitialAttemptTimestamp = &now
			}
			q.inFlight[pi.Key()] = nil
			return pi, nil
		}
		q.cond.Wait()
	}
}

// Done ends the attempt for the pod popped with key; events are no longer
// recorded for it.
func (q *Queue) Done(key string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.inFlight, key)
}

// AddUnschedulableIfNotPresent returns a pod whose attempt failed. It goes
// back to activeQ or backoffQ if an event seen during the attempt may have
// helped it (or if it failed with an error), and is parked as unschedulable
// otherwise. It also ends the attempt, as Done does.
func (q *Queue) AddUnschedulableIfNotPresent(pi *QueuedPodInfo) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := pi.Key()
	events := q.inFlight[key]
	delete(q.inFlight, key)
	if _, ok := q.unschedulable[key]; ok {
		return fmt.Errorf("pod %s/%s is already parked as unschedulable", pi.Pod.Namespace, pi.Pod.Name)
	}
	if q.active.has(key) || q.backoff.has(key) || q.errorBackoff.has(key) {
		return fmt.Errorf("pod %s/%s is already queued", pi.Pod.Namespace, pi.Pod.Name)
	}
	if len(pi.UnschedulablePlugins) == 0 {
		pi.ConsecutiveErrorsCount++
	} else {
		pi.UnschedulableCount++
		pi.ConsecutiveErrorsCount = 0
	}
	pi.Timestamp = q.clock.Now()
	pi.backoffExpiration = time.Time{}
	pi.flushTimestamp = time.Time{}

	s := queueSkip
	if len(pi.UnschedulablePlugins) == 0 {
		s = queueAfterBackoff
	}
	for _, e := range events {
		if s == queueAfterBackoff {
			break
		}
		s = q.worthRequeuing(pi, e.event, e.oldObj, e.newObj)
	}
	q.requeue(pi, s)
	return nil
}

// requeue moves pi according to s.
func (q *Queue) requeue(pi *QueuedPodInfo, s strategy) {
	if s == queueSkip {
		q.unschedulable[pi.Key()] = pi
		return
	}
	if q.isBackingOff(pi) {
		q.moveToBackoff(pi)
		return
	}
	q.moveToActive(pi)
}

// worthRequeuing asks the plugins that rejected pi whether event may help.
func (q *Queue) worthRequeuing(pi *QueuedPodInfo, event framework.ClusterEvent, oldObj, newObj any) strategy {
	if len(pi.UnschedulablePlugins) == 0 {
		return queueAfterBackoff
	}
	if event.IsWildCard() {
		if p, ok := newObj.(*v1.Pod); ok && p.UID != pi.Pod.UID {
			return queueSkip
		}
		return queueAfterBackoff
	}
	for _, h := range q.hints {
		if !pi.UnschedulablePlugins.Has(h.plugin) || !h.event.Match(event) {
			continue
		}
		if h.fn == nil {
			return queueAfterBackoff
		}
		if hint, err := h.fn(pi.Pod, oldObj, newObj); err != nil || hint == framework.Queue {
			return queueAfterBackoff
		}
	}
	return queueSkip
}

func (q *Queue) interested(event framework.ClusterEvent) bool {
	if event.IsWildCard() {
		return true
	}
	for _, h := range q.hints {
		if h.event.Match(event) {
			return true
		}
	}
	return false
}

// MoveAllToActiveOrBackoffQueue reports a cluster event. Parked pods that
// a plugin which rejected them thinks the event may help go back to
// backoffQ (if still backing off) or activeQ; the event is also remembered
// for pods being scheduled right now.
func (q *Queue) MoveAllToActiveOrBackoffQueue(event framework.ClusterEvent, oldObj, newObj any) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.moveAllLocked(event, oldObj, newObj)
}

func (q *Queue) moveAllLocked(event framework.ClusterEvent, oldObj, newObj any) {
	if !q.interested(event) {
		return
	}
	for key, pi := range q.unschedulable {
		if pi.Gated && !event.IsWildCard() {
			continue
		}
		if pi.Gated {
			q.moveToActive(pi)
			continue
		}
		if s := q.worthRequeuing(pi, event, oldObj, newObj); s != queueSkip {
			delete(q.unschedulable, key)
			q.requeue(pi, s)
		}
	}
	for key, events := range q.inFlight {
		q.inFlight[key] = append(events, recordedEvent{event: event, oldObj: oldObj, newObj: newObj})
	}
}

// Update replaces a waiting pod with its new version. A parked pod whose
// change may make it schedulable (labels, tolerations, removed gates, ...)
// is moved back; a pod not in the queue is added.
func (q *Queue) Update(oldPod, newPod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := framework.PodKey(oldPod)
	q.nominator.update(oldPod, framework.NewPodInfo(newPod))
	events := framework.PodUpdateEvents(framework.TargetPod, oldPod, newPod)
	if recorded, ok := q.inFlight[key]; ok {
		for _, e := range events {
			recorded = append(recorded, recordedEvent{event: e, oldObj: oldPod, newObj: newPod})
		}
		q.inFlight[key] = recorded
		return
	}
	if pi, ok := q.active.get(key); ok {
		pi.PodInfo = framework.NewPodInfo(newPod)
		q.active.addOrUpdate(pi)
		return
	}
	for _, h := range []*podHeap{q.backoff, q.errorBackoff} {
		if pi, ok := h.get(key); ok {
			pi.PodInfo = framework.NewPodInfo(newPod)
			h.addOrUpdate(pi)
			return
		}
	}
	if pi, ok := q.unschedulable[key]; ok {
		pi.PodInfo = framework.NewPodInfo(newPod)
		if pi.Gated {
			if !gated(newPod) {
				q.requeue(pi, queueAfterBackoff)
			}
			return
		}
		for _, e := range events {
			if s := q.worthRequeuing(pi, e, oldPod, newPod); s != queueSkip {
				delete(q.unschedulable, key)
				q.requeue(pi, s)
				return
			}
		}
		return
	}
	pi := &QueuedPodInfo{PodInfo: framework.NewPodInfo(newPod), Timestamp: q.clock.Now()}
	q.moveToActive(pi)
}

// Delete removes the pod from the queue.
func (q *Queue) Delete(pod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	key := framework.PodKey(pod)
	q.nominator.delete(pod)
	q.active.delete(key)
	q.backoff.delete(key)
	q.errorBackoff.delete(key)
	delete(q.unschedulable, key)
}

// Activate moves the given waiting pods to activeQ at once, skipping
// their back-off.
func (q *Queue) Activate(pods ...*v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range pods {
		key := framework.PodKey(p)
		pi, ok := q.unschedulable[key]
		if !ok {
			if pi = q.backoff.delete(key); pi == nil {
				pi = q.errorBackoff.delete(key)
			}
		}
		if pi != nil {
			q.moveToActive(pi)
		}
	}
}

// The events the scheduler's informers report.

// NodeAdded reports a new node.
func (q *Queue) NodeAdded(node *v1.Node) {
	q.MoveAllToActiveOrBackoffQueue(framework.ClusterEvent{Resource: framework.Node, ActionType: framework.Add, Label: "NodeAdd"}, nil, node)
}

// NodeUpdated reports a changed node.
func (q *Queue) NodeUpdated(oldNode, newNode *v1.Node) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range framework.NodeUpdateEvents(oldNode, newNode) {
		q.moveAllLocked(e, oldNode, newNode)
	}
}

// NodeDeleted reports a node gone (only topology spreading cares).
func (q *Queue) NodeDeleted(node *v1.Node) {
	q.MoveAllToActiveOrBackoffQueue(framework.ClusterEvent{Resource: framework.Node, ActionType: framework.Delete, Label: "NodeDelete"}, node, nil)
}

// AssignedPodAdded reports a pod bound to a node.
func (q *Queue) AssignedPodAdded(pod *v1.Pod) {
	q.MoveAllToActiveOrBackoffQueue(framework.ClusterEvent{Resource: framework.AssignedPod, ActionType: framework.Add, Label: "AssignedPodAdd"}, nil, pod)
}

// AssignedPodUpdated reports a change to a bound pod.
func (q *Queue) AssignedPodUpdated(oldPod, newPod *v1.Pod) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, e := range framework.PodUpdateEvents(framework.AssignedPod, oldPod, newPod) {
		q.moveAllLocked(e, oldPod, newPod)
	}
}

// AssignedPodDeleted reports a bound pod gone, freeing its node's room.
func (q *Queue) AssignedPodDeleted(pod *v1.Pod) {
	q.MoveAllToActiveOrBackoffQueue(framework.ClusterEvent{Resource: framework.AssignedPod, ActionType: framework.Delete, Label: "AssignedPodDelete"}, pod, nil)
}

// backoffTime is when pi's back-off ends (zero if it has none).
func (q *Queue) backoffTime(pi *QueuedPodInfo) time.Time {
	count := pi.UnschedulableCount
	if pi.ConsecutiveErrorsCount > 0 {
		count = pi.ConsecutiveErrorsCount
	}
	if count == 0 {
		return time.Time{}
	}
	if pi.backoffExpiration.IsZero() {
		pi.backoffExpiration = q.align(pi.Timestamp.Add(q.backoffDuration(count)))
	}
	return pi.backoffExpiration
}

// backoffDuration is initial × 2^(count-1), at most max.
func (q *Queue) backoffDuration(count int) time.Duration {
	d := q.initialBackoff
	for i := 1; i < count; i++ {
		if d >= q.maxBackoff/2 {
			return q.maxBackoff
		}
		d *= 2
	}
	return min(d, q.maxBackoff)
}

func (q *Queue) align(t time.Time) time.Time {
	if !q.popFromBackoff {
		return t
	}
	return t.Truncate(backoffWindow)
}

func (q *Queue) isBackingOff(pi *QueuedPodInfo) bool {
	return !q.backoffTime(pi).Before(q.align(q.clock.Now()))
}

// FlushBackoffQCompleted moves pods whose back-off has ended to activeQ.
func (q *Queue) FlushBackoffQCompleted() {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, h := range []*podHeap{q.backoff, q.errorBackoff} {
		for {
			pi := h.peek()
			if pi == nil || q.isBackingOff(pi) {
				break
			}
			h.pop()
			q.moveToActive(pi)
		}
	}
}

// FlushUnschedulableLeftover retries pods parked for longer than the
// limit, in case no event announced what changed.
func (q *Queue) FlushUnschedulableLeftover() {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.clock.Now()
	for key, pi := range q.unschedulable {
		last := pi.Timestamp
		if pi.flushTimestamp.After(last) {
			last = pi.flushTimestamp
		}
		if now.Sub(last) <= q.maxInUnschedulable {
			continue
		}
		pi.flushTimestamp = now
		if pi.Gated {
			continue
		}
		delete(q.unschedulable, key)
		q.requeue(pi, queueAfterBackoff)
	}
}

// Stats counts the pods in each part of the queue.
type Stats struct {
	Active, Backoff, Unschedulable, Gated, InFlight int
}

// Stats returns the current counts, for metrics.
func (q *Queue) Stats() Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	s := Stats{Active: q.active.Len(), Backoff: q.backoff.Len() + q.errorBackoff.Len(), InFlight: len(q.inFlight)}
	for _, pi := range q.unschedulable {
		if pi.Gated {
			s.Gated++
		} else {
			s.Unschedulable++
		}
	}
	return s
}

// PendingPods lists every waiting pod (not those in flight).
func (q *Queue) PendingPods() []*v1.Pod {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []*v1.Pod
	for _, h := range []*podHeap{q.active, q.backoff, q.errorBackoff} {
		for _, pi := range h.list() {
			out = append(out, pi.Pod)
		}
	}
	for _, pi := range q.unschedulable {
		out = append(out, pi.Pod)
	}
	return out
}
