package controller

import (
	"time"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"
)

// OwnedPods is the pod informer handler of a controller whose objects
// control pods through a controller reference (ReplicaSets, DaemonSets,
// StatefulSets).
// A pod's event enqueues its controller and counts toward that
// controller's expectations; an orphan's enqueues the owners that could
// adopt it; a pod that becomes ready is looked at again once its
// owner's minReadySeconds have passed.
type OwnedPods struct {
	// Kind is the owners' kind (apps/v1 ReplicaSet...). Required.
	Kind schema.GroupVersionKind
	// Queue receives the owners' keys. Required.
	Queue *Queue
	// Expectations count the pods seen created and deleted; nil for an
	// owner that keeps none (StatefulSets).
	Expectations *Expectations
	// Adopters returns the keys of the owners that could adopt pod, an
	// orphan with labels (see Selecting). Required.
	Adopters func(pod *v1.Pod) []string
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
		if h.Expectations != nil {
			h.Expectations.CreationObserved(key)
		}
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
	pod, ok := Deleted[*v1.Pod](obj)
	if !ok {
		return
	}
	key, ok := h.OwnerKey(pod)
	if !ok {
		return
	}
	if h.Expectations != nil {
		h.Expectations.DeletionObserved(key, pod.Namespace+"/"+pod.Name)
	}
	h.Queue.Add(key)
}

func (h *OwnedPods) enqueueAdopters(pod *v1.Pod) {
	if len(pod.Labels) == 0 {
		return
	}
	for _, key := range h.Adopters(pod) {
		h.Queue.Add(key)
	}
}
