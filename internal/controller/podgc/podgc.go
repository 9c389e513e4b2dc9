// Package podgc is the pod garbage collector: every 20 s it deletes the
// oldest terminated pods over a threshold, pods bound to nodes that no
// longer exist, and pods being deleted that were never scheduled.
package podgc

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	corelisters "k8s.io/client-go/listers/core/v1"
	"k8s.io/utils/clock"
	"k8s.io/utils/ptr"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Name is the controller's canonical name in --controllers (upstream's);
// Alias is its older name, accepted too.
const (
	Name  = "pod-garbage-collector-controller"
	Alias = "podgc"
)

// key is the one key of this controller: a pass over every pod.
const key = "all"

// Controller is the pod garbage collector.
type Controller struct {
	client     kubernetes.Interface
	podLister  corelisters.PodLister
	nodeLister corelisters.NodeLister
	clock      clock.PassiveClock
	threshold  int
	queue      *controller.Queue

	mu           sync.Mutex
	missingSince map[string]time.Time
}

// New builds the collector on the manager's informers.
func New(c controller.Context) (controller.Runner, error) {
	return newController(c, DefaultTerminatedPodThreshold)
}

func newController(c controller.Context, threshold int) (*Controller, error) {
	gc := &Controller{
		client:       c.Client,
		podLister:    c.Informers.Core().V1().Pods().Lister(),
		nodeLister:   c.Informers.Core().V1().Nodes().Lister(),
		clock:        c.Clock,
		threshold:    threshold,
		missingSince: map[string]time.Time{},
	}
	q, err := controller.New(controller.Config{Name: Name, Sync: gc.sync, Logger: c.Logger, Clock: c.Clock})
	if err != nil {
		return nil, err
	}
	gc.queue = q
	// Asking for the informers registers them with the shared factory.
	c.Informers.Core().V1().Pods().Informer()
	c.Informers.Core().V1().Nodes().Informer()
	q.Add(key)
	return gc, nil
}

// Run collects until ctx ends.
func (gc *Controller) Run(ctx context.Context, workers int) { gc.queue.Run(ctx, 1) }

// ShutDown stops the collector's queue for good.
func (gc *Controller) ShutDown() { gc.queue.ShutDown() }

func (gc *Controller) sync(ctx context.Context, _ string) error {
	pods, err := gc.podLister.List(labels.Everything())
	if err != nil {
		return err
	}
	gc.mu.Lock()
	plan := Decide(Input{
		Pods: pods, MissingSince: gc.missingSince, Threshold: gc.threshold, Now: gc.clock.Now(),
		NodeExists: func(name string) bool {
			_, err := gc.nodeLister.Get(name)
			return err == nil
		},
	})
	gc.mu.Unlock()
	var errs []error
	for _, p := range plan.Terminated {
		errs = append(errs, gc.forceDelete(ctx, p, "terminated pods over the threshold"))
	}
	gone := map[string]bool{}
	for _, p := range plan.Orphaned {
		node := p.Spec.NodeName
		if _, seen := gone[node]; !seen {
			// The cache may lag: only a node the API server does not have
			// is gone.
			_, err := gc.client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
			gone[node] = apierrors.IsNotFound(err)
		}
		if !gone[node] {
			continue
		}
		errs = append(errs, gc.markFailed(ctx, p), gc.forceDelete(ctx, p, "its node "+node+" no longer exists"))
	}
	for _, p := range plan.UnscheduledTerminating {
		errs = append(errs, gc.forceDelete(ctx, p, "being deleted and never scheduled"))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	return controller.RequeueAfter(CheckPeriod)
}

// markFailed records why the pod goes, as upstream: phase Failed and a
// DisruptionTarget condition with reason DeletionByPodGC.
func (gc *Controller) markFailed(ctx context.Context, p *v1.Pod) error {
	if terminated(p) {
		return nil
	}
	next := p.DeepCopy()
	next.Status.Phase = v1.PodFailed
	next.Status.Conditions = append(next.Status.Conditions, v1.PodCondition{
		Type: v1.DisruptionTarget, Status: v1.ConditionTrue, Reason: "DeletionByPodGC",
		Message: "PodGC: node no longer exists", LastTransitionTime: metav1.NewTime(gc.clock.Now()),
	})
	_, err := gc.client.CoreV1().Pods(p.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("mark pod %s/%s failed: %w", p.Namespace, p.Name, err)
	}
	return nil
}

func (gc *Controller) forceDelete(ctx context.Context, p *v1.Pod, why string) error {
	gc.queue.Logger().Info("deleting pod", "pod", p.Namespace+"/"+p.Name, "reason", why)
	err := gc.client.CoreV1().Pods(p.Namespace).Delete(ctx, p.Name, metav1.DeleteOptions{
		GracePeriodSeconds: ptr.To[int64](0), Preconditions: &metav1.Preconditions{UID: &p.UID},
	})
	if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
		return fmt.Errorf("delete pod %s/%s: %w", p.Namespace, p.Name, err)
	}
	return nil
}
