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

// Upstream's event reasons for the pods an owner creates and deletes.
const (
	ReasonSuccessfulCreate = "SuccessfulCreate"
	ReasonFailedCreate     = "FailedCreate"
	ReasonSuccessfulDelete = "SuccessfulDelete"
	ReasonFailedDelete     = "FailedDelete"
)

// PodControl creates and deletes the pods of an owner (a ReplicaSet, a
// DaemonSet) with upstream's events on the owner, and takes what never
// reaches the API server off the owner's expectations (upstream's
// RealPodControl). The caller records the expectations before.
type PodControl struct {
	Client       kubernetes.Interface
	Recorder     record.EventRecorder
	Expectations *Expectations
}

// CreateBatches creates n pods, pod(i) building the i-th, in slow-start
// batches (1, 2, 4, ...), stopping at the first batch with a failure;
// the creations never sent are taken off key's expectations so that the
// next sync retries them.
func (pc *PodControl) CreateBatches(ctx context.Context, owner runtime.Object, key string, n int, pod func(i int) *v1.Pod) error {
	sent := 0
	for _, batch := range SlowStartBatches(n) {
		errs := make([]error, batch)
		var wg sync.WaitGroup
		for i := range batch {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = pc.create(ctx, owner, key, pod(sent+i))
			}()
		}
		wg.Wait()
		sent += batch
		if err := errors.Join(errs...); err != nil {
			for range n - sent {
				pc.Expectations.CreationObserved(key)
			}
			return err
		}
	}
	return nil
}

func (pc *PodControl) create(ctx context.Context, owner runtime.Object, key string, pod *v1.Pod) error {
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

// Delete deletes pods in parallel, each with a UID precondition; a pod
// already gone is no error.
func (pc *PodControl) Delete(ctx context.Context, owner runtime.Object, key string, pods []*v1.Pod) error {
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
				pc.Expectations.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
			default:
				pc.Expectations.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
				pc.Recorder.Eventf(owner, v1.EventTypeWarning, ReasonFailedDelete, "Error deleting: %v", err)
				errs[i] = err
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
