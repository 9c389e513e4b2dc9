package controller

import (
	"context"
	"errors"
	"sync"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/record"
)

// Upstream's event reasons for a controller's pods.
const (
	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonFailedCreate     = "FailedCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
	ReasonFailedDelete     = "FailedDelete"
)

// PodControl creates and deletes the pods of controllers that own pods
// (ReplicaSet, Job), as upstream's controller.PodControl together with
// the steps its callers share: expectations recorded before the writes,
// creations in slow-start batches, upstream's events on the owner.
type PodControl struct {
	Client       kubernetes.Interface
	Recorder     record.EventRecorder
	Expectations *Expectations
}

// Create creates pods for the owner whose key is key, in slow-start
// batches, stopping at the first batch with a failure; the creations
// never sent or failed are taken off the expectations so that the next
// sync retries them. A namespace being terminated is not an error.
func (pc PodControl) Create(ctx context.Context, owner runtime.Object, key string, pods []*v1.Pod) error {
	if len(pods) == 0 {
		return nil
	}
	pc.Expectations.ExpectCreations(key, len(pods))
	return pc.createAll(ctx, owner, key, pods)
}

// CreateAndDelete creates and deletes pods in one sync for the owner
// whose key is key (the DaemonSet controller does both), recording both
// in its expectations at once, then behaves as Create and Delete.
func (pc PodControl) CreateAndDelete(ctx context.Context, owner runtime.Object, key string, create, del []*v1.Pod) error {
	pc.Expectations.Expect(key, len(create), podKeys(del))
	return errors.Join(pc.createAll(ctx, owner, key, create), pc.deleteAll(ctx, owner, key, del))
}

// createAll sends the creations whose expectations are recorded.
func (pc PodControl) createAll(ctx context.Context, owner runtime.Object, key string, pods []*v1.Pod) error {
	sent, err := SlowStart(len(pods), func(i int) error { return pc.create(ctx, owner, key, pods[i]) })
	for range len(pods) - sent {
		pc.Expectations.CreationObserved(key)
	}
	return err
}

func podKeys(pods []*v1.Pod) []string {
	keys := make([]string, len(pods))
	for i, p := range pods {
		keys[i] = p.Namespace + "/" + p.Name
	}
	return keys
}

func (pc PodControl) create(ctx context.Context, owner runtime.Object, key string, pod *v1.Pod) error {
	created, err := pc.Client.CoreV1().Pods(pod.Namespace).Create(ctx, pod, metav1.CreateOptions{})
	if err != nil {
		// The pod will never be observed.
		pc.Expectations.CreationObserved(key)
		if apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause) {
			// Creations in a terminating namespace fail until it is gone.
			return nil
		}
		pc.Recorder.Eventf(owner, v1.EventTypeWarning, ReasonFailedCreate, "Error creating: %v", err)
		return err
	}
	pc.Recorder.Eventf(owner, v1.EventTypeNormal, ReasonSuccessfulCreate, "Created pod: %v", created.Name)
	return nil
}

// Delete deletes pods (with a UID precondition) for the owner whose key
// is key, all at once; deletions that failed are taken off the
// expectations, and a pod already gone counts as deleted.
func (pc PodControl) Delete(ctx context.Context, owner runtime.Object, key string, pods []*v1.Pod) error {
	if len(pods) == 0 {
		return nil
	}
	pc.Expectations.ExpectDeletions(key, podKeys(pods))
	return pc.deleteAll(ctx, owner, key, pods)
}

// deleteAll sends the deletions whose expectations are recorded.
func (pc PodControl) deleteAll(ctx context.Context, owner runtime.Object, key string, pods []*v1.Pod) error {
	keys := podKeys(pods)
	errs := make([]error, len(pods))
	var wg sync.WaitGroup
	for i, pod := range pods {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := pc.Client.CoreV1().Pods(pod.Namespace).Delete(ctx, pod.Name, metav1.DeleteOptions{
				Preconditions: &metav1.Preconditions{UID: &pod.UID},
			})
			switch {
			case err == nil:
				pc.Recorder.Eventf(owner, v1.EventTypeNormal, ReasonSuccessfulDelete, "Deleted pod: %v", pod.Name)
			case apierrors.IsNotFound(err):
				pc.Expectations.DeletionObserved(key, keys[i])
			default:
				pc.Expectations.DeletionObserved(key, keys[i])
				pc.Recorder.Eventf(owner, v1.EventTypeWarning, ReasonFailedDelete, "Error deleting: %v", err)
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// PodReadyCondition is pod's Ready condition, nil when it has none.
func PodReadyCondition(p *v1.Pod) *v1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == v1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports the pod's Ready condition.
func IsPodReady(p *v1.Pod) bool {
	c := PodReadyCondition(p)
	return c != nil && c.Status == v1.ConditionTrue
}

// PodReadySince is when a ready pod became ready; the zero time when it
// is not ready.
func PodReadySince(p *v1.Pod) time.Time {
	if c := PodReadyCondition(p); c != nil && c.Status == v1.ConditionTrue {
		return c.LastTransitionTime.Time
	}
	return time.Time{}
}

// IsPodAvailable reports whether a pod has been ready for
// minReadySeconds (upstream's IsPodAvailable).
func IsPodAvailable(p *v1.Pod, minReadySeconds int32, now time.Time) bool {
	if !IsPodReady(p) {
		return false
	}
	if minReadySeconds == 0 {
		return true
	}
	t := PodReadySince(p)
	return !t.IsZero() && t.Add(time.Duration(minReadySeconds)*time.Second).Before(now)
}
