package scheduler

import (
	v1 "k8s.io/api/core/v1"
	toolscache "k8s.io/client-go/tools/cache"
)

// The informer event handlers. They keep two views current: the cache
// (nodes, and pods bound to them, which take room) and the queue (pods of
// this scheduler waiting for a node); and they tell the queue about the
// cluster events that may make parked pods fit.

func assigned(pod *v1.Pod) bool { return pod.Spec.NodeName != "" }

// terminal pods (Succeeded, Failed) hold no room and wait for nothing:
// for the scheduler they are gone. Upstream leaves them out of its
// informer with a field selector; here a watch with a field selector
// costs the API server a decode of every pod event, so they are dropped
// on arrival instead.
func terminal(pod *v1.Pod) bool {
	return pod.Status.Phase == v1.PodSucceeded || pod.Status.Phase == v1.PodFailed
}

func (s *Scheduler) responsibleFor(pod *v1.Pod) bool {
	return pod.Spec.SchedulerName == s.cfg.SchedulerName
}

func (s *Scheduler) onPodAdd(obj any) {
	pod, ok := obj.(*v1.Pod)
	if !ok || terminal(pod) {
		return
	}
	if assigned(pod) {
		s.addBoundPod(pod)
		return
	}
	if s.responsibleFor(pod) {
		s.queue.Add(pod)
	}
}

func (s *Scheduler) onPodUpdate(oldObj, newObj any) {
	oldPod, ok1 := oldObj.(*v1.Pod)
	newPod, ok2 := newObj.(*v1.Pod)
	if !ok1 || !ok2 {
		return
	}
	switch {
	case terminal(oldPod):
		return
	case terminal(newPod):
		s.podGone(oldPod, false)
	case assigned(oldPod):
		if err := s.cache.UpdatePod(oldPod, newPod); err != nil {
			s.logger.Error("cache: updating a bound pod", "pod", podRef(newPod), "err", err)
		}
		s.queue.AssignedPodUpdated(oldPod, newPod)
	case assigned(newPod):
		// The binding arrived: confirm the assumption (or count a pod
		// someone else bound) and drop the pod from the queue.
		s.addBoundPod(newPod)
		if s.responsibleFor(oldPod) {
			s.queue.Delete(oldPod)
		}
	case s.responsibleFor(oldPod):
		if oldPod.ResourceVersion == newPod.ResourceVersion {
			return
		}
		if s.cache.IsAssumedPod(newPod) {
			// Being bound; only its deletion matters.
			if newPod.DeletionTimestamp != nil && oldPod.DeletionTimestamp == nil {
				s.forgetAssumed(newPod)
			}
			return
		}
		s.queue.Update(oldPod, newPod)
		if n := oldPod.Status.NominatedNodeName; n != "" && n != newPod.Status.NominatedNodeName {
			// The room it held on its nominated node is free again.
			s.queue.AssignedPodDeleted(oldPod)
		}
	}
}

func (s *Scheduler) onPodDelete(obj any) {
	switch t := obj.(type) {
	case *v1.Pod:
		if !terminal(t) { // a terminal pod was forgotten when it finished
			s.podGone(t, false)
		}
	case toolscache.DeletedFinalStateUnknown:
		if p, ok := t.Obj.(*v1.Pod); ok {
			s.podGone(p, true)
		}
	}
}

// podGone forgets a deleted or finished pod. A stale pod (the informer
// missed its last changes) may be bound or not, whatever it says.
func (s *Scheduler) podGone(pod *v1.Pod, stale bool) {
	if assigned(pod) || stale {
		if cached, ok := s.cache.GetPod(pod); ok {
			if err := s.cache.RemovePod(cached); err != nil {
				s.logger.Error("cache: removing a deleted pod", "pod", podRef(pod), "err", err)
			}
			s.queue.AssignedPodDeleted(pod)
		}
		if !stale {
			return
		}
	}
	if !s.responsibleFor(pod) {
		return
	}
	s.queue.Delete(pod)
	if s.cache.IsAssumedPod(pod) {
		s.forgetAssumed(pod)
		return
	}
	if pod.Status.NominatedNodeName != "" {
		s.queue.AssignedPodDeleted(pod)
	}
}

// addBoundPod counts a pod bound to a node; for a pod this scheduler
// assumed, it confirms the assumption.
func (s *Scheduler) addBoundPod(pod *v1.Pod) {
	if err := s.cache.AddPod(pod); err != nil {
		s.logger.Error("cache: adding a bound pod", "pod", podRef(pod), "err", err)
	}
	s.queue.AssignedPodAdded(pod)
}

// forgetAssumed frees the room of an assumed pod that is being deleted;
// its binding will fail and find it gone.
func (s *Scheduler) forgetAssumed(pod *v1.Pod) {
	cached, ok := s.cache.GetPod(pod)
	if !ok {
		return
	}
	if err := s.cache.ForgetPod(cached); err != nil {
		s.logger.Error("cache: forgetting a deleted assumed pod", "pod", podRef(pod), "err", err)
		return
	}
	s.queue.AssignedPodDeleted(cached)
}

func (s *Scheduler) onNodeAdd(obj any) {
	node, ok := obj.(*v1.Node)
	if !ok {
		return
	}
	s.cache.AddNode(node)
	s.queue.NodeAdded(node)
}

func (s *Scheduler) onNodeUpdate(oldObj, newObj any) {
	oldNode, ok1 := oldObj.(*v1.Node)
	newNode, ok2 := newObj.(*v1.Node)
	if !ok1 || !ok2 {
		return
	}
	s.cache.UpdateNode(oldNode, newNode)
	s.queue.NodeUpdated(oldNode, newNode)
}

func (s *Scheduler) onNodeDelete(obj any) {
	var node *v1.Node
	switch t := obj.(type) {
	case *v1.Node:
		node = t
	case toolscache.DeletedFinalStateUnknown:
		n, ok := t.Obj.(*v1.Node)
		if !ok {
			return
		}
		node = n
	default:
		return
	}
	s.queue.NodeDeleted(node)
	if err := s.cache.RemoveNode(node); err != nil {
		s.logger.Error("cache: removing a node", "node", node.Name, "err", err)
	}
}

func (s *Scheduler) onNamespaceAdd(obj any) {
	if ns, ok := obj.(*v1.Namespace); ok {
		s.cache.AddNamespace(ns)
	}
}

func (s *Scheduler) onNamespaceUpdate(oldObj, newObj any) {
	oldNS, ok1 := oldObj.(*v1.Namespace)
	newNS, ok2 := newObj.(*v1.Namespace)
	if ok1 && ok2 {
		s.cache.UpdateNamespace(oldNS, newNS)
	}
}

func (s *Scheduler) onNamespaceDelete(obj any) {
	var ns *v1.Namespace
	switch t := obj.(type) {
	case *v1.Namespace:
		ns = t
	case toolscache.DeletedFinalStateUnknown:
		ns, _ = t.Obj.(*v1.Namespace)
	}
	if ns != nil {
		s.cache.RemoveNamespace(ns)
	}
}

func podRef(pod *v1.Pod) string { return pod.Namespace + "/" + pod.Name }
