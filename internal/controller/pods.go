package controller

import (
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

func podReadyCondition(p *v1.Pod) *v1.PodCondition {
	for i := range p.Status.Conditions {
		if p.Status.Conditions[i].Type == v1.PodReady {
			return &p.Status.Conditions[i]
		}
	}
	return nil
}

// IsPodReady reports the pod's Ready condition.
func IsPodReady(p *v1.Pod) bool {
	c := podReadyCondition(p)
	return c != nil && c.Status == v1.ConditionTrue
}

// PodReadySince is when a ready pod became ready; the zero time when it
// is not ready.
func PodReadySince(p *v1.Pod) time.Time {
	if c := podReadyCondition(p); c != nil && c.Status == v1.ConditionTrue {
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

// SlowStartInitialBatchSize is the first batch of creations; each batch
// that fully succeeds doubles the next (upstream's slow start), so a
// failing template costs one request, not hundreds.
const SlowStartInitialBatchSize = 1

// SlowStartBatches splits n creations into upstream's slow-start
// batches: 1, 2, 4, ... and the rest.
func SlowStartBatches(n int) []int {
	var out []int
	for size := SlowStartInitialBatchSize; n > 0; size *= 2 {
		b := min(size, n)
		out = append(out, b)
		n -= b
	}
	return out
}

// OwnedPods is the pod informer handler of a controller whose objects
// control pods through a controller reference (ReplicaSets, DaemonSets).
// A pod's event enqueues its controller and counts toward that
// controller's expectations; an orphan's enqueues the owners that could
// adopt it; a pod that becomes ready is looked at again once its
// owner's minReadySeconds have passed.
type OwnedPods struct {
	// Kind is the owners' kind (apps/v1 ReplicaSet...). Required.
	Kind schema.GroupVersionKind
	// Queue receives the owners' keys. Required.
	Queue *Queue
	// Expectations count the pods seen created and deleted. Required.
	Expectations *Expectations
	// Adopters returns the keys of the owners in ns whose selector
	// matches an orphan with labels. Required.
	Adopters func(ns string, labels map[string]string) []string
	// MinReadySeconds is the owner's minReadySeconds (0 when it has
	// none, or is gone). Required.
	MinReadySeconds func(ns, name string) int32
}

// OwnerKey returns the key of the owner of Kind controlling obj, if any.
func (h *OwnedPods) OwnerKey(obj metav1.Object) (string, bool) {
	ref := metav1.GetControllerOfNoCopy(obj)
	if ref == nil || ref.Kind != h.Kind.Kind || ref.APIVersion != h.Kind.GroupVersion().String() {
		return "", false
	}
	return obj.GetNamespace() + "/" + ref.Name, true
}

// Handler returns the informer handler.
func (h *OwnedPods) Handler() cache.ResourceEventHandlerFuncs {
	return cache.ResourceEventHandlerFuncs{AddFunc: h.OnAdd, UpdateFunc: h.OnUpdate, DeleteFunc: h.OnDelete}
}

// OnAdd handles a pod seen created.
func (h *OwnedPods) OnAdd(obj any) {
	pod := obj.(*v1.Pod)
	if pod.DeletionTimestamp != nil {
		h.OnDelete(pod)
		return
	}
	if key, ok := h.OwnerKey(pod); ok {
		h.Expectations.CreationObserved(key)
		h.Queue.Add(key)
		return
	}
	h.enqueueAdopters(pod)
}

// OnUpdate handles a pod's change.
func (h *OwnedPods) OnUpdate(old, cur any) {
	o, c := old.(*v1.Pod), cur.(*v1.Pod)
	if o.ResourceVersion == c.ResourceVersion {
		return
	}
	if c.DeletionTimestamp != nil {
		// Being deleted gracefully: its owner replaces it now, not once
		// the kubelet is done.
		h.OnDelete(c)
		if !equality.Semantic.DeepEqual(o.Labels, c.Labels) {
			if key, ok := h.OwnerKey(o); ok {
				h.Queue.Add(key)
			}
		}
		return
	}
	oldKey, oldOwned := h.OwnerKey(o)
	key, owned := h.OwnerKey(c)
	if oldOwned && oldKey != key {
		h.Queue.Add(oldKey)
	}
	if owned {
		h.Queue.Add(key)
		if !IsPodReady(o) && IsPodReady(c) {
			if s := h.MinReadySeconds(c.Namespace, metav1.GetControllerOfNoCopy(c).Name); s > 0 {
				h.Queue.AddAfter(key, time.Duration(s)*time.Second+time.Second)
			}
		}
		return
	}
	if !equality.Semantic.DeepEqual(o.Labels, c.Labels) || oldOwned {
		h.enqueueAdopters(c)
	}
}

// OnDelete handles a pod's deletion (or a tombstone).
func (h *OwnedPods) OnDelete(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok {
		tomb, ok := obj.(cache.DeletedFinalStateUnknown)
		if !ok {
			return
		}
		if pod, ok = tomb.Obj.(*v1.Pod); !ok {
			return
		}
	}
	key, ok := h.OwnerKey(pod)
	if !ok {
		return
	}
	h.Expectations.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
	h.Queue.Add(key)
}

func (h *OwnedPods) enqueueAdopters(pod *v1.Pod) {
	if len(pod.Labels) == 0 {
		return
	}
	for _, key := range h.Adopters(pod.Namespace, pod.Labels) {
		h.Queue.Add(key)
	}
}

// Selecting returns the namespace/name keys of the objects whose label
// selector (read by selector) matches lbls; an empty or invalid
// selector matches nothing.
func Selecting[T metav1.Object](objs []T, selector func(T) *metav1.LabelSelector, lbls map[string]string) []string {
	var out []string
	for _, o := range objs {
		sel, err := metav1.LabelSelectorAsSelector(selector(o))
		if err != nil || sel.Empty() || !sel.Matches(labels.Set(lbls)) {
			continue
		}
		out = append(out, o.GetNamespace()+"/"+o.GetName())
	}
	return out
}
