// Package job is the Job controller: it runs a Job's pods to
// completion (parallelism, completions, NonIndexed and Indexed), retries
// failures up to backoffLimit, enforces activeDeadlineSeconds and
// suspension, and tracks finished pods with the
// batch.kubernetes.io/job-tracking finalizer, as upstream.
package job

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "job-controller"
	Alias = "job"
)

// EventSource is the component of the controller's events.
const EventSource = "job-controller"

// Controller is the Job controller.
type Controller struct {
	client       kubernetes.Interface
	jobLister    batchlisters.JobLister
	podLister    corelisters.PodLister
	recorder     record.EventRecorder
	clock        clock.PassiveClock
	expectations *controller.Expectations
	pods         controller.PodControl
	removing     *uidSet
	queue        *controller.Queue
	// orphans are pods with the tracking finalizer whose controller is
	// not a Job any more (upstream's orphan queue).
	orphans *controller.Queue
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	jobInf := c.Informers.Batch().V1().Jobs()
	podInf := c.Informers.Core().V1().Pods()
	jc := &Controller{
		client:       c.Client,
		jobLister:    jobInf.Lister(),
		podLister:    podInf.Lister(),
		recorder:     c.Recorder(EventSource),
		clock:        c.Clock,
		expectations: controller.NewExpectations(c.Clock),
		removing:     &uidSet{m: map[types.UID]bool{}},
	}
	jc.pods = controller.PodControl{Client: c.Client, Recorder: jc.recorder, Expectations: jc.expectations}
	q, err := controller.New(controller.Config{Name: Name, Sync: jc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	jc.queue = q
	if jc.orphans, err = controller.New(controller.Config{Name: Name + "-orphan-pods", Sync: jc.syncOrphan, Logger: c.Logger, Clock: c.Clock}); err != nil {
		return nil, err
	}
	if _, err := jobInf.Informer().AddEventHandler(q.Handler()); err != nil {
		return nil, err
	}
	if _, err := podInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    jc.addPod,
		UpdateFunc: func(_, cur any) { jc.updatePod(cur) },
		DeleteFunc: jc.deletePod,
	}); err != nil {
		return nil, err
	}
	return jc, nil
}

// Run syncs Jobs with workers goroutines, and orphan pods with one,
// until ctx ends.
func (jc *Controller) Run(ctx context.Context, workers int) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		jc.orphans.Run(ctx, 1)
	}()
	jc.queue.Run(ctx, workers)
	wg.Wait()
}

// ShutDown stops the controller's queues for good.
func (jc *Controller) ShutDown() {
	jc.queue.ShutDown()
	jc.orphans.ShutDown()
}

// uidSet is the pods whose tracking finalizer removal is in flight.
type uidSet struct {
	mu sync.Mutex
	m  map[types.UID]bool
}

func (s *uidSet) add(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[uid] = true
}

func (s *uidSet) remove(uid types.UID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, uid)
}

func (s *uidSet) has(uid types.UID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[uid]
}

// ownerKey returns the key of the Job controlling pod, if any.
func ownerKey(pod *v1.Pod) (string, bool) {
	ref := metav1.GetControllerOfNoCopy(pod)
	if ref == nil || ref.Kind != "Job" || ref.APIVersion != batchv1.SchemeGroupVersion.String() {
		return "", false
	}
	return pod.Namespace + "/" + ref.Name, true
}

func (jc *Controller) addPod(obj any) {
	pod := obj.(*v1.Pod)
	if key, ok := ownerKey(pod); ok {
		jc.expectations.CreationObserved(key)
	}
	jc.updatePod(pod)
}

func (jc *Controller) updatePod(obj any) {
	pod := obj.(*v1.Pod)
	if !slices.Contains(pod.Finalizers, batchv1.JobTrackingFinalizer) {
		jc.removing.remove(pod.UID)
	}
	key, ok := ownerKey(pod)
	if !ok {
		if hasFinalizer(pod, jc.removing.has) {
			// Orphaned (e.g. by a deletion with propagation Orphan).
			jc.orphans.Enqueue(pod)
		}
		return
	}
	if pod.DeletionTimestamp != nil {
		jc.expectations.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
	}
	jc.queue.Add(key)
}

// syncOrphan takes the tracking finalizer off a pod that no Job
// controls any more: no Job will count it.
func (jc *Controller) syncOrphan(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	pod, err := jc.podLister.Pods(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if _, owned := ownerKey(pod); owned || !hasFinalizer(pod, jc.removing.has) {
		return nil
	}
	return jc.removeFinalizers(ctx, []*v1.Pod{pod})
}

func (jc *Controller) deletePod(obj any) {
	pod, ok := controller.Deleted[*v1.Pod](obj)
	if !ok {
		return
	}
	jc.removing.remove(pod.UID)
	if key, ok := ownerKey(pod); ok {
		jc.expectations.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
		jc.queue.Add(key)
	}
}

func (jc *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	all, err := jc.podLister.Pods(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	cached, err := jc.jobLister.Jobs(ns).Get(name)
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	// Pods of a Job of this name that is gone (deleted, perhaps made
	// again with a new UID): their outcomes no longer matter.
	var pods, orphans []*v1.Pod
	for _, p := range all {
		if k, ok := ownerKey(p); !ok || k != key {
			continue
		}
		switch {
		case cached != nil && metav1.GetControllerOfNoCopy(p).UID == cached.UID:
			pods = append(pods, p)
		case hasFinalizer(p, jc.removing.has):
			orphans = append(orphans, p)
		}
	}
	if err := jc.removeFinalizers(ctx, orphans); err != nil {
		return err
	}
	if cached == nil {
		jc.expectations.Delete(key)
		return nil
	}
	log := jc.queue.Logger().With("job", key)
	plan := Decide(Input{Job: cached, Pods: pods, Removing: jc.removing.has,
		CanManage: jc.expectations.Satisfied(key), Now: jc.clock.Now()})

	create := make([]*v1.Pod, len(plan.Create))
	for i, ix := range plan.Create {
		create[i] = PodFromTemplate(cached, ix)
	}
	manageErr := errors.Join(jc.pods.Delete(ctx, cached, key, plan.Delete), jc.pods.Create(ctx, cached, key, create))
	if manageErr != nil {
		log.Info("could not create or delete pods", "err", manageErr)
	}
	if !equality.Semantic.DeepEqual(cached.Status, plan.Status) {
		next := cached.DeepCopy()
		next.Status = plan.Status
		// Optimistic concurrency: a status computed from a stale Job
		// must not overwrite counts.
		if _, err := jc.client.BatchV1().Jobs(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil {
			if apierrors.IsNotFound(err) {
				return nil
			}
			return errors.Join(manageErr, fmt.Errorf("update status of job %s: %w", key, err))
		}
	}
	for _, e := range plan.Events {
		jc.recorder.Event(cached, e.Type, e.Reason, e.Message)
	}
	if err := jc.removeFinalizers(ctx, plan.Finalize); err != nil {
		return errors.Join(manageErr, err)
	}
	if manageErr != nil {
		return manageErr
	}
	if plan.RequeueAfter > 0 {
		return controller.RequeueAfter(plan.RequeueAfter)
	}
	return nil
}

// removeFinalizers takes the tracking finalizer off pods; until the
// cache shows it gone, the pods count as finalizer-free.
func (jc *Controller) removeFinalizers(ctx context.Context, pods []*v1.Pod) error {
	patch := []byte(fmt.Sprintf(`{"metadata":{"$deleteFromPrimitiveList/finalizers":[%q]}}`, batchv1.JobTrackingFinalizer))
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, pod := range pods {
		jc.removing.add(pod.UID)
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := jc.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			if err != nil && !apierrors.IsNotFound(err) {
				jc.removing.remove(pod.UID)
				errs[i] = fmt.Errorf("remove the tracking finalizer of pod %s/%s: %w", pod.Namespace, pod.Name, err)
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
