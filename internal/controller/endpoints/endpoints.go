// Package endpoints is the Endpoints controller: for every Service with a
// selector it writes an Endpoints object of the same name listing the
// selected pods' IPs, ready ones in addresses and the others in
// notReadyAddresses, on the ports the service's targetPorts resolve to.
package endpoints

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "endpoints-controller"
	Alias = "endpoint"
)

// Controller is the Endpoints controller. Its keys are services'.
type Controller struct {
	client    kubernetes.Interface
	svcLister corelisters.ServiceLister
	podLister corelisters.PodLister
	epLister  corelisters.EndpointsLister
	queue     *controller.Queue
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	svcInf := c.Informers.Core().V1().Services()
	podInf := c.Informers.Core().V1().Pods()
	epInf := c.Informers.Core().V1().Endpoints()
	ec := &Controller{client: c.Client, svcLister: svcInf.Lister(), podLister: podInf.Lister(), epLister: epInf.Lister()}
	q, err := controller.New(controller.Config{Name: Name, Sync: ec.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	ec.queue = q
	if _, err := svcInf.Informer().AddEventHandler(q.Handler()); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { ec.enqueueServicesOf(obj) },
		UpdateFunc: func(old, cur any) { ec.enqueueServicesOf(old); ec.enqueueServicesOf(cur) },
		DeleteFunc: func(obj any) { ec.enqueueServicesOf(obj) },
	}); err != nil {
		return nil, err
	}
	// An Endpoints object changed or deleted by someone else is put back.
	if _, err := epInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(_, cur any) { q.Enqueue(cur) },
		DeleteFunc: q.Enqueue,
	}); err != nil {
		return nil, err
	}
	return ec, nil
}

// Run syncs services with workers goroutines until ctx ends.
func (ec *Controller) Run(ctx context.Context, workers int) { ec.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (ec *Controller) ShutDown() { ec.queue.ShutDown() }

func (ec *Controller) enqueueServicesOf(obj any) {
	for _, key := range ServicesSelecting(ec.svcLister, obj) {
		ec.queue.Add(key)
	}
}

// ServicesSelecting is the keys of the services with a selector that
// selects the pod obj (a *v1.Pod or its deletion tombstone): the services
// whose endpoints a change of that pod may change.
func ServicesSelecting(lister corelisters.ServiceLister, obj any) []string {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	pod, ok := obj.(*v1.Pod)
	if !ok {
		return nil
	}
	svcs, err := lister.Services(pod.Namespace).List(labels.Everything())
	if err != nil {
		return nil
	}
	var keys []string
	for _, svc := range svcs {
		if Selects(svc) && labels.Set(svc.Spec.Selector).AsSelectorPreValidated().Matches(labels.Set(pod.Labels)) {
			keys = append(keys, svc.Namespace+"/"+svc.Name)
		}
	}
	return keys
}

func (ec *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	svc, err := ec.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// Upstream deletes the Endpoints of a deleted service.
		err := ec.client.CoreV1().Endpoints(ns).Delete(ctx, name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("delete endpoints %s: %w", key, err)
		}
		return nil
	}
	if err != nil {
		return err
	}
	if !Selects(svc) {
		return nil
	}
	pods, err := ec.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	subsets := Subsets(svc, pods)
	wantLabels := Labels(svc)
	cur, err := ec.epLister.Endpoints(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if cur != nil && err == nil {
		if equality.Semantic.DeepEqual(normalize(cur.Subsets), subsets) && equality.Semantic.DeepEqual(cur.Labels, wantLabels) {
			return nil
		}
		next := cur.DeepCopy()
		next.Subsets, next.Labels = subsets, wantLabels
		_, err = ec.client.CoreV1().Endpoints(ns).Update(ctx, next, metav1.UpdateOptions{})
	} else {
		_, err = ec.client.CoreV1().Endpoints(ns).Create(ctx, &v1.Endpoints{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: wantLabels},
			Subsets:    subsets,
		}, metav1.CreateOptions{})
	}
	if apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("write endpoints %s: %w", key, err)
	}
	return nil
}

// normalize makes stored subsets comparable with computed ones (an
// absent list and an empty one are the same).
func normalize(s []v1.EndpointSubset) []v1.EndpointSubset {
	if s == nil {
		return []v1.EndpointSubset{}
	}
	return s
}
