// Package namespace is the namespace lifecycle controller: when a
// namespace is deleted (the API server marks it Terminating and keeps it
// while spec.finalizers holds "kubernetes"), it deletes every namespaced
// object of every served resource in it, then removes its finalizer
// through namespaces/finalize so that the namespace goes away.
package namespace

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "namespace-controller"
	Alias = "namespace"
)

var podsResource = schema.GroupResource{Resource: "pods"}

// Controller is the namespace lifecycle controller.
type Controller struct {
	client   kubernetes.Interface
	dynamic  dynamic.Interface
	nsLister corelisters.NamespaceLister
	clock    clock.PassiveClock
	queue    *controller.Queue
	// discover lists the served namespaced resources, preferred
	// versions only (a test replaces it: the fake discovery has none).
	discover func() ([]*metav1.APIResourceList, error)
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	inf := c.Informers.Core().V1().Namespaces()
	nc := &Controller{client: c.Client, dynamic: c.Dynamic, nsLister: inf.Lister(), clock: c.Clock,
		discover: c.Client.Discovery().ServerPreferredNamespacedResources}
	q, err := controller.New(controller.Config{Name: Name, Sync: nc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	nc.queue = q
	enqueueDeleted := func(obj any) {
		if ns, ok := obj.(*v1.Namespace); ok && ns.DeletionTimestamp != nil {
			q.Enqueue(ns)
		}
	}
	if _, err := inf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueueDeleted,
		UpdateFunc: func(_, cur any) { enqueueDeleted(cur) },
	}); err != nil {
		return nil, err
	}
	return nc, nil
}

// Run syncs namespaces with workers goroutines until ctx ends.
func (nc *Controller) Run(ctx context.Context, workers int) { nc.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (nc *Controller) ShutDown() { nc.queue.ShutDown() }

func (nc *Controller) sync(ctx context.Context, key string) error {
	cached, err := nc.nsLister.Get(key)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if cached.DeletionTimestamp == nil {
		return nil
	}
	// The cache may lag: act on what the API server holds now.
	ns, err := nc.client.CoreV1().Namespaces().Get(ctx, key, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if ns.DeletionTimestamp == nil {
		return nil
	}
	log := nc.queue.Logger().With("namespace", key)
	if !slices.Contains(ns.Spec.Finalizers, v1.FinalizerKubernetes) {
		return nc.deleteIfFinalized(ctx, ns)
	}
	out, estimate := nc.deleteContent(ctx, key)
	if err := nc.updateConditions(ctx, ns, out); err != nil {
		return err
	}
	if !out.Done() {
		log.Info("namespace content remains", "remaining", fmt.Sprint(out.Remaining), "errors", len(out.ContentErrs), "discoveryErr", out.DiscoveryErr)
		// Upstream's pace: half the longest grace period still running, plus a second.
		return controller.RequeueAfter(estimate/2 + time.Second)
	}
	next := ns.DeepCopy()
	next.Spec.Finalizers = slices.DeleteFunc(next.Spec.Finalizers, func(f v1.FinalizerName) bool { return f == v1.FinalizerKubernetes })
	fin, err := nc.client.CoreV1().Namespaces().Finalize(ctx, next, metav1.UpdateOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("finalize namespace %s: %w", key, err)
	}
	log.Info("namespace content deleted; finalized")
	return nc.deleteIfFinalized(ctx, fin)
}

// deleteIfFinalized deletes a namespace that nothing holds any more (the
// API server usually removed it already when its last finalizer went).
func (nc *Controller) deleteIfFinalized(ctx context.Context, ns *v1.Namespace) error {
	if len(ns.Spec.Finalizers) > 0 || len(ns.Finalizers) > 0 {
		return nil
	}
	err := nc.client.CoreV1().Namespaces().Delete(ctx, ns.Name, metav1.DeleteOptions{Preconditions: &metav1.Preconditions{UID: &ns.UID}})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete finalized namespace %s: %w", ns.Name, err)
	}
	return nil
}

// deleteContent deletes every namespaced object of every listable,
// deletable served resource in ns and counts what remains; estimate is
// the longest grace period of the objects still terminating.
func (nc *Controller) deleteContent(ctx context.Context, ns string) (Outcome, time.Duration) {
	out := Outcome{Remaining: map[schema.GroupResource]int{}, Finalizers: map[string]int{}}
	lists, err := nc.discover()
	if err != nil {
		out.DiscoveryErr = err
		if !discovery.IsGroupDiscoveryFailedError(err) {
			return out, 0
		}
	}
	deletable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"list", "delete"}}, lists)
	canCollect := map[schema.GroupVersionResource]bool{}
	for _, l := range deletable {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			out.ContentErrs = append(out.ContentErrs, err)
			continue
		}
		for _, r := range l.APIResources {
			canCollect[gv.WithResource(r.Name)] = slices.Contains(r.Verbs, "deletecollection")
		}
	}
	gvrs := make([]schema.GroupVersionResource, 0, len(canCollect))
	for gvr := range canCollect {
		gvrs = append(gvrs, gvr)
	}
	// Pods first, and nothing else while any remain (upstream's
	// OrderedNamespaceDeletion): a pod keeps using its namespace's
	// secrets, configmaps and service accounts until it has stopped.
	sort.Slice(gvrs, func(i, j int) bool {
		if pi, pj := gvrs[i].GroupResource() == podsResource, gvrs[j].GroupResource() == podsResource; pi != pj {
			return pi
		}
		return gvrs[i].String() < gvrs[j].String()
	})
	var estimate time.Duration
	background := metav1.DeletePropagationBackground
	opts := metav1.DeleteOptions{PropagationPolicy: &background}
	for _, gvr := range gvrs {
		rc := nc.dynamic.Resource(gvr).Namespace(ns)
		if err := deleteAll(ctx, rc, canCollect[gvr], opts); err != nil {
			out.ContentErrs = append(out.ContentErrs, fmt.Errorf("delete %s: %w", gvr, err))
			continue
		}
		list, err := rc.List(ctx, metav1.ListOptions{})
		if err != nil {
			if !apierrors.IsNotFound(err) && !apierrors.IsMethodNotSupported(err) {
				out.ContentErrs = append(out.ContentErrs, fmt.Errorf("list %s: %w", gvr, err))
			}
			continue
		}
		for _, item := range list.Items {
			out.Remaining[gvr.GroupResource()]++
			for _, f := range item.GetFinalizers() {
				out.Finalizers[f]++
			}
			if g := item.GetDeletionGracePeriodSeconds(); g != nil {
				estimate = max(estimate, time.Duration(*g)*time.Second)
			}
		}
		if gvr.GroupResource() == podsResource && out.Remaining[podsResource] > 0 {
			break
		}
	}
	return out, estimate
}

// deleteAll deletes a resource's objects: one deletecollection when it
// is served, else one delete per object not yet being deleted.
func deleteAll(ctx context.Context, rc dynamic.ResourceInterface, collection bool, opts metav1.DeleteOptions) error {
	if collection {
		err := rc.DeleteCollection(ctx, opts, metav1.ListOptions{})
		if err == nil || apierrors.IsNotFound(err) {
			return nil
		}
		if !apierrors.IsMethodNotSupported(err) {
			return err
		}
	}
	list, err := rc.List(ctx, metav1.ListOptions{})
	if apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var errs []error
	for _, item := range list.Items {
		if item.GetDeletionTimestamp() != nil {
			continue
		}
		if err := rc.Delete(ctx, item.GetName(), opts); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (nc *Controller) updateConditions(ctx context.Context, ns *v1.Namespace, out Outcome) error {
	conds := Conditions(ns.Status.Conditions, out, nc.clock.Now())
	if equality.Semantic.DeepEqual(conds, ns.Status.Conditions) {
		return nil
	}
	next := ns.DeepCopy()
	next.Status.Conditions = conds
	_, err := nc.client.CoreV1().Namespaces().UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("update conditions of namespace %s: %w", ns.Name, err)
	}
	return nil
}
