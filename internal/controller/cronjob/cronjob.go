// Package cronjob is the CronJob controller: it starts a CronJob's Jobs
// on its schedule, as its concurrency policy allows, and keeps the
// finished ones to its history limits, as upstream's (v2) controller.
package cronjob

import (
	"context"
	"errors"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	batchlisters "k8s.io/client-go/listers/batch/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/record"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "cronjob-controller"
	Alias = "cronjob"
)

// EventSource is the component of the controller's events.
const EventSource = "cronjob-controller"

// Controller is the CronJob controller.
type Controller struct {
	client    kubernetes.Interface
	cjLister  batchlisters.CronJobLister
	jobLister batchlisters.JobLister
	recorder  record.EventRecorder
	clock     clock.PassiveClock
	queue     *controller.Queue
}

// New builds the controller on the manager's informers.
func New(c controller.Context) (controller.Runner, error) { return newController(c) }

func newController(c controller.Context) (*Controller, error) {
	cjInf := c.Informers.Batch().V1().CronJobs()
	jobInf := c.Informers.Batch().V1().Jobs()
	cc := &Controller{
		client:    c.Client,
		cjLister:  cjInf.Lister(),
		jobLister: jobInf.Lister(),
		recorder:  c.Recorder(EventSource),
		clock:     c.Clock,
	}
	q, err := controller.New(controller.Config{Name: Name, Sync: cc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	cc.queue = q
	if _, err := cjInf.Informer().AddEventHandler(q.Handler()); err != nil {
		return nil, err
	}
	owner := func(obj any) {
		if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = tomb.Obj
		}
		j, ok := obj.(*batchv1.Job)
		if !ok {
			return
		}
		if ref := metav1.GetControllerOfNoCopy(j); ref != nil && ref.Kind == "CronJob" && ref.APIVersion == batchv1.SchemeGroupVersion.String() {
			q.Add(j.Namespace + "/" + ref.Name)
		}
	}
	if _, err := jobInf.Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    owner,
		UpdateFunc: func(_, cur any) { owner(cur) },
		DeleteFunc: owner,
	}); err != nil {
		return nil, err
	}
	return cc, nil
}

// Run syncs CronJobs with workers goroutines until ctx ends.
func (cc *Controller) Run(ctx context.Context, workers int) { cc.queue.Run(ctx, workers) }

// ShutDown stops the controller's queue for good.
func (cc *Controller) ShutDown() { cc.queue.ShutDown() }

func (cc *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	cached, err := cc.cjLister.CronJobs(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	all, err := cc.jobLister.Jobs(ns).List(labels.Everything())
	if err != nil {
		return err
	}
	var jobs []*batchv1.Job
	seen := map[types.UID]bool{}
	for _, j := range all {
		if ref := metav1.GetControllerOfNoCopy(j); ref != nil && ref.UID == cached.UID {
			jobs = append(jobs, j)
			seen[j.UID] = true
		}
	}
	// An active Job missing from the cache may only be slow to show:
	// ask the API server before dropping it.
	missing := map[types.UID]bool{}
	for _, r := range cached.Status.Active {
		if seen[r.UID] {
			continue
		}
		j, err := cc.client.BatchV1().Jobs(r.Namespace).Get(ctx, r.Name, metav1.GetOptions{})
		switch {
		case apierrors.IsNotFound(err) || err == nil && j.UID != r.UID:
			missing[r.UID] = true
		case err != nil:
			return fmt.Errorf("get active job %s/%s: %w", r.Namespace, r.Name, err)
		}
	}
	log := cc.queue.Logger().With("cronjob", key)
	plan := Decide(Input{CronJob: cached, Jobs: jobs, Missing: missing, Now: cc.clock.Now()})
	st := plan.Status

	var errs []error
	for _, j := range plan.DeleteActive {
		errs = append(errs, cc.deleteJob(ctx, cached, j))
	}
	if plan.Create != nil && errors.Join(errs...) == nil {
		created, err := cc.client.BatchV1().Jobs(ns).Create(ctx, plan.Create, metav1.CreateOptions{})
		switch {
		case err == nil:
			cc.recorder.Eventf(cached, v1.EventTypeNormal, ReasonSuccessfulCreate, "Created job %v", created.Name)
			st.Active = append(st.Active, jobRef(created))
			st.LastScheduleTime = &metav1.Time{Time: plan.Scheduled}
		case apierrors.IsAlreadyExists(err):
			// Created by an earlier sync whose status write was lost; the
			// next sync sees it through the cache.
			log.Info("job already exists", "job", plan.Create.Name)
		case apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause):
		default:
			cc.recorder.Eventf(cached, v1.EventTypeWarning, ReasonFailedCreate, "Error creating job: %v", err)
			errs = append(errs, fmt.Errorf("create job %s: %w", plan.Create.Name, err))
		}
	}
	if !equality.Semantic.DeepEqual(cached.Status, st) {
		next := cached.DeepCopy()
		next.Status = st
		if _, err := cc.client.BatchV1().CronJobs(ns).UpdateStatus(ctx, next, metav1.UpdateOptions{}); err != nil && !apierrors.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("update status of cronjob %s: %w", key, err))
		}
	}
	for _, e := range plan.Events {
		cc.recorder.Event(cached, e.Type, e.Reason, e.Message)
	}
	for _, j := range plan.Cleanup {
		errs = append(errs, cc.deleteJob(ctx, cached, j))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if plan.RequeueAfter > 0 {
		return controller.RequeueAfter(plan.RequeueAfter)
	}
	return nil
}

// deleteJob deletes a Job and its pods (background propagation).
func (cc *Controller) deleteJob(ctx context.Context, cj *batchv1.CronJob, j *batchv1.Job) error {
	bg := metav1.DeletePropagationBackground
	err := cc.client.BatchV1().Jobs(j.Namespace).Delete(ctx, j.Name, metav1.DeleteOptions{
		PropagationPolicy: &bg, Preconditions: &metav1.Preconditions{UID: &j.UID},
	})
	switch {
	case err == nil:
		cc.recorder.Eventf(cj, v1.EventTypeNormal, ReasonSuccessfulDelete, "Deleted job %v", j.Name)
		return nil
	case apierrors.IsNotFound(err):
		return nil
	default:
		cc.recorder.Eventf(cj, v1.EventTypeWarning, ReasonFailedDelete, "Deleted job: %v", err)
		return fmt.Errorf("delete job %s/%s: %w", j.Namespace, j.Name, err)
	}
}
