// Package ttlafterfinished is the TTL-after-finished controller: it
// deletes a finished Job (and, in the foreground, its pods) once
// spec.ttlSecondsAfterFinished has passed since it finished, as
// upstream's.
package ttlafterfinished

import (
	"context"
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "ttl-after-finished-controller"
	Alias = "ttlafterfinished"
)

// Controller is the TTL-after-finished controller.
type Controller struct {
	client    kubernetes.Interface
	jobLister batchlisters.JobLister
	clock     clock.PassiveClock
	queue     *controller.Queue
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	jobInf := c.Informers.Batch().V1().Jobs()
	tc := &Controller{client: c.Client, jobLister: jobInf.Lister(), clock: c.Clock}
	q, err := controller.New(controller.Config{Name: Name, Sync: tc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	tc.queue = q
	enqueue := func(obj any) {
		if j, ok := obj.(*batchv1.Job); ok && j.DeletionTimestamp == nil && j.Spec.TTLSecondsAfterFinished != nil && finished(j) {
			q.Enqueue(j)
		}
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    enqueue,
		UpdateFunc: func(_, cur any) { enqueue(cur) },
	}); err != nil {
		return nil, err
	}
	return tc, nil
}

// Run syncs Jobs with workers goroutines until ctx ends.
func (tc *Controller) Run(ctx context.Context, workers int) { tc.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (tc *Controller) ShutDown() { tc.queue.ShutDown() }

// Expiry says whether a Job's TTL has run out at now, and otherwise how
// long is left; a Job without a TTL, not finished, or being deleted
// never expires (ok false).
func Expiry(j *batchv1.Job, now time.Time) (expired bool, left time.Duration, ok bool) {
	if j.DeletionTimestamp != nil || j.Spec.TTLSecondsAfterFinished == nil || !finished(j) {
		return false, 0, false
	}
	at := finishTime(j).Add(time.Duration(*j.Spec.TTLSecondsAfterFinished) * time.Second)
	if left := at.Sub(now); left > 0 {
		return false, left, true
	}
	return true, 0, true
}

func (tc *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	cached, err := tc.jobLister.Jobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	expired, left, ok := Expiry(cached, tc.clock.Now())
	if !ok {
		return nil
	}
	if !expired {
		return controller.RequeueAfter(left)
	}
	// The cache may be stale (the TTL changed): check the live Job.
	fresh, err := tc.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	expired, left, ok = Expiry(fresh, tc.clock.Now())
	if !ok {
		return nil
	}
	if !expired {
		return controller.RequeueAfter(left)
	}
	fg := metav1.DeletePropagationForeground
	err = tc.client.BatchV1().Jobs(ns).Delete(ctx, name, metav1.DeleteOptions{
		PropagationPolicy: &fg, Preconditions: &metav1.Preconditions{UID: &fresh.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("delete expired job %s: %w", key, err)
	}
	tc.queue.Logger().Info("deleted the finished job: its TTL has passed", "job", key)
	return nil
}

func finished(j *batchv1.Job) bool { return !finishTime(j).IsZero() }

// finishTime is when the Job's Complete or Failed condition became
// true; zero if it has none.
func finishTime(j *batchv1.Job) time.Time {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == v1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
