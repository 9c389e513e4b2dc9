// Package serviceaccount is the service account controller: every
// active namespace has a ServiceAccount named "default", recreated if it
// is deleted.
package serviceaccount

import (
	"context"
	"fmt"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "serviceaccount-controller"
	Alias = "serviceaccount"
)

// DefaultName is the service account every namespace gets.
const DefaultName = "default"

// Controller is the service account controller. Its keys are namespace
// names.
type Controller struct {
	client   kubernetes.Interface
	nsLister corelisters.NamespaceLister
	saLister corelisters.ServiceAccountLister
	queue    *controller.Queue
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	nsInf := c.Informers.Core().V1().Namespaces()
	saInf := c.Informers.Core().V1().ServiceAccounts()
	sc := &Controller{client: c.Client, nsLister: nsInf.Lister(), saLister: saInf.Lister()}
	q, err := controller.New(controller.Config{Name: Name, Sync: sc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	sc.queue = q
	if _, err := nsInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    q.Enqueue,
		UpdateFunc: func(_, cur any) { q.Enqueue(cur) },
	}); err != nil {
		return nil, err
	}
	if _, err := saInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if sa, ok := obj.(*v1.ServiceAccount); ok && sa.Name == DefaultName {
				q.Add(sa.Namespace)
			}
		},
	}); err != nil {
		return nil, err
	}
	return sc, nil
}

// Run syncs namespaces with workers goroutines until ctx ends.
func (sc *Controller) Run(ctx context.Context, workers int) { sc.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (sc *Controller) ShutDown() { sc.queue.ShutDown() }

// NeedsDefault decides whether ns lacks its default service account:
// only active namespaces get one (a terminating one refuses creations).
func NeedsDefault(ns *v1.Namespace, existing *v1.ServiceAccount) bool {
	return ns.Status.Phase != v1.NamespaceTerminating && ns.DeletionTimestamp == nil && existing == nil
}

func (sc *Controller) sync(ctx context.Context, key string) error {
	ns, err := sc.nsLister.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	sa, err := sc.saLister.ServiceAccounts(key).Get(DefaultName)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	if err != nil {
		sa = nil
	}
	if !NeedsDefault(ns, sa) {
		return nil
	}
	_, err = sc.client.CoreV1().ServiceAccounts(key).Create(ctx,
		&v1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: DefaultName, Namespace: key}}, metav1.CreateOptions{})
	switch {
	case err == nil:
		sc.queue.Logger().Info("created the default service account", "namespace", key)
		return nil
	case apierrors.IsAlreadyExists(err), apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause), apierrors.IsNotFound(err):
		return nil
	default:
		return fmt.Errorf("create serviceaccount %s/%s: %w", key, DefaultName, err)
	}
}
