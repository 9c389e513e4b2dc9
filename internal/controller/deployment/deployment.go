// Package deployment is the Deployment controller: it rolls each
// Deployment's pod template out through ReplicaSets it owns, one per
// template (RollingUpdate or Recreate), keeps their revisions, scales
// them proportionally and reports the rollout in the Deployment's status.
package deployment

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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
// Alias is its short name, accepted too.
const (
	Name  = "deployment-controller"
	Alias = "deployment"
)

// Upstream's event source and reasons.
const (
	EventSource             = "deployment-controller"
	ReasonScalingReplicaSet = "ScalingReplicaSet"
	ReasonSelectingAll      = "SelectingAll"
)

// Controller is the Deployment controller.
type Controller struct {
	client    kubernetes.Interface
	dLister   appslisters.DeploymentLister
	rsLister  appslisters.ReplicaSetLister
	podLister corelisters.PodLister
	recorder  record.EventRecorder
	clock     clock.PassiveClock
	queue     *controller.Queue
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	dInf := c.Informers.Apps().V1().Deployments()
	rsInf := c.Informers.Apps().V1().ReplicaSets()
	podInf := c.Informers.Core().V1().Pods()
	dc := &Controller{
		client:    c.Client,
		dLister:   dInf.Lister(),
		rsLister:  rsInf.Lister(),
		podLister: podInf.Lister(),
		recorder:  c.Recorder(EventSource),
		clock:     c.Clock,
	}
	q, err := controller.New(controller.Config{Name: Name, Sync: dc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	dc.queue = q
	if _, err := dInf.Informer().AddEventHandler(q.Handler()); err != nil {
		return nil, err
	}
	if _, err := rsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    dc.addReplicaSet,
		UpdateFunc: dc.updateReplicaSet,
		DeleteFunc: dc.deleteReplicaSet,
	}); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{DeleteFunc: dc.deletePod}); err != nil {
		return nil, err
	}
	return dc, nil
}

// Run syncs Deployments with workers goroutines until ctx ends.
func (dc *Controller) Run(ctx context.Context, workers int) { dc.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (dc *Controller) ShutDown() { dc.queue.ShutDown() }

// owner is the Deployment controlling rs, from the cache, if any.
func (dc *Controller) owner(rs *appsv1.ReplicaSet) *appsv1.Deployment {
	ref := metav1.GetControllerOfNoCopy(rs)
	if ref == nil || ref.Kind != "Deployment" || ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return nil
	}
	d, err := dc.dLister.Deployments(rs.Namespace).Get(ref.Name)
	if err != nil || d.UID != ref.UID {
		return nil
	}
	return d
}

func (dc *Controller) addReplicaSet(obj any) {
	rs := obj.(*appsv1.ReplicaSet)
	if rs.DeletionTimestamp != nil {
		dc.deleteReplicaSet(rs)
		return
	}
	if metav1.GetControllerOfNoCopy(rs) != nil {
		if d := dc.owner(rs); d != nil {
			dc.queue.Enqueue(d)
		}
		return
	}
	dc.enqueueMatching(rs)
}

func (dc *Controller) updateReplicaSet(old, cur any) {
	o, c := old.(*appsv1.ReplicaSet), cur.(*appsv1.ReplicaSet)
	if o.ResourceVersion == c.ResourceVersion {
		return
	}
	oref, cref := metav1.GetControllerOfNoCopy(o), metav1.GetControllerOfNoCopy(c)
	refChanged := !equality.Semantic.DeepEqual(oref, cref)
	if refChanged && oref != nil {
		if d := dc.owner(o); d != nil {
			dc.queue.Enqueue(d)
		}
	}
	if cref != nil {
		if d := dc.owner(c); d != nil {
			dc.queue.Enqueue(d)
		}
		return
	}
	if refChanged || !equality.Semantic.DeepEqual(o.Labels, c.Labels) {
		dc.enqueueMatching(c)
	}
}

func (dc *Controller) deleteReplicaSet(obj any) {
	rs, ok := controller.Deleted[*appsv1.ReplicaSet](obj)
	if !ok {
		return
	}
	if d := dc.owner(rs); d != nil {
		dc.queue.Enqueue(d)
	}
}

// deletePod wakes a Recreate Deployment waiting for its old pods to go.
func (dc *Controller) deletePod(obj any) {
	pod, ok := controller.Deleted[*v1.Pod](obj)
	if !ok {
		return
	}
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "ReplicaSet" || ref.APIVersion != appsv1.SchemeGroupVersion.String() {
		return
	}
	rs, err := dc.rsLister.ReplicaSets(pod.Namespace).Get(ref.Name)
	if err != nil || rs.UID != ref.UID {
		return
	}
	if d := dc.owner(rs); d != nil && d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		dc.queue.Enqueue(d)
	}
}

// enqueueMatching enqueues the Deployments that could adopt an orphan
// ReplicaSet.
func (dc *Controller) enqueueMatching(rs *appsv1.ReplicaSet) {
	list, err := dc.dLister.Deployments(rs.Namespace).List(labels.Everything())
	if err != nil {
		return
	}
	for _, d := range controller.Selecting(list, deploymentSelector, rs.Labels) {
		dc.queue.Enqueue(d)
	}
}

func deploymentSelector(d *appsv1.Deployment) *metav1.LabelSelector { return d.Spec.Selector }

func key(d *appsv1.Deployment) string { return fmt.Sprintf("%s/%s", d.Namespace, d.Name) }
