package framework

import (
	"reflect"

	v1 "k8s.io/api/core/v1"
)

// EventResource names the kind of object a cluster event is about.
type EventResource string

const (
	// Node events: a node added, deleted or changed.
	Node EventResource = "Node"
	// AssignedPod events: a pod bound to a node added, deleted or changed.
	AssignedPod EventResource = "AssignedPod"
	// UnscheduledPod events: another pod waiting for a node changed.
	UnscheduledPod EventResource = "UnscheduledPod"
	// TargetPod events: the waiting pod itself changed.
	TargetPod EventResource = "TargetPod"
	// Namespace events: a namespace added or relabelled.
	Namespace EventResource = "Namespace"
	// WildCard matches every resource.
	WildCard EventResource = "*"
)

// ActionType says what happened to the object; the Update* values narrow
// which part of it changed. It is a bit set.
type ActionType int64

const (
	Add ActionType = 1 << iota
	Delete
	UpdateNodeAllocatable
	UpdateNodeLabel
	UpdateNodeTaint
	UpdateNodeCondition
	UpdateNodeAnnotation
	UpdatePodLabel
	UpdatePodScaleDown
	UpdatePodToleration
	UpdatePodSchedulingGatesEliminated
	updatePodOther

	// None is no action.
	None ActionType = 0
	// All is every action.
	All ActionType = 1<<iota - 1
	// Update is any update.
	Update = UpdateNodeAllocatable | UpdateNodeLabel | UpdateNodeTaint | UpdateNodeCondition | UpdateNodeAnnotation |
		UpdatePodLabel | UpdatePodScaleDown | UpdatePodToleration | UpdatePodSchedulingGatesEliminated | updatePodOther
)

// ClusterEvent is something that happened in the cluster that may make a
// waiting pod schedulable.
type ClusterEvent struct {
	Resource   EventResource
	ActionType ActionType
	// Label names the event in logs and metrics; optional.
	Label string
}

// IsWildCard reports whether the event concerns everything (a periodic
// flush, a forced activation).
func (ce ClusterEvent) IsWildCard() bool {
	return ce.Resource == WildCard && ce.ActionType == All
}

// Match reports whether the incoming event is one ce registers interest in.
func (ce ClusterEvent) Match(incoming ClusterEvent) bool {
	return ce.IsWildCard() ||
		(ce.Resource == WildCard || ce.Resource == incoming.Resource) && ce.ActionType&incoming.ActionType != 0
}

// The wildcard events the queue raises itself.
var (
	// EventUnschedulableTimeout moves a pod parked as unschedulable for
	// longer than the queue's limit.
	EventUnschedulableTimeout = ClusterEvent{Resource: WildCard, ActionType: All, Label: "UnschedulableTimeout"}
	// EventForceActivate moves pods on request.
	EventForceActivate = ClusterEvent{Resource: WildCard, ActionType: All, Label: "ForceActivate"}
)

// QueueingHint is a plugin's opinion of whether an event may make a pod it
// rejected schedulable.
type QueueingHint int

const (
	// QueueSkip: the event cannot help the pod.
	QueueSkip QueueingHint = iota
	// Queue: the event may help; retry the pod (after its back-off).
	Queue
)

// QueueingHintFn judges an event for a pod the plugin rejected. oldObj is
// nil for Add, newObj nil for Delete. An error counts as Queue.
type QueueingHintFn func(pod *v1.Pod, oldObj, newObj any) (QueueingHint, error)

// ClusterEventWithHint is an event a plugin is interested in, with an
// optional hint function (nil means Queue).
type ClusterEventWithHint struct {
	Event          ClusterEvent
	QueueingHintFn QueueingHintFn
}

// NodeUpdateEvents classifies a node update into the events plugins
// register for; empty when nothing scheduling-relevant changed.
func NodeUpdateEvents(oldNode, newNode *v1.Node) []ClusterEvent {
	var out []ClusterEvent
	add := func(a ActionType) { out = append(out, ClusterEvent{Resource: Node, ActionType: a}) }
	if oldNode.Spec.Unschedulable != newNode.Spec.Unschedulable && !newNode.Spec.Unschedulable {
		add(UpdateNodeTaint)
	}
	if !reflect.DeepEqual(oldNode.Status.Allocatable, newNode.Status.Allocatable) {
		add(UpdateNodeAllocatable)
	}
	if !reflect.DeepEqual(oldNode.Labels, newNode.Labels) {
		add(UpdateNodeLabel)
	}
	if !reflect.DeepEqual(oldNode.Spec.Taints, newNode.Spec.Taints) {
		add(UpdateNodeTaint)
	}
	if !conditionsEqual(oldNode.Status.Conditions, newNode.Status.Conditions) {
		add(UpdateNodeCondition)
	}
	if !reflect.DeepEqual(oldNode.Annotations, newNode.Annotations) {
		add(UpdateNodeAnnotation)
	}
	return out
}

func conditionsEqual(a, b []v1.NodeCondition) bool {
	strip := func(cs []v1.NodeCondition) map[v1.NodeConditionType]v1.ConditionStatus {
		m := make(map[v1.NodeConditionType]v1.ConditionStatus, len(cs))
		for _, c := range cs {
			m[c.Type] = c.Status
		}
		return m
	}
	return reflect.DeepEqual(strip(a), strip(b))
}

// PodUpdateEvents classifies an update of a pod into the events plugins
// register for, with resource r (AssignedPod, UnscheduledPod or TargetPod).
// It never returns an empty list: an update nothing recognises is
// reported as a generic update.
func PodUpdateEvents(r EventResource, oldPod, newPod *v1.Pod) []ClusterEvent {
	var out []ClusterEvent
	add := func(a ActionType) { out = append(out, ClusterEvent{Resource: r, ActionType: a}) }
	if !reflect.DeepEqual(oldPod.Labels, newPod.Labels) {
		add(UpdatePodLabel)
	}
	if scaledDown(oldPod, newPod) {
		add(UpdatePodScaleDown)
	}
	if len(newPod.Spec.SchedulingGates) == 0 && len(oldPod.Spec.SchedulingGates) != 0 {
		add(UpdatePodSchedulingGatesEliminated)
	}
	if len(newPod.Spec.Tolerations) != len(oldPod.Spec.Tolerations) {
		add(UpdatePodToleration)
	}
	if len(out) == 0 {
		add(updatePodOther)
	}
	return out
}

func scaledDown(oldPod, newPod *v1.Pod) bool {
	oldReqs, newReqs := PodRequests(oldPod), PodRequests(newPod)
	for name, o := range oldReqs {
		n, ok := newReqs[name]
		if !ok || o.MilliValue() > n.MilliValue() {
			return true
		}
	}
	return false
}
