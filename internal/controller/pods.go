package controller

import (
	"context"
	"errors"
	"sync"

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
	sent, err := SlowStart(len(pods), func(i int) error { return pc.create(ctx, owner, key, pods[i]) })
	for range len(pods) - sent {
		pc.Expectations.CreationObserved(key)
	}
	return err
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
	keys := make([]string, len(pods))
	for i, p := range pods {
		keys[i] = p.Namespace + "/" + p.Name
	}
	pc.Expectations.ExpectDeletions(key, keys)
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
