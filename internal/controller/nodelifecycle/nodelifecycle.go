// Package nodelifecycle is the node lifecycle controller with upstream's
// taint eviction: a node whose kubelet has been silent (no Lease renewal,
// no status heartbeat) for the grace period gets its conditions set to
// Unknown, its pods marked not ready, and the NoExecute taint its Ready
// condition calls for (unreachable for Unknown, not-ready for False); the
// pods on a node with NoExecute taints are deleted once their
// tolerations run out.
package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	coordinationlisters "k8s.io/client-go/listers/coordination/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "node-lifecycle-controller"
	Alias = "nodelifecycle"
)

// EventSource is the source of the events, as upstream.
const EventSource = "node-controller"

// Controller is the node lifecycle controller. Its keys are node names.
type Controller struct {
	client      kubernetes.Interface
	nodeLister  corelisters.NodeLister
	leaseLister coordinationlisters.LeaseLister
	podLister   corelisters.PodLister
	recorder    record.EventRecorder
	clock       clock.WithTicker
	grace       time.Duration
	eviction    controller.NodeEviction
	queue       *controller.Queue

	mu sync.Mutex
	// known are the nodes seen (RegisteredNode was sent), by UID.
	known map[string]types.UID
	// retry are nodes whose pods still have to be marked not ready.
	retry map[string]bool
	// zones, limiters: the zones' states and tainting rates, updated
	// every MonitorPeriod.
	zones    map[string]ZoneState
	limiters map[string]*zoneLimiter
	// allDisrupted: every zone is fully disrupted, nothing is tainted;
	// resumedAt: when that last ended (silence counts from then).
	allDisrupted bool
	resumedAt    time.Time
}

// zoneLimiter is a zone's token bucket (burst 1, as upstream); nil lim
// takes nothing (rate 0).
type zoneLimiter struct {
	rate float32
	lim  flowcontrol.PassiveRateLimiter
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	nodeInf := c.Informers.Core().V1().Nodes()
	leaseInf := c.Informers.Coordination().V1().Leases()
	podInf := c.Informers.Core().V1().Pods()
	nc := &Controller{
		client: c.Client, nodeLister: nodeInf.Lister(), leaseLister: leaseInf.Lister(), podLister: podInf.Lister(),
		recorder: c.Recorder(EventSource), clock: c.Clock, grace: c.NodeMonitorGracePeriod,
		eviction: evictionDefaults(c.NodeEviction),
		known:    map[string]types.UID{}, retry: map[string]bool{}, zones: map[string]ZoneState{}, limiters: map[string]*zoneLimiter{},
	}
	if nc.grace <= 0 {
		nc.grace = DefaultGracePeriod
	}
	q, err := controller.New(controller.Config{Name: Name, Sync: nc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	nc.queue = q
	if _, err := nodeInf.Informer().AddEventHandler(q.Handler()); err != nil {
		return nil, err
	}
	// A pod bound to a tainted node may have to go.
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if p, ok := obj.(*v1.Pod); ok && p.Spec.NodeName != "" {
				q.Add(p.Spec.NodeName)
			}
		},
		UpdateFunc: func(old, cur any) {
			o, c := old.(*v1.Pod), cur.(*v1.Pod)
			if c.Spec.NodeName != "" && (o.Spec.NodeName != c.Spec.NodeName || len(o.Spec.Tolerations) != len(c.Spec.Tolerations)) {
				q.Add(c.Spec.NodeName)
			}
		},
	}); err != nil {
		return nil, err
	}
	leaseInf.Informer()
	return nc, nil
}

// Run watches nodes with workers goroutines until ctx ends; the zones'
// states are looked at before and every MonitorPeriod.
func (nc *Controller) Run(ctx context.Context, workers int) {
	nc.updateZones()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := nc.clock.NewTicker(MonitorPeriod)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				nc.updateZones()
			}
		}
	}()
	nc.queue.Run(ctx, workers)
	wg.Wait()
}

// updateZones recomputes the zones' states and their tainting rates, and
// enters or leaves the mode where every zone is down.
func (nc *Controller) updateZones() {
	nodes, err := nc.nodeLister.List(labels.Everything())
	if err != nil {
		return
	}
	states, sizes := ZoneStates(nodes, nc.eviction.UnhealthyZoneThreshold)
	all := AllDisrupted(states)
	log := nc.queue.Logger()
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if all != nc.allDisrupted {
		if all {
			log.Warn("every node is not ready: entering master disruption mode, no node is tainted")
		} else {
			log.Info("some nodes are ready again: leaving master disruption mode")
			nc.resumedAt = nc.clock.Now()
		}
		// Their taints come off, or may go on again.
		for _, n := range nodes {
			nc.queue.Add(n.Name)
		}
	}
	nc.allDisrupted = all
	for z, st := range states {
		if old, ok := nc.zones[z]; ok && old != st {
			log.Info("zone state changed", "zone", z, "state", st, "was", old)
		}
		nc.setRateLocked(z, ZoneRate(st, sizes[z], nc.eviction))
	}
	nc.zones = states
}

func (nc *Controller) setRateLocked(zone string, rate float32) {
	if l, ok := nc.limiters[zone]; ok && l.rate == rate {
		return
	}
	l := &zoneLimiter{rate: rate}
	if rate > 0 {
		l.lim = flowcontrol.NewTokenBucketPassiveRateLimiterWithClock(rate, 1, nc.clock)
	}
	nc.limiters[zone] = l
}

// mayTaint takes a token of the node's zone: whether a node may be newly
// tainted now. A zone not seen yet gets the primary rate.
func (nc *Controller) mayTaint(zone string) bool {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if nc.allDisrupted {
		return false
	}
	if _, ok := nc.limiters[zone]; !ok {
		nc.setRateLocked(zone, nc.eviction.Rate)
	}
	l := nc.limiters[zone]
	return l.lim != nil && l.lim.TryAccept()
}

// noteNode records a node seen (true if it is new to the controller) or
// gone (true if it was known).
func (nc *Controller) noteNode(name string, uid types.UID, gone bool) bool {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	old, ok := nc.known[name]
	if gone {
		delete(nc.known, name)
		delete(nc.retry, name)
		return ok
	}
	nc.known[name] = uid
	return !ok || old != uid
}

func (nc *Controller) setRetry(name string, on bool) {
	nc.mu.Lock()
	defer nc.mu.Unlock()
	if on {
		nc.retry[name] = true
	} else {
		delete(nc.retry, name)
	}
}

// recordNodeEvent emits upstream's node event ("Node X event: ...").
func (nc *Controller) recordNodeEvent(name string, uid types.UID, reason, event string) {
	ref := &v1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: name, UID: uid}
	nc.recorder.Eventf(ref, v1.EventTypeNormal, reason, "Node %s event: %s", name, event)
}

// ShutDown stops the controller's queue for good.
func (nc *Controller) ShutDown() { nc.queue.ShutDown() }

func (nc *Controller) sync(ctx context.Context, name string) error {
	node, err := nc.nodeLister.Get(name)
	if apierrors.IsNotFound(err) {
		if nc.noteNode(name, "", true) {
			nc.recordNodeEvent(name, "", "RemovingNode", fmt.Sprintf("Removing Node %s from Controller", name))
		}
		return nil
	}
	if err != nil {
		return err
	}
	if nc.noteNode(name, node.UID, false) {
		nc.queue.Logger().Info("observed a new node", "node", name)
		nc.recordNodeEvent(name, node.UID, "RegisteredNode", fmt.Sprintf("Registered Node %s in Controller", name))
	}
	lease, err := nc.leaseLister.Leases(v1.NamespaceNodeLease).Get(name)
	if err != nil {
		lease = nil
	}
	now := nc.clock.Now()
	log := nc.queue.Logger().With("node", name)
	nc.mu.Lock()
	lastSeen, allDisrupted, retry := LastSeen(node, lease), nc.allDisrupted, nc.retry[name]
	if nc.resumedAt.After(lastSeen) {
		lastSeen = nc.resumedAt
	}
	nc.mu.Unlock()
	silent := now.Sub(lastSeen)
	if silent > nc.grace {
		if conds, changed := StaleConditions(node, now); changed {
			wasReady := readyStatus(node) == v1.ConditionTrue
			next := node.DeepCopy()
			next.Status.Conditions = conds
			updated, err := nc.client.CoreV1().Nodes().UpdateStatus(ctx, next, metav1.UpdateOptions{})
			if err != nil {
				return fmt.Errorf("set node %s conditions unknown: %w", name, err)
			}
			log.Warn("kubelet stopped posting node status", "silentFor", silent.Round(time.Second))
			if wasReady {
				// Once, when the node stops being ready, as upstream.
				nc.recorder.Eventf(&v1.ObjectReference{APIVersion: "v1", Kind: "Node", Name: name, UID: node.UID}, v1.EventTypeNormal, "NodeNotReady",
					"Node %s status is now: NodeNotReady", name)
				retry = true
				nc.setRetry(name, true)
			}
			node = updated
		}
	}
	if retry && readyStatus(node) != v1.ConditionTrue {
		if err := nc.markPodsNotReady(ctx, name); err != nil {
			return err
		}
	}
	if retry {
		nc.setRetry(name, false)
	}
	var taints []v1.Taint
	var changed bool
	if allDisrupted {
		taints, changed = Untainted(node.Spec.Taints)
	} else {
		taints, changed = Taints(node, now)
		if changed && NewlyTainted(node.Spec.Taints, taints) && !nc.mayTaint(ZoneKey(node)) {
			// The zone's rate is used up: try again on a later look.
			changed = false
		}
	}
	if changed {
		next := node.DeepCopy()
		next.Spec.Taints = taints
		updated, err := nc.client.CoreV1().Nodes().Update(ctx, next, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("taint node %s: %w", name, err)
		}
		node = updated
	}
	next, err := nc.evict(ctx, node, now)
	if err != nil {
		return err
	}
	// Look again when the grace period of silence would run out, or when
	// the next toleration does, whichever is sooner.
	wait := min(MonitorPeriod, max(nc.grace-silent, time.Second))
	if !next.IsZero() {
		wait = min(wait, max(next.Sub(now), 100*time.Millisecond))
	}
	return controller.RequeueAfter(wait)
}

func (nc *Controller) podsOn(node string) ([]*v1.Pod, error) {
	all, err := nc.podLister.List(labels.Everything())
	if err != nil {
		return nil, err
	}
	var out []*v1.Pod
	for _, p := range all {
		if p.Spec.NodeName == node {
			out = append(out, p)
		}
	}
	return out, nil
}

// markPodsNotReady sets Ready=False on the pods of a silent node: their
// readiness is no longer known.
func (nc *Controller) markPodsNotReady(ctx context.Context, node string) error {
	pods, err := nc.podsOn(node)
	if err != nil {
		return err
	}
	var errs []error
	for _, p := range pods {
		next := p.DeepCopy()
		c := controller.PodReadyCondition(next)
		if c == nil || c.Status == v1.ConditionFalse {
			continue
		}
		c.Status, c.LastTransitionTime = v1.ConditionFalse, metav1.NewTime(nc.clock.Now())
		if _, err := nc.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			if !apierrors.IsNotFound(err) {
				errs = append(errs, fmt.Errorf("mark pod %s/%s not ready: %w", p.Namespace, p.Name, err))
			}
			continue
		}
		nc.recorder.Event(p, v1.EventTypeWarning, "NodeNotReady", "Node is not ready")
	}
	return errors.Join(errs...)
}

// evict deletes the pods whose tolerations of the node's NoExecute taints
// have run out and returns when the next one's will.
func (nc *Controller) evict(ctx context.Context, node *v1.Node, now time.Time) (time.Time, error) {
	var next time.Time
	if !hasNoExecute(node.Spec.Taints) {
		return next, nil
	}
	pods, err := nc.podsOn(node.Name)
	if err != nil {
		return next, err
	}
	var errs []error
	for _, p := range pods {
		if p.DeletionTimestamp != nil {
			continue
		}
		at, evict := EvictAt(p, node.Spec.Taints)
		if !evict {
			continue
		}
		if at.After(now) {
			if next.IsZero() || at.Before(next) {
				next = at
			}
			continue
		}
		nc.queue.Logger().Info("evicting pod from a tainted node", "pod", p.Namespace+"/"+p.Name, "node", node.Name)
		nc.recorder.Eventf(p, v1.EventTypeNormal, "TaintManagerEviction", "Marking for deletion Pod %s/%s", p.Namespace, p.Name)
		err := nc.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &p.UID}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			errs = append(errs, fmt.Errorf("evict pod %s/%s: %w", p.Namespace, p.Name, err))
		}
	}
	return next, errors.Join(errs...)
}

func hasNoExecute(taints []v1.Taint) bool {
	for _, t := range taints {
		if t.Effect == v1.TaintEffectNoExecute {
			return true
		}
	}
	return false
}
