// Package statefulset is the StatefulSet controller: members with stable
// names <set>-<ordinal>, created, deleted and updated in order (or in
// parallel), their PersistentVolumeClaims, and the set's
// ControllerRevision history, as upstream's.
package statefulset

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "statefulset-controller"
	Alias = "statefulset"
)

// Upstream's event source and reasons.
const (
	EventSource                   = "statefulset-controller"
	ReasonSuccessfulCreate        = "SuccessfulCreate"
	ReasonFailedCreate            = "FailedCreate"
	ReasonSuccessfulDelete        = "SuccessfulDelete"
	ReasonFailedDelete            = "FailedDelete"
	ReasonSuccessfulUpdate        = "SuccessfulUpdate"
	ReasonFailedUpdate            = "FailedUpdate"
	ReasonRecreatingFailedPod     = "RecreatingFailedPod"
	ReasonRecreatingTerminatedPod = "RecreatingTerminatedPod"
)

// Controller is the StatefulSet controller.
type Controller struct {
	client    kubernetes.Interface
	setLister appslisters.StatefulSetLister
	podLister corelisters.PodLister
	revLister appslisters.ControllerRevisionLister
	recorder  record.EventRecorder
	clock     clock.PassiveClock
	queue     *controller.Queue

	// claimsServed caches whether the API server serves
	// persistentvolumeclaims (asked once, on the first set with claim
	// templates); without them pods still get their claim volumes.
	claimsMu     sync.Mutex
	claimsServed *bool
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	setInf := c.Informers.Apps().V1().StatefulSets()
	podInf := c.Informers.Core().V1().Pods()
	revInf := c.Informers.Apps().V1().ControllerRevisions()
	sc := &Controller{
		client:    c.Client,
		setLister: setInf.Lister(),
		podLister: podInf.Lister(),
		revLister: revInf.Lister(),
		recorder:  c.Recorder(EventSource),
		clock:     c.Clock,
	}
	q, err := controller.New(controller.Config{Name: Name, Sync: sc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	sc.queue = q
	if _, err := setInf.Informer().AddEventHandler(q.Handler()); err != nil {
		return nil, err
	}
	pods := &controller.OwnedPods{Kind: kind, Queue: q, Adopters: sc.adopters, MinReadySeconds: sc.minReadySeconds}
	if _, err := podInf.Informer().AddEventHandler(pods.Handler()); err != nil {
		return nil, err
	}
	// Revisions are read from the cache only; their changes come from
	// this controller or from a set's change.
	_ = revInf.Informer()
	return sc, nil
}

// Run syncs StatefulSets with workers goroutines until ctx ends.
func (sc *Controller) Run(ctx context.Context, workers int) { sc.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (sc *Controller) ShutDown() { sc.queue.ShutDown() }

// adopters are the keys of the StatefulSets that could adopt an orphan:
// their selector matches it and its name makes it a member.
func (sc *Controller) adopters(pod *v1.Pod) []string {
	sets, err := sc.setLister.StatefulSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	sets = controller.Selecting(sets, func(s *appsv1.StatefulSet) *metav1.LabelSelector { return s.Spec.Selector }, pod.Labels)
	return controller.Keys(slices.DeleteFunc(sets, func(s *appsv1.StatefulSet) bool { return !isMember(s, pod) }))
}

func (sc *Controller) minReadySeconds(ns, name string) int32 {
	if set, err := sc.setLister.StatefulSets(ns).Get(name); err == nil {
		return set.Spec.MinReadySeconds
	}
	return 0
}

func (sc *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	set, err := sc.setLister.StatefulSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(set.Spec.Selector)
	if err != nil || sel.Empty() {
		return controller.Permanent(fmt.Errorf("statefulset %s: invalid or empty selector: %v", key, err))
	}
	log := sc.queue.Logger().With("statefulset", key)
	pods, err := sc.claimPods(ctx, set, sel)
	if err != nil {
		return err
	}
	revisions, err := sc.claimRevisions(ctx, set, sel)
	if err != nil {
		return err
	}
	current, update, collisions, err := sc.revisions(ctx, set, revisions)
	if err != nil {
		return err
	}
	currentSet, err := ApplyRevision(set, current)
	if err != nil {
		return controller.Permanent(err)
	}
	updateSet, err := ApplyRevision(set, update)
	if err != nil {
		return controller.Permanent(err)
	}
	now := sc.clock.Now()
	plan := Decide(Input{Set: set, Pods: pods, CurrentRevision: current.Name, UpdateRevision: update.Name, Now: now})
	plan.Status.CollisionCount = &collisions
	if plan.Blocked != "" {
		log.Debug("waiting for pod", "pod", plan.Blocked)
	}
	actErr := sc.perform(set, plan.Actions, func(a Action) error {
		return sc.act(ctx, set, currentSet, updateSet, current.Name, update.Name, a)
	})
	if err := sc.updateStatus(ctx, set, plan.Status); err != nil {
		return errors.Join(actErr, err)
	}
	if actErr != nil {
		return actErr
	}
	if err := sc.pruneHistory(ctx, set, pods, revisions, current, update); err != nil {
		return err
	}
	if next := NextAvailable(set, pods, now); !next.IsZero() {
		return controller.RequeueAfter(next.Sub(now) + 100*time.Millisecond)
	}
	return nil
}

// perform runs a plan's actions: one after another, stopping at the
// first failure; for a Parallel set concurrently in slow-start batches
// of 1, 2, 4, ..., stopping after the first batch with a failure (as
// upstream, so that a failing template costs one request, not hundreds).
func (sc *Controller) perform(set *appsv1.StatefulSet, actions []Action, do func(Action) error) error {
	if set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement {
		for _, a := range actions {
			if err := do(a); err != nil {
				return err
			}
		}
		return nil
	}
	_, err := controller.SlowStart(len(actions), func(i int) error { return do(actions[i]) })
	return err
}

// act performs one action of a plan.
func (sc *Controller) act(ctx context.Context, set, currentSet, updateSet *appsv1.StatefulSet, current, update string, a Action) error {
	switch a.Op {
	case Create:
		pod := NewPod(updateSet, update, a.Ordinal)
		if a.Current {
			pod = NewPod(currentSet, current, a.Ordinal)
		}
		return sc.createPod(ctx, set, pod)
	case Delete:
		switch a.Why {
		case WhyFailed:
			sc.recorder.Eventf(set, v1.EventTypeWarning, ReasonRecreatingFailedPod,
				"StatefulSet %s/%s is recreating failed Pod %s", set.Namespace, set.Name, a.Pod.Name)
		case WhyTerminated:
			sc.recorder.Eventf(set, v1.EventTypeNormal, ReasonRecreatingTerminatedPod,
				"StatefulSet %s/%s is recreating terminated Pod %s", set.Namespace, set.Name, a.Pod.Name)
		}
		sc.queue.Logger().Info("deleting pod", "statefulset", set.Namespace+"/"+set.Name, "pod", a.Pod.Name, "reason", a.Why)
		return sc.deletePodOf(ctx, set, a.Pod)
	case FixIdentity:
		patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q,%q:%q}}}`, PodNameLabel, a.Pod.Name, PodIndexLabel, strconv.Itoa(a.Ordinal))
		_, err := sc.client.CoreV1().Pods(set.Namespace).Patch(ctx, a.Pod.Name, types.StrategicMergePatchType, []byte(patch), metav1.PatchOptions{})
		sc.recordPodEvent(set, "update", a.Pod.Name, err)
		return err
	}
	return nil
}

// createPod creates pod's claims (when the API server serves them) and
// then pod, with upstream's events. A pod that already exists is an
// error (the cache is behind) without an event.
func (sc *Controller) createPod(ctx context.Context, set *appsv1.StatefulSet, pod *v1.Pod) error {
	if len(set.Spec.VolumeClaimTemplates) > 0 && sc.servesClaims() {
		for _, claim := range Claims(set, ordinalOf(pod)) {
			_, err := sc.client.CoreV1().PersistentVolumeClaims(set.Namespace).Create(ctx, claim, metav1.CreateOptions{})
			switch {
			case err == nil:
				sc.recorder.Eventf(set, v1.EventTypeNormal, ReasonSuccessfulCreate,
					"create Claim %s Pod %s in StatefulSet %s success", claim.Name, pod.Name, set.Name)
			case apierrors.IsAlreadyExists(err):
			default:
				sc.recorder.Eventf(set, v1.EventTypeWarning, ReasonFailedCreate,
					"create Claim %s for Pod %s in StatefulSet %s failed error: %s", claim.Name, pod.Name, set.Name, err)
				return fmt.Errorf("create claim %s/%s: %w", set.Namespace, claim.Name, err)
			}
		}
	}
	_, err := sc.client.CoreV1().Pods(set.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create pod %s/%s: %w", set.Namespace, pod.Name, err)
	}
	if apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause) {
		return nil
	}
	sc.recordPodEvent(set, "create", pod.Name, err)
	return err
}

// deletePodOf deletes pod if it is still the one decided on (UID
// precondition); a pod already gone is no error.
func (sc *Controller) deletePodOf(ctx context.Context, set *appsv1.StatefulSet, pod *v1.Pod) error {
	err := sc.client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
		Preconditions: &metav1.Preconditions{UID: &pod.UID},
	})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	sc.recordPodEvent(set, "delete", pod.Name, err)
	return err
}

// recordPodEvent is upstream's "<verb> Pod P in StatefulSet S successful"
// (or "... failed error: E").
func (sc *Controller) recordPodEvent(set *appsv1.StatefulSet, verb, pod string, err error) {
	title := map[string]string{"create": "Create", "delete": "Delete", "update": "Update"}[verb]
	if err == nil {
		sc.recorder.Eventf(set, v1.EventTypeNormal, "Successful"+title, "%s Pod %s in StatefulSet %s successful", verb, pod, set.Name)
		return
	}
	sc.recorder.Eventf(set, v1.EventTypeWarning, "Failed"+title, "%s Pod %s in StatefulSet %s failed error: %s", verb, pod, set.Name, err)
}

// servesClaims asks discovery once whether persistentvolumeclaims are
// served; a failed question is asked again next time.
func (sc *Controller) servesClaims() bool {
	sc.claimsMu.Lock()
	defer sc.claimsMu.Unlock()
	if sc.claimsServed != nil {
		return *sc.claimsServed
	}
	list, err := sc.client.Discovery().ServerResourcesForGroupVersion("v1")
	if err != nil {
		sc.queue.Logger().Info("cannot tell whether persistentvolumeclaims are served", "err", err)
		return false
	}
	served := false
	for _, r := range list.APIResources {
		if r.Name == "persistentvolumeclaims" {
			served = true
		}
	}
	sc.claimsServed = &served
	return served
}

// claimPods adopts and releases pods (adoption after re-reading the set
// live: a set being deleted must not adopt) and returns the owned ones.
func (sc *Controller) claimPods(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*v1.Pod, error) {
	all, err := sc.podLister.Pods(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return Claim(set, sel, all).Write(ctx, controller.PatchClaims(ControllerRef(set), sc.client.CoreV1().Pods(set.Namespace).Patch, sc.recheck(set)))
}

// claimRevisions does for ControllerRevisions what claimPods does; a
// revision matches when the selector matches its labels.
func (sc *Controller) claimRevisions(ctx context.Context, set *appsv1.StatefulSet, sel labels.Selector) ([]*appsv1.ControllerRevision, error) {
	all, err := sc.revLister.ControllerRevisions(set.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	return controller.ClaimObjects(ctx, set, sel, nil, all, controller.PatchClaims(ControllerRef(set), sc.client.AppsV1().ControllerRevisions(set.Namespace).Patch, sc.recheck(set)))
}

// recheck re-reads set from the API server before an adoption.
func (sc *Controller) recheck(set *appsv1.StatefulSet) func(context.Context) error {
	return controller.RecheckDeletion(set, "statefulset", sc.client.AppsV1().StatefulSets(set.Namespace).Get)
}

// revisions finds or makes the set's update revision (its template now)
// and finds its current revision (status.currentRevision, else the
// update revision), as upstream's getStatefulSetRevisions: a template
// equal to an older revision re-numbers that revision rather than making
// a new one (a rollback).
func (sc *Controller) revisions(ctx context.Context, set *appsv1.StatefulSet, revisions []*appsv1.ControllerRevision) (current, update *appsv1.ControllerRevision, collisions int32, err error) {
	history.Sort(revisions)
	if set.Status.CollisionCount != nil {
		collisions = *set.Status.CollisionCount
	}
	want, err := NewSetRevision(set, history.Next(revisions), &collisions)
	if err != nil {
		return nil, nil, 0, controller.Permanent(err)
	}
	equal := history.FindEqual(revisions, want)
	switch {
	case len(equal) > 0 && history.Equal(revisions[len(revisions)-1], equal[len(equal)-1]):
		update = revisions[len(revisions)-1]
	case len(equal) > 0:
		if update, err = history.Renumber(ctx, sc.client, equal[len(equal)-1], want.Revision); err != nil {
			return nil, nil, 0, err
		}
	default:
		update, err = history.Create(ctx, sc.client, set.Namespace, set.Name, want, &collisions)
		if err != nil {
			return nil, nil, 0, fmt.Errorf("create revision for statefulset %s/%s: %w", set.Namespace, set.Name, err)
		}
	}
	for _, r := range revisions {
		if r.Name == set.Status.CurrentRevision {
			current = r
		}
	}
	if current == nil {
		current = update
	}
	return current, update, collisions, nil
}

// pruneHistory deletes the oldest revisions beyond revisionHistoryLimit
// that neither the status nor a pod refers to.
func (sc *Controller) pruneHistory(ctx context.Context, set *appsv1.StatefulSet, pods []*v1.Pod, revisions []*appsv1.ControllerRevision, current, update *appsv1.ControllerRevision) error {
	live := map[string]bool{current.Name: true, update.Name: true}
	for _, p := range pods {
		live[p.Labels[RevisionLabel]] = true
	}
	limit := DefaultRevisionHistoryLimit
	if set.Spec.RevisionHistoryLimit != nil {
		limit = int(*set.Spec.RevisionHistoryLimit)
	}
	for _, r := range history.ToPrune(revisions, live, limit) {
		err := sc.client.AppsV1().ControllerRevisions(r.Namespace).Delete(ctx, r.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("prune revision %s/%s: %w", r.Namespace, r.Name, err)
		}
	}
	return nil
}

// updateStatus writes status when it changed.
func (sc *Controller) updateStatus(ctx context.Context, set *appsv1.StatefulSet, status appsv1.StatefulSetStatus) error {
	if equality.Semantic.DeepEqual(set.Status, status) {
		return nil
	}
	next := set.DeepCopy()
	next.Status = status
	_, err := sc.client.AppsV1().StatefulSets(set.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("update status of statefulset %s/%s: %w", set.Namespace, set.Name, err)
	}
	return nil
}
