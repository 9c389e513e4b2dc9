// Package daemonset is the DaemonSet controller: one daemon pod on every
// node that should run one, rolled to new templates through
// ControllerRevisions.
package daemonset

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/client-go/util/flowcontrol"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "daemonset-controller"
	Alias = "daemonset"
)

// Upstream's event source and reasons.
const (
	EventSource            = "daemonset-controller"
	ReasonSuccessfulCreate = controller.ReasonSuccessfulCreate
	ReasonFailedCreate     = controller.ReasonFailedCreate
	ReasonSuccessfulDelete = controller.ReasonSuccessfulDelete
	ReasonFailedDelete     = controller.ReasonFailedDelete
	ReasonFailedDaemonPod  = "FailedDaemonPod"
	ReasonSelectingAll     = "SelectingAll"
)

// Failed daemon pods on a node are replaced with back-off from 1 s to
// 15 min, as upstream.
const (
	failedPodsBackoffInitial = time.Second
	failedPodsBackoffMax     = 15 * time.Minute
)

// Controller is the DaemonSet controller.
type Controller struct {
	client        kubernetes.Interface
	dsLister      appslisters.DaemonSetLister
	podLister     corelisters.PodLister
	nodeLister    corelisters.NodeLister
	historyLister appslisters.ControllerRevisionLister
	recorder      record.EventRecorder
	clock         clock.PassiveClock
	ticker        clock.WithTicker
	expectations  *controller.Expectations
	failedBackoff *flowcontrol.Backoff
	queue         *controller.Queue
	podEvents     *controller.OwnedPods
	podControl    controller.PodControl
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	dsInf := c.Informers.Apps().V1().DaemonSets()
	podInf := c.Informers.Core().V1().Pods()
	nodeInf := c.Informers.Core().V1().Nodes()
	histInf := c.Informers.Apps().V1().ControllerRevisions()
	var clk clock.WithTicker = clock.RealClock{}
	if c.Clock != nil {
		clk = c.Clock
	}
	dc := &Controller{
		client:        c.Client,
		dsLister:      dsInf.Lister(),
		podLister:     podInf.Lister(),
		nodeLister:    nodeInf.Lister(),
		historyLister: histInf.Lister(),
		recorder:      c.Recorder(EventSource),
		clock:         clk,
		ticker:        clk,
		expectations:  controller.NewExpectations(clk),
		failedBackoff: flowcontrol.NewFakeBackOff(failedPodsBackoffInitial, failedPodsBackoffMax, clk),
	}
	dc.podControl = controller.PodControl{Client: dc.client, Recorder: dc.recorder, Expectations: dc.expectations}
	q, err := controller.New(controller.Config{Name: Name, Sync: dc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	dc.queue = q
	dc.podEvents = &controller.OwnedPods{Kind: appsv1.SchemeGroupVersion.WithKind("DaemonSet"), Queue: q,
		Expectations: dc.expectations, Adopters: func(p *v1.Pod) []string { return dc.adopters(p.Namespace, p.Labels) }, MinReadySeconds: dc.minReadySeconds}
	handlers := []struct {
		inf cache.SharedIndexInformer
		h   cache.ResourceEventHandler
	}{
		{dsInf.Informer(), q.Handler()},
		{podInf.Informer(), dc.podEvents.Handler()},
		{nodeInf.Informer(), cache.ResourceEventHandlerFuncs{AddFunc: dc.addNode, UpdateFunc: dc.updateNode, DeleteFunc: func(any) { dc.enqueueAll() }}},
		{histInf.Informer(), cache.ResourceEventHandlerFuncs{
			AddFunc:    dc.enqueueRevisionOwner,
			UpdateFunc: func(_, cur any) { dc.enqueueRevisionOwner(cur) },
			DeleteFunc: dc.enqueueRevisionOwner,
		}},
	}
	for _, x := range handlers {
		if _, err := x.inf.AddEventHandler(x.h); err != nil {
			return nil, err
		}
	}
	return dc, nil
}

// Run syncs DaemonSets with workers goroutines until ctx ends.
func (dc *Controller) Run(ctx context.Context, workers int) {
	// Forget the back-off of failed pods that have not failed again for
	// a while (upstream: every minute), or it grows with every generation
	// and node that ever had one.
	go func() {
		t := dc.ticker.NewTicker(time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C():
				dc.failedBackoff.GC()
			}
		}
	}()
	dc.queue.Run(ctx, workers)
}

// ShutDown stops the controller's queue for good.
func (dc *Controller) ShutDown() { dc.queue.ShutDown() }

// adopters are the keys of the DaemonSets of ns whose selector matches
// an orphan's labels.
func (dc *Controller) adopters(ns string, lbls map[string]string) []string {
	list, err := dc.dsLister.DaemonSets(ns).List(labels.Everything())
	if err != nil || len(lbls) == 0 {
		return nil
	}
	return controller.Keys(controller.Selecting(list, func(o *appsv1.DaemonSet) *metav1.LabelSelector { return o.Spec.Selector }, lbls))
}

func (dc *Controller) minReadySeconds(ns, name string) int32 {
	if ds, err := dc.dsLister.DaemonSets(ns).Get(name); err == nil {
		return ds.Spec.MinReadySeconds
	}
	return 0
}

func (dc *Controller) enqueueRevisionOwner(obj any) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	rev, ok := obj.(*appsv1.ControllerRevision)
	if !ok {
		return
	}
	if key, ok := dc.podEvents.OwnerKey(rev); ok {
		dc.queue.Add(key)
		return
	}
	for _, key := range dc.adopters(rev.Namespace, rev.Labels) {
		dc.queue.Add(key)
	}
}

func (dc *Controller) enqueueAll() {
	list, err := dc.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range list {
		dc.queue.Enqueue(ds)
	}
}

func (dc *Controller) addNode(obj any) {
	node := obj.(*v1.Node)
	list, err := dc.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range list {
		if run, _ := NodeShouldRun(node, ds); run {
			dc.queue.Enqueue(ds)
		}
	}
}

// updateNode enqueues the DaemonSets whose verdict on the node changed;
// only labels and taints can change it.
func (dc *Controller) updateNode(old, cur any) {
	o, c := old.(*v1.Node), cur.(*v1.Node)
	if equality.Semantic.DeepEqual(o.Labels, c.Labels) && equality.Semantic.DeepEqual(o.Spec.Taints, c.Spec.Taints) {
		return
	}
	list, err := dc.dsLister.List(labels.Everything())
	if err != nil {
		return
	}
	for _, ds := range list {
		run0, stay0 := NodeShouldRun(o, ds)
		run1, stay1 := NodeShouldRun(c, ds)
		if run0 != run1 || stay0 != stay1 {
			dc.queue.Enqueue(ds)
		}
	}
}

func (dc *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	cached, err := dc.dsLister.DaemonSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		dc.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	if reflect.DeepEqual(cached.Spec.Selector, &metav1.LabelSelector{}) {
		dc.recorder.Eventf(cached, v1.EventTypeWarning, ReasonSelectingAll, "This daemon set is selecting all pods. A non-empty selector is required.")
		return nil
	}
	if cached.DeletionTimestamp != nil {
		return nil
	}
	sel, err := metav1.LabelSelectorAsSelector(cached.Spec.Selector)
	if err != nil {
		return controller.Permanent(fmt.Errorf("daemonset %s: selector: %w", key, err))
	}
	nodes, err := dc.nodeLister.List(labels.Everything())
	if err != nil {
		return err
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].Name < nodes[j].Name })
	ds := cached.DeepCopy()
	cur, old, err := dc.history(ctx, ds, sel)
	if err != nil {
		return err
	}
	hash := cur.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	if !dc.expectations.Satisfied(key) {
		// Only the status; observedGeneration waits until this generation
		// is acted on.
		return dc.updateStatus(ctx, ds, sel, nodes, hash, false)
	}
	err = dc.manage(ctx, ds, key, sel, nodes, hash)
	if err == nil && dc.expectations.Satisfied(key) && ds.Spec.UpdateStrategy.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		err = dc.rollingUpdate(ctx, ds, key, sel, nodes, hash)
	}
	if err == nil {
		err = dc.cleanupHistory(ctx, ds, sel, old)
	}
	return errors.Join(err, dc.updateStatus(ctx, ds, sel, nodes, hash, true))
}

// pods claims the pods of ds's namespace (adopting matching orphans
// after re-reading ds live, releasing strays) and returns those it owns.
func (dc *Controller) pods(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) ([]*v1.Pod, error) {
	all, err := dc.podLister.Pods(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return controller.ClaimObjects(ctx, ds, sel, nil, all, controller.PatchClaims(ControllerRef(ds), dc.client.CoreV1().Pods(ds.Namespace).Patch, dc.recheck(ds)))
}

// recheck re-reads ds from the API server before an adoption.
func (dc *Controller) recheck(ds *appsv1.DaemonSet) func(context.Context) error {
	return controller.RecheckDeletion(ds, "daemonset", dc.client.AppsV1().DaemonSets(ds.Namespace).Get)
}

// manage creates and deletes daemon pods so that every node that should
// run one has exactly one.
func (dc *Controller) manage(ctx context.Context, ds *appsv1.DaemonSet, key string, sel labels.Selector, nodes []*v1.Node, hash string) error {
	pods, err := dc.pods(ctx, ds, sel)
	if err != nil {
		return err
	}
	plan := Manage(ds, nodes, ByNode(pods), hash, dc.clock.Now())
	for _, pod := range plan.Failed {
		node, _ := TargetNode(pod)
		bk := fmt.Sprintf("%s/%d/%s", ds.UID, ds.Status.ObservedGeneration, node)
		now := dc.clock.Now()
		if dc.failedBackoff.IsInBackOffSinceUpdate(bk, now) {
			dc.queue.AddAfter(key, dc.failedBackoff.Get(bk))
			continue
		}
		dc.failedBackoff.Next(bk, now)
		dc.recorder.Eventf(ds, v1.EventTypeWarning, ReasonFailedDaemonPod,
			"Found failed daemon pod %s/%s on node %s, will try to kill it", pod.Namespace, pod.Name, node)
		plan.Delete = append(plan.Delete, pod)
	}
	return dc.syncNodes(ctx, ds, key, plan.Delete, plan.Create, hash)
}

// rollingUpdate takes one step of replacing out-of-date pods.
func (dc *Controller) rollingUpdate(ctx context.Context, ds *appsv1.DaemonSet, key string, sel labels.Selector, nodes []*v1.Node, hash string) error {
	pods, err := dc.pods(ctx, ds, sel)
	if err != nil {
		return err
	}
	plan := RollingUpdate(ds, nodes, ByNode(pods), hash, dc.clock.Now())
	return dc.syncNodes(ctx, ds, key, plan.Delete, plan.Create, hash)
}

// syncNodes creates a pod on each of create (slow-start batches, the
// first failing batch stops the rest) and deletes del, at most
// BurstReplicas of each, recording both as expectations.
func (dc *Controller) syncNodes(ctx context.Context, ds *appsv1.DaemonSet, key string, del []*v1.Pod, create []string, hash string) error {
	create = create[:min(len(create), BurstReplicas)]
	del = del[:min(len(del), BurstReplicas)]
	if len(create) == 0 && len(del) == 0 {
		return nil
	}
	pods := make([]*v1.Pod, len(create))
	for i, node := range create {
		pods[i] = NewPod(ds, hash, node)
	}
	return dc.podControl.CreateAndDelete(ctx, ds, key, pods, del)
}

// updateStatus writes ds's status from its pods; observedGeneration
// moves only when observed is set.
func (dc *Controller) updateStatus(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector, nodes []*v1.Node, hash string, observed bool) error {
	pods, err := dc.podLister.Pods(ds.Namespace).List(sel)
	if err != nil {
		return err
	}
	var owned []*v1.Pod
	for _, p := range pods {
		if ref := metav1.GetControllerOfNoCopy(p); ref != nil && ref.UID == ds.UID {
			owned = append(owned, p)
		}
	}
	now := dc.clock.Now()
	st := Status(ds, nodes, ByNode(owned), hash, now)
	if observed {
		st.ObservedGeneration = ds.Generation
	}
	if ds.Spec.MinReadySeconds > 0 && st.NumberReady != st.NumberAvailable {
		dc.queue.AddAfter(ds.Namespace+"/"+ds.Name, time.Duration(ds.Spec.MinReadySeconds)*time.Second)
	}
	if equality.Semantic.DeepEqual(ds.Status, st) {
		return nil
	}
	next := ds.DeepCopy()
	next.Status = st
	_, err = dc.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update status of daemonset %s/%s: %w", ds.Namespace, ds.Name, err)
	}
	return nil
}

// history finds (or records) the ControllerRevision of ds's current
// template and returns it with the older ones. The current revision's
// number is raised above every old one's (a rollback reuses a revision).
func (dc *Controller) history(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector) (cur *appsv1.ControllerRevision, old []*appsv1.ControllerRevision, err error) {
	all, err := dc.historyLister.ControllerRevisions(ds.Namespace).List(labels.Everything())
	if err != nil {
		return nil, nil, err
	}
	owned, err := controller.ClaimObjects(ctx, ds, sel, nil, all, controller.PatchClaims(ControllerRef(ds), dc.client.AppsV1().ControllerRevisions(ds.Namespace).Patch, dc.recheck(ds)))
	if err != nil {
		return nil, nil, err
	}
	data, err := HistoryData(ds)
	if err != nil {
		return nil, nil, controller.Permanent(err)
	}
	want := &appsv1.ControllerRevision{Data: runtime.RawExtension{Raw: data}}
	var current []*appsv1.ControllerRevision
	for _, r := range owned {
		if _, ok := r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]; !ok {
			next := r.DeepCopy()
			if next.Labels == nil {
				next.Labels = map[string]string{}
			}
			next.Labels[appsv1.DefaultDaemonSetUniqueLabelKey] = next.Name
			if r, err = dc.client.AppsV1().ControllerRevisions(ds.Namespace).Update(ctx, next, metav1.UpdateOptions{}); err != nil {
				return nil, nil, err
			}
		}
		if history.Equal(r, want) {
			current = append(current, r)
		} else {
			old = append(old, r)
		}
	}
	next := history.Next(old)
	if len(current) == 0 {
		cur, err := dc.snapshot(ctx, ds, next)
		return cur, old, err
	}
	cur, err = dc.dedup(ctx, ds, current)
	if err != nil {
		return nil, nil, err
	}
	if cur.Revision < next {
		if cur, err = history.Renumber(ctx, dc.client, cur, next); err != nil {
			return nil, nil, err
		}
	}
	return cur, old, nil
}

// snapshot records ds's template as a new revision. A name taken by a
// different template is a hash collision: collisionCount goes up and the
// next sync names it afresh.
func (dc *Controller) snapshot(ctx context.Context, ds *appsv1.DaemonSet, revision int64) (*appsv1.ControllerRevision, error) {
	rev, err := NewRevision(ds, revision)
	if err != nil {
		return nil, controller.Permanent(err)
	}
	created, collided, err := history.CreateOrFind(ctx, dc.client, rev)
	if !collided {
		return created, err
	}
	live, getErr := dc.client.AppsV1().DaemonSets(ds.Namespace).Get(ctx, ds.Name, metav1.GetOptions{})
	if getErr != nil {
		return nil, getErr
	}
	if !reflect.DeepEqual(live.Status.CollisionCount, ds.Status.CollisionCount) {
		return nil, fmt.Errorf("daemonset %s/%s: stale collision count; retrying", ds.Namespace, ds.Name)
	}
	n := int32(0)
	if live.Status.CollisionCount != nil {
		n = *live.Status.CollisionCount
	}
	n++
	live.Status.CollisionCount = &n
	if _, err := dc.client.AppsV1().DaemonSets(ds.Namespace).UpdateStatus(ctx, live, metav1.UpdateOptions{}); err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("daemonset %s/%s: revision name %s collides; collisionCount now %d", ds.Namespace, ds.Name, rev.Name, n)
}

// dedup keeps the highest of several revisions of the same template,
// moves their pods to its hash, and deletes the rest.
func (dc *Controller) dedup(ctx context.Context, ds *appsv1.DaemonSet, revs []*appsv1.ControllerRevision) (*appsv1.ControllerRevision, error) {
	keep := revs[0]
	for _, r := range revs[1:] {
		if r.Revision > keep.Revision {
			keep = r
		}
	}
	want := keep.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
	for _, r := range revs {
		if r == keep {
			continue
		}
		h := r.Labels[appsv1.DefaultDaemonSetUniqueLabelKey]
		pods, err := dc.podLister.Pods(ds.Namespace).List(labels.SelectorFromSet(labels.Set{appsv1.DefaultDaemonSetUniqueLabelKey: h}))
		if err != nil {
			return nil, err
		}
		for _, p := range pods {
			patch := fmt.Appendf(nil, `{"metadata":{"labels":{%s:%s}}}`, strconv.Quote(appsv1.DefaultDaemonSetUniqueLabelKey), strconv.Quote(want))
			if _, err := dc.client.CoreV1().Pods(ds.Namespace).Patch(ctx, p.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return nil, err
			}
		}
		if err := dc.client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return nil, err
		}
	}
	return keep, nil
}

// cleanupHistory deletes old revisions beyond revisionHistoryLimit that
// no live pod runs.
func (dc *Controller) cleanupHistory(ctx context.Context, ds *appsv1.DaemonSet, sel labels.Selector, old []*appsv1.ControllerRevision) error {
	limit := int32(10)
	if ds.Spec.RevisionHistoryLimit != nil {
		limit = *ds.Spec.RevisionHistoryLimit
	}
	if len(old) <= int(limit) {
		return nil
	}
	pods, err := dc.podLister.Pods(ds.Namespace).List(sel)
	if err != nil {
		return err
	}
	var live []*v1.Pod
	for _, p := range ByNode(pods) {
		live = append(live, p...)
	}
	for _, r := range RevisionsToDelete(old, limit, live) {
		if err := dc.client.AppsV1().ControllerRevisions(ds.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return err
		}
	}
	return nil
}
