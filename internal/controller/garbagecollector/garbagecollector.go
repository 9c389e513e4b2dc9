// Package garbagecollector is the garbage collector: it deletes objects
// whose owners (metadata.ownerReferences) are gone, and carries out the
// orphan and foreground propagation policies of a deletion, for every
// served kind.
package garbagecollector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "garbage-collector-controller"
	Alias = "garbagecollector"
)

// ignored are the resources upstream's collector does not watch.
var ignored = map[schema.GroupResource]bool{
	{Group: "", Resource: "events"}:              true,
	{Group: "events.k8s.io", Resource: "events"}: true,
}

const (
	byOwner = "ownerUID"
	byUID   = "uid"
)

// ResyncPeriod is how often the served kinds are discovered again, as
// upstream: kinds served later (a CRD) get monitors, kinds no longer
// served lose theirs.
const ResyncPeriod = 30 * time.Second

// Controller is the garbage collector. Its keys are
// "<action>|<group>/<version>/<resource>|<namespace>|<name>|<uid>".
type Controller struct {
	dynamic   dynamic.Interface
	discovery discovery.DiscoveryInterface
	queue     *controller.Queue
	clock     clock.WithTicker
	resync    time.Duration

	// mu guards monitors, kinds, namespaced and running: discovery
	// changes them while workers and handlers read them.
	mu sync.RWMutex
	// monitors watch every deletable kind.
	monitors map[schema.GroupVersionResource]*monitor
	// kinds resolves an ownerReference's apiVersion and kind.
	kinds      map[schema.GroupVersionKind]schema.GroupVersionResource
	namespaced map[schema.GroupVersionResource]bool
	// running: the monitors have been started (a new one starts at once).
	running bool

	start    sync.Once
	synced   chan struct{}
	stop     chan struct{}
	stopOnce sync.Once
}

// monitor is one kind's informer; closing stop ends it.
type monitor struct {
	inf  cache.SharedIndexInformer
	stop chan struct{}
}

// New discovers the served resources and builds an informer for each;
// they start with the first Run.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	if c.Dynamic == nil {
		return nil, errors.New("garbage collector: a dynamic client is required")
	}
	gc := &Controller{
		dynamic: c.Dynamic, discovery: c.Client.Discovery(), clock: c.Clock, resync: ResyncPeriod,
		monitors:   map[schema.GroupVersionResource]*monitor{},
		kinds:      map[schema.GroupVersionKind]schema.GroupVersionResource{},
		namespaced: map[schema.GroupVersionResource]bool{},
		synced:     make(chan struct{}),
		stop:       make(chan struct{}),
	}
	if gc.clock == nil {
		gc.clock = clock.RealClock{}
	}
	q, err := controller.New(controller.Config{Name: Name, Sync: gc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	gc.queue = q
	if _, _, err := gc.discover(); err != nil {
		return nil, err
	}
	return gc, nil
}

// discover maps every served kind to its resource and keeps a monitor per
// preferred version of each deletable resource: it adds the missing ones
// (started at once once the collector runs) and, when discovery answered
// for every group, stops those of kinds no longer served.
func (gc *Controller) discover() (added, removed []schema.GroupVersionResource, err error) {
	_, all, err := gc.discovery.ServerGroupsAndResources()
	partial := discovery.IsGroupDiscoveryFailedError(err)
	if err != nil && !partial {
		return nil, nil, fmt.Errorf("garbage collector: discovery: %w", err)
	}
	kinds := map[schema.GroupVersionKind]schema.GroupVersionResource{}
	namespaced := map[schema.GroupVersionResource]bool{}
	for _, l := range all {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			kinds[gv.WithKind(r.Kind)] = gvr
			namespaced[gvr] = r.Namespaced
		}
	}
	preferred, err := gc.discovery.ServerPreferredResources()
	if err != nil && !discovery.IsGroupDiscoveryFailedError(err) {
		return nil, nil, fmt.Errorf("garbage collector: discovery: %w", err)
	}
	partial = partial || err != nil
	want := map[schema.GroupVersionResource]bool{}
	watchable := discovery.FilteredBy(discovery.SupportsAllVerbs{Verbs: []string{"list", "watch", "delete"}}, preferred)
	for _, l := range watchable {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if gvr := gv.WithResource(r.Name); !ignored[gvr.GroupResource()] {
				want[gvr] = true
			}
		}
	}
	gc.mu.Lock()
	defer gc.mu.Unlock()
	if partial {
		// Keep what the groups that did not answer served.
		for k, v := range gc.kinds {
			if _, ok := kinds[k]; !ok {
				kinds[k] = v
			}
		}
		for k, v := range gc.namespaced {
			if _, ok := namespaced[k]; !ok {
				namespaced[k] = v
			}
		}
	}
	gc.kinds, gc.namespaced = kinds, namespaced
	for gvr := range want {
		if _, ok := gc.monitors[gvr]; !ok {
			gc.addMonitorLocked(gvr)
			added = append(added, gvr)
		}
	}
	if !partial {
		for gvr, m := range gc.monitors {
			if !want[gvr] {
				close(m.stop)
				delete(gc.monitors, gvr)
				removed = append(removed, gvr)
			}
		}
	}
	return added, removed, nil
}

func (gc *Controller) addMonitorLocked(gvr schema.GroupVersionResource) {
	// Full objects, not metadata only: the API server's watch does not
	// serve PartialObjectMetadata yet.
	inf := dynamicinformer.NewFilteredDynamicInformer(gc.dynamic, gvr, metav1.NamespaceAll, 0, cache.Indexers{
		byOwner: func(obj any) ([]string, error) {
			m, err := metaOf(obj)
			if err != nil {
				return nil, nil
			}
			var out []string
			for _, r := range m.GetOwnerReferences() {
				out = append(out, string(r.UID))
			}
			return out, nil
		},
		byUID: func(obj any) ([]string, error) {
			m, err := metaOf(obj)
			if err != nil {
				return nil, nil
			}
			return []string{string(m.GetUID())}, nil
		},
	}, nil).Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { gc.changed(gvr, obj) },
		UpdateFunc: func(_, cur any) { gc.changed(gvr, cur) },
		DeleteFunc: func(obj any) { gc.deleted(obj) },
	})
	m := &monitor{inf: inf, stop: make(chan struct{})}
	gc.monitors[gvr] = m
	if gc.running {
		go inf.Run(m.stop)
	}
}

func metaOf(obj any) (metav1.Object, error) {
	if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = tomb.Obj
	}
	m, ok := obj.(metav1.Object)
	if !ok {
		return nil, fmt.Errorf("unexpected %T", obj)
	}
	return m, nil
}

// Action names.
const (
	actDelete     = "delete"
	actOrphan     = "orphan"
	actForeground = "foreground"
)

// ref names one object; it is a queue key.
type ref struct {
	gvr             schema.GroupVersionResource
	namespace, name string
	uid             types.UID
}

func (r ref) key(action string) string {
	return strings.Join([]string{action, r.gvr.Group + "/" + r.gvr.Version + "/" + r.gvr.Resource, r.namespace, r.name, string(r.uid)}, "|")
}

func parseKey(key string) (string, ref, error) {
	parts := strings.Split(key, "|")
	if len(parts) != 5 {
		return "", ref{}, fmt.Errorf("bad key %q", key)
	}
	g := strings.SplitN(parts[1], "/", 3)
	if len(g) != 3 {
		return "", ref{}, fmt.Errorf("bad key %q", key)
	}
	return parts[0], ref{gvr: schema.GroupVersionResource{Group: g[0], Version: g[1], Resource: g[2]},
		namespace: parts[2], name: parts[3], uid: types.UID(parts[4])}, nil
}

func refOf(gvr schema.GroupVersionResource, m metav1.Object) ref {
	return ref{gvr: gvr, namespace: m.GetNamespace(), name: m.GetName(), uid: m.GetUID()}
}

func (gc *Controller) changed(gvr schema.GroupVersionResource, obj any) {
	m, err := metaOf(obj)
	if err != nil {
		return
	}
	r := refOf(gvr, m)
	if m.GetDeletionTimestamp() != nil {
		if slices.Contains(m.GetFinalizers(), metav1.FinalizerOrphanDependents) {
			gc.queue.Add(r.key(actOrphan))
		}
		if slices.Contains(m.GetFinalizers(), metav1.FinalizerDeleteDependents) {
			gc.queue.Add(r.key(actForeground))
		}
		return
	}
	if len(m.GetOwnerReferences()) > 0 {
		gc.queue.Add(r.key(actDelete))
	}
}

// deleted enqueues the dependents of a deleted object, and its owners
// that wait in the foreground for it.
func (gc *Controller) deleted(obj any) {
	m, err := metaOf(obj)
	if err != nil {
		return
	}
	for gvr, d := range gc.dependents(m.GetUID()) {
		for _, dm := range d {
			gc.queue.Add(refOf(gvr, dm).key(actDelete))
		}
	}
	for _, o := range m.GetOwnerReferences() {
		if gvr, owner, ok := gc.cached(o.UID); ok && owner.GetDeletionTimestamp() != nil &&
			slices.Contains(owner.GetFinalizers(), metav1.FinalizerDeleteDependents) {
			gc.queue.Add(refOf(gvr, owner).key(actForeground))
		}
	}
}

// dependents are the cached objects with an ownerReference to uid.
func (gc *Controller) dependents(uid types.UID) map[schema.GroupVersionResource][]metav1.Object {
	out := map[schema.GroupVersionResource][]metav1.Object{}
	gc.mu.RLock()
	defer gc.mu.RUnlock()
	for gvr, m := range gc.monitors {
		objs, err := m.inf.GetIndexer().ByIndex(byOwner, string(uid))
		if err != nil {
			continue
		}
		for _, o := range objs {
			if m, err := metaOf(o); err == nil {
				out[gvr] = append(out[gvr], m)
			}
		}
	}
	return out
}

// cached finds an object by UID in the monitors.
func (gc *Controller) cached(uid types.UID) (schema.GroupVersionResource, metav1.Object, bool) {
	gc.mu.RLock()
	defer gc.mu.RUnlock()
	for gvr, m := range gc.monitors {
		objs, err := m.inf.GetIndexer().ByIndex(byUID, string(uid))
		if err == nil && len(objs) > 0 {
			if m, err := metaOf(objs[0]); err == nil {
				return gvr, m, true
			}
		}
	}
	return schema.GroupVersionResource{}, nil, false
}

// Run starts the monitors and the periodic discovery (once), waits for
// the first monitors to sync, and collects with workers goroutines until
// ctx ends. Monitors added later are not waited for: an owner missing from
// the cache is looked up in the API server.
func (gc *Controller) Run(ctx context.Context, workers int) {
	// The monitors outlive a term of leadership; ShutDown ends them.
	gc.start.Do(func() {
		gc.mu.Lock()
		gc.running = true
		var synced []cache.InformerSynced
		for gvr, m := range gc.monitors {
			go m.inf.Run(m.stop)
			// A kind no longer served is not waited for: its monitor
			// stopped (rediscover) and may never sync.
			synced = append(synced, func() bool {
				gc.mu.RLock()
				cur, ok := gc.monitors[gvr]
				gc.mu.RUnlock()
				return !ok || cur != m || m.inf.HasSynced()
			})
		}
		gc.mu.Unlock()
		go func() {
			if cache.WaitForCacheSync(gc.stop, synced...) {
				close(gc.synced)
			}
		}()
		go gc.rediscover()
	})
	select {
	case <-gc.synced:
	case <-ctx.Done():
		return
	}
	gc.queue.Run(ctx, workers)
}

// rediscover runs discovery every resync period until ShutDown.
func (gc *Controller) rediscover() {
	t := gc.clock.NewTicker(gc.resync)
	defer t.Stop()
	for {
		select {
		case <-gc.stop:
			return
		case <-t.C():
		}
		added, removed, err := gc.discover()
		if err != nil {
			gc.queue.Logger().Warn("discovery failed; monitors unchanged", "err", err)
			continue
		}
		if len(added)+len(removed) > 0 {
			gc.queue.Logger().Info("served kinds changed", "added", fmt.Sprint(added), "removed", fmt.Sprint(removed))
		}
	}
}

// ShutDown stops the queue and the monitors for good.
func (gc *Controller) ShutDown() {
	gc.queue.ShutDown()
	gc.stopOnce.Do(func() {
		close(gc.stop)
		gc.mu.Lock()
		defer gc.mu.Unlock()
		gc.running = false
		for gvr, m := range gc.monitors {
			close(m.stop)
			delete(gc.monitors, gvr)
		}
	})
}

func (gc *Controller) sync(ctx context.Context, key string) error {
	action, r, err := parseKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	gc.mu.RLock()
	mon, ok := gc.monitors[r.gvr]
	gc.mu.RUnlock()
	if !ok {
		return nil
	}
	inf := mon.inf
	cacheKey := r.name
	if r.namespace != "" {
		cacheKey = r.namespace + "/" + r.name
	}
	o, exists, err := inf.GetIndexer().GetByKey(cacheKey)
	if err != nil || !exists {
		return err
	}
	m, err := metaOf(o)
	if err != nil || m.GetUID() != r.uid {
		return nil
	}
	switch action {
	case actDelete:
		return gc.attemptToDelete(ctx, r, m)
	case actOrphan:
		return gc.orphanDependents(ctx, r, m)
	case actForeground:
		return gc.deleteDependents(ctx, r, m)
	}
	return controller.Permanent(fmt.Errorf("unknown action %q", action))
}

func (gc *Controller) attemptToDelete(ctx context.Context, r ref, m metav1.Object) error {
	if m.GetDeletionTimestamp() != nil || len(m.GetOwnerReferences()) == 0 {
		return nil
	}
	states := map[types.UID]OwnerState{}
	for _, o := range m.GetOwnerReferences() {
		st, err := gc.ownerState(ctx, o, m.GetNamespace())
		if err != nil {
			return err
		}
		states[o.UID] = st
	}
	hasDependents := len(gc.dependents(m.GetUID())) > 0
	v := Decide(m, states, hasDependents)
	log := gc.queue.Logger().With("object", r.gvr.Resource+"/"+cacheKeyOf(r))
	switch {
	case len(v.RemoveOwners) > 0:
		log.Info("removing references to owners that are gone or deleting", "owners", fmt.Sprint(v.RemoveOwners))
		return gc.patchOwners(ctx, r, v.RemoveOwners...)
	case v.Delete:
		log.Info("deleting: its owners are gone", "propagation", v.Policy)
		policy := v.Policy
		err := gc.resource(r).Delete(ctx, r.name, metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &r.uid}})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			return fmt.Errorf("delete %s %s: %w", r.gvr.Resource, cacheKeyOf(r), err)
		}
	}
	return nil
}

func cacheKeyOf(r ref) string {
	if r.namespace == "" {
		return r.name
	}
	return r.namespace + "/" + r.name
}

// ownerState looks an owner up in the cache, and, when it is not there,
// in the API server: an owner created a moment ago must not look gone.
func (gc *Controller) ownerState(ctx context.Context, o metav1.OwnerReference, namespace string) (OwnerState, error) {
	gv, err := schema.ParseGroupVersion(o.APIVersion)
	if err != nil {
		return Dangling, nil
	}
	gc.mu.RLock()
	gvr, ok := gc.kinds[gv.WithKind(o.Kind)]
	isNamespaced := gc.namespaced[gvr]
	gc.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("owner kind %s %s is not served (yet?)", o.APIVersion, o.Kind)
	}
	if !isNamespaced {
		namespace = ""
	}
	var owner metav1.Object
	if _, m, ok := gc.cached(o.UID); ok {
		owner = m
	} else {
		live, err := gc.dynamic.Resource(gvr).Namespace(namespace).Get(ctx, o.Name, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			return Dangling, nil
		}
		if err != nil {
			return 0, fmt.Errorf("look up owner %s %s: %w", o.Kind, o.Name, err)
		}
		owner = live
	}
	if owner.GetUID() != o.UID {
		return Dangling, nil
	}
	if owner.GetDeletionTimestamp() != nil && slices.Contains(owner.GetFinalizers(), metav1.FinalizerDeleteDependents) {
		return Waiting, nil
	}
	return Solid, nil
}

func (gc *Controller) resource(r ref) dynamic.ResourceInterface {
	return gc.dynamic.Resource(r.gvr).Namespace(r.namespace)
}

// patchOwners takes the references to uids off an object's
// ownerReferences; removeFinalizer takes a finalizer off. Both read the
// object live and write with its resourceVersion (the cache may lag
// behind other writers), retrying on conflict.
func (gc *Controller) patchOwners(ctx context.Context, r ref, uids ...types.UID) error {
	return gc.patchLive(ctx, r, func(m metav1.Object) (map[string]any, bool) {
		refs := WithoutOwners(m.GetOwnerReferences(), uids...)
		return map[string]any{"ownerReferences": refs}, len(refs) != len(m.GetOwnerReferences())
	})
}

func (gc *Controller) removeFinalizer(ctx context.Context, r ref, f string) error {
	return gc.patchLive(ctx, r, func(m metav1.Object) (map[string]any, bool) {
		rest := slices.DeleteFunc(slices.Clone(m.GetFinalizers()), func(x string) bool { return x == f })
		return map[string]any{"finalizers": rest}, len(rest) != len(m.GetFinalizers())
	})
}

func (gc *Controller) patchLive(ctx context.Context, r ref, change func(metav1.Object) (map[string]any, bool)) error {
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live, err := gc.resource(r).Get(ctx, r.name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if live.GetUID() != r.uid {
			return nil
		}
		meta, changed := change(live)
		if !changed {
			return nil
		}
		meta["uid"], meta["resourceVersion"] = live.GetUID(), live.GetResourceVersion()
		body, err := json.Marshal(map[string]any{"metadata": meta})
		if err != nil {
			return err
		}
		_, err = gc.resource(r).Patch(ctx, r.name, types.MergePatchType, body, metav1.PatchOptions{})
		return err
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("patch %s %s: %w", r.gvr.Resource, cacheKeyOf(r), err)
	}
	return nil
}

// orphanDependents removes the owner's references from its dependents,
// then its orphan finalizer.
func (gc *Controller) orphanDependents(ctx context.Context, r ref, owner metav1.Object) error {
	if owner.GetDeletionTimestamp() == nil || !slices.Contains(owner.GetFinalizers(), metav1.FinalizerOrphanDependents) {
		return nil
	}
	var errs []error
	for gvr, deps := range gc.dependents(owner.GetUID()) {
		for _, d := range deps {
			if err := gc.patchOwners(ctx, refOf(gvr, d), owner.GetUID()); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	gc.queue.Logger().Info("orphaned the dependents", "object", r.gvr.Resource+"/"+cacheKeyOf(r))
	return gc.removeFinalizer(ctx, r, metav1.FinalizerOrphanDependents)
}

// deleteDependents deletes the dependents of an owner deleted in the
// foreground and removes its finalizer once no dependent blocks it.
func (gc *Controller) deleteDependents(ctx context.Context, r ref, owner metav1.Object) error {
	if owner.GetDeletionTimestamp() == nil || !slices.Contains(owner.GetFinalizers(), metav1.FinalizerDeleteDependents) {
		return nil
	}
	var all []metav1.Object
	for gvr, deps := range gc.dependents(owner.GetUID()) {
		for _, d := range deps {
			all = append(all, d)
			if d.GetDeletionTimestamp() == nil {
				gc.queue.Add(refOf(gvr, d).key(actDelete))
			}
		}
	}
	if blocking := Blocking(owner.GetUID(), all); len(blocking) > 0 {
		// Each one's deletion enqueues the owner again; a slow one is
		// looked at again anyway.
		return controller.RequeueAfter(5 * time.Second)
	}
	return gc.removeFinalizer(ctx, r, metav1.FinalizerDeleteDependents)
}
