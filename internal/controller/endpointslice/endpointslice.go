// Package endpointslice is the EndpointSlice controller: for every
// Service with a selector it keeps discovery.k8s.io/v1 EndpointSlices
// (owned by the service, labelled kubernetes.io/service-name) listing the
// selected pods with their ready, serving and terminating conditions.
package endpointslice

import (
	"context"
	"errors"
	"fmt"

	v1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	discoverylisters "k8s.io/client-go/listers/discovery/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/endpoints"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "endpointslice-controller"
	Alias = "endpointslice"
)

// Controller is the EndpointSlice controller. Its keys are services'.
type Controller struct {
	client       kubernetes.Interface
	svcLister    corelisters.ServiceLister
	podLister    corelisters.PodLister
	sliceLister  discoverylisters.EndpointSliceLister
	expectations *controller.Expectations
	queue        *controller.Queue
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	svcInf := c.Informers.Core().V1().Services()
	podInf := c.Informers.Core().V1().Pods()
	sliceInf := c.Informers.Discovery().V1().EndpointSlices()
	sc := &Controller{client: c.Client, svcLister: svcInf.Lister(), podLister: podInf.Lister(),
		sliceLister: sliceInf.Lister(), expectations: controller.NewExpectations(c.Clock)}
	q, err := controller.New(controller.Config{Name: Name, Sync: sc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	sc.queue = q
	if _, err := svcInf.Informer().AddEventHandler(q.Handler()); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    sc.enqueueServicesOf,
		UpdateFunc: func(old, cur any) { sc.enqueueServicesOf(old); sc.enqueueServicesOf(cur) },
		DeleteFunc: sc.enqueueServicesOf,
	}); err != nil {
		return nil, err
	}
	if _, err := sliceInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if key, ok := serviceKey(obj); ok {
				sc.expectations.CreationObserved(key)
				q.Add(key)
			}
		},
		UpdateFunc: func(_, cur any) {
			if key, ok := serviceKey(cur); ok {
				q.Add(key)
			}
		},
		DeleteFunc: func(obj any) {
			if key, ok := serviceKey(obj); ok {
				q.Add(key)
			}
		},
	}); err != nil {
		return nil, err
	}
	return sc, nil
}

// serviceKey is the key of the service a slice managed here belongs to.
func serviceKey(obj any) (string, bool) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok || s.Labels[discoveryv1.LabelManagedBy] != ManagedBy || s.Labels[discoveryv1.LabelServiceName] == "" {
		return "", false
	}
	return s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName], true
}

// Run syncs services with workers goroutines until ctx ends.
func (sc *Controller) Run(ctx context.Context, workers int) { sc.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (sc *Controller) ShutDown() { sc.queue.ShutDown() }

func (sc *Controller) enqueueServicesOf(obj any) {
	for _, key := range endpoints.ServicesSelecting(sc.svcLister, obj) {
		sc.queue.Add(key)
	}
}

func (sc *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	// Slices this controller created are not in the cache yet: acting now
	// would create them again. Their arrival enqueues the service.
	if !sc.expectations.Satisfied(key) {
		return nil
	}
	existing, err := sc.sliceLister.EndpointSlices(ns).List(labels.SelectorFromSet(labels.Set{
		discoveryv1.LabelServiceName: name, discoveryv1.LabelManagedBy: ManagedBy,
	}))
	if err != nil {
		return err
	}
	svc, err := sc.svcLister.Services(ns).Get(name)
	if apierrors.IsNotFound(err) {
		// The garbage collector would remove them (they are owned by the
		// service); until it runs here, this controller does.
		sc.expectations.Delete(key)
		return sc.apply(ctx, key, Plan{Delete: existing})
	}
	if err != nil {
		return err
	}
	if !endpoints.Selects(svc) {
		return sc.apply(ctx, key, Plan{Delete: existing})
	}
	pods, err := sc.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var mine []*discoveryv1.EndpointSlice
	for _, s := range existing {
		if ref := metav1.GetControllerOfNoCopy(s); ref == nil || ref.UID == svc.UID {
			mine = append(mine, s)
		}
	}
	return sc.apply(ctx, key, Reconcile(mine, Desired(svc, pods)))
}

func (sc *Controller) apply(ctx context.Context, key string, p Plan) error {
	var errs []error
	api := sc.client.DiscoveryV1().EndpointSlices
	if len(p.Create) > 0 {
		sc.expectations.ExpectCreations(key, len(p.Create))
	}
	for _, s := range p.Create {
		if _, err := api(s.Namespace).Create(ctx, s, metav1.CreateOptions{}); err != nil {
			sc.expectations.CreationObserved(key)
			if !apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause) {
				errs = append(errs, fmt.Errorf("create endpointslice for %s: %w", key, err))
			}
		}
	}
	for _, s := range p.Update {
		if _, err := api(s.Namespace).Update(ctx, s, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("update endpointslice %s/%s: %w", s.Namespace, s.Name, err))
		}
	}
	for _, s := range p.Delete {
		if err := api(s.Namespace).Delete(ctx, s.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete endpointslice %s/%s: %w", s.Namespace, s.Name, err))
		}
	}
	return errors.Join(errs...)
}
