// Package replicaset is the ReplicaSet controller: it keeps exactly
// spec.replicas active pods matching each ReplicaSet's selector.
package replicaset

import (
	"context"
	"errors"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "replicaset-controller"
	Alias = "replicaset"
)

// Upstream's event reasons and the source component.
const (
	EventSource            = "replicaset-controller"
	ReasonSuccessfulCreate = controller.ReasonSuccessfulCreate
	ReasonFailedCreate     = controller.ReasonFailedCreate
	ReasonSuccessfulDelete = controller.ReasonSuccessfulDelete
	ReasonFailedDelete     = controller.ReasonFailedDelete
)

// Controller is the ReplicaSet controller.
type Controller struct {
	client       kubernetes.Interface
	rsLister     appslisters.ReplicaSetLister
	podLister    corelisters.PodLister
	recorder     record.EventRecorder
	clock        clock.PassiveClock
	expectations *controller.Expectations
	pods         controller.PodControl
	podEvents    *controller.OwnedPods
	queue        *controller.Queue
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	rsInf := c.Informers.Apps().V1().ReplicaSets()
	podInf := c.Informers.Core().V1().Pods()
	rc := &Controller{
		client:       c.Client,
		rsLister:     rsInf.Lister(),
		podLister:    podInf.Lister(),
		recorder:     c.Recorder(EventSource),
		clock:        c.Clock,
		expectations: controller.NewExpectations(c.Clock),
	}
	rc.pods = controller.PodControl{Client: c.Client, Recorder: rc.recorder, Expectations: rc.expectations}
	q, err := controller.New(controller.Config{Name: Name, Sync: rc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	rc.queue = q
	if _, err := rsInf.Informer().AddEventHandler(q.Handler()); err != nil {
		return nil, err
	}
	rc.podEvents = &controller.OwnedPods{Kind: appsv1.SchemeGroupVersion.WithKind("ReplicaSet"), Queue: q,
		Expectations: rc.expectations, Adopters: rc.adopters, MinReadySeconds: rc.minReadySeconds}
	if _, err := podInf.Informer().AddEventHandler(rc.podEvents.Handler()); err != nil {
		return nil, err
	}
	return rc, nil
}

// Run syncs ReplicaSets with workers goroutines until ctx ends.
func (rc *Controller) Run(ctx context.Context, workers int) { rc.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (rc *Controller) ShutDown() { rc.queue.ShutDown() }

// adopters are the keys of the ReplicaSets whose selector matches an
// orphan.
func (rc *Controller) adopters(pod *v1.Pod) []string {
	list, err := rc.rsLister.ReplicaSets(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	return controller.Keys(controller.Selecting(list, rsSelector, pod.Labels))
}

func (rc *Controller) minReadySeconds(ns, name string) int32 {
	if rs, err := rc.rsLister.ReplicaSets(ns).Get(name); err == nil {
		return rs.Spec.MinReadySeconds
	}
	return 0
}

func rsSelector(rs *appsv1.ReplicaSet) *metav1.LabelSelector { return rs.Spec.Selector }

func (rc *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	cached, err := rc.rsLister.ReplicaSets(ns).Get(name)
	if apierrors.IsNotFound(err) {
		rc.expectations.Delete(key)
		return nil
	}
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(cached.Spec.Selector)
	if err != nil {
		return controller.Permanent(fmt.Errorf("replicaset %s: selector: %w", key, err))
	}
	pods, err := rc.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	log := rc.queue.Logger().With("replicaset", key)
	now := rc.clock.Now()
	plan := Decide(Input{RS: cached, Selector: sel, Pods: pods, CanManage: rc.expectations.Satisfied(key), Now: now,
		Related: func() []*v1.Pod { return rc.relatedPods(cached, pods) }})
	owned, err := rc.claim(ctx, cached, plan)
	if err != nil {
		return err
	}
	var manageErr error
	if plan.Create > 0 {
		pods := make([]*v1.Pod, plan.Create)
		for i := range pods {
			pods[i] = PodFromTemplate(cached)
		}
		manageErr = rc.pods.Create(ctx, cached, key, pods)
	} else if len(plan.Delete) > 0 {
		manageErr = rc.pods.Delete(ctx, cached, key, plan.Delete)
	}
	if manageErr != nil {
		log.Info("could not reach the replica count", "err", manageErr)
	}
	status := Status(cached, owned, manageErr, plan.Create > 0, now)
	updated, err := rc.updateStatus(ctx, cached, status)
	if err != nil {
		return errors.Join(manageErr, err)
	}
	if manageErr != nil {
		return manageErr
	}
	want := replicas(updated)
	if updated.Spec.MinReadySeconds > 0 && updated.Status.ReadyReplicas == want && updated.Status.AvailableReplicas != want {
		return controller.RequeueAfter(time.Duration(updated.Spec.MinReadySeconds) * time.Second)
	}
	return nil
}

// relatedPods are the pods matching the selector of any ReplicaSet with
// rs's controller (rs included), each once: upstream's indirectly related
// pods, which rank scale-down across a Deployment's ReplicaSets. Nil when
// rs has no controller.
func (rc *Controller) relatedPods(rs *appsv1.ReplicaSet, pods []*v1.Pod) []*v1.Pod {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil {
		return nil
	}
	siblings, err := rc.rsLister.ReplicaSets(rs.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	// Selectors parsed once: a Deployment's ReplicaSets may have
	// thousands of pods.
	var sels []labels.Selector
	for _, s := range siblings {
		if r := metav1.GetControllerOfNoCopy(s); r == nil || r.UID != ref.UID {
			continue
		}
		if sel, err := metav1.LabelSelectorAsSelector(s.Spec.Selector); err == nil && !sel.Empty() {
			sels = append(sels, sel)
		}
	}
	var out []*v1.Pod
	for _, p := range pods {
		for _, sel := range sels {
			if sel.Matches(labels.Set(p.Labels)) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

// claim writes the plan's adoptions (once the ReplicaSet, re-read from
// the API server, is known not to be being deleted: upstream's
// RecheckDeletionTimestamp) and releases, and returns the owned pods
// that survived them.
func (rc *Controller) claim(ctx context.Context, rs *appsv1.ReplicaSet, plan Plan) ([]*v1.Pod, error) {
	recheck := controller.RecheckDeletion(rs, "replicaset", rc.client.AppsV1().ReplicaSets(rs.Namespace).Get)
	return plan.Claims.Write(ctx, controller.PatchClaims(ControllerRef(rs), rc.client.CoreV1().Pods(rs.Namespace).Patch, recheck))
}

// updateStatus writes status when it changed and returns the ReplicaSet
// as stored.
func (rc *Controller) updateStatus(ctx context.Context, rs *appsv1.ReplicaSet, status appsv1.ReplicaSetStatus) (*appsv1.ReplicaSet, error) {
	if equality.Semantic.DeepEqual(rs.Status, status) {
		return rs, nil
	}
	next := rs.DeepCopy()
	next.Status = status
	out, err := rc.client.AppsV1().ReplicaSets(rs.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return next, nil
	}
	if err != nil {
		return nil, fmt.Errorf("update status of replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	return out, nil
}
