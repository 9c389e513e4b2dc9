// Package nodeunschedulable keeps pods off cordoned nodes
// (spec.unschedulable) unless they tolerate the
// node.kubernetes.io/unschedulable taint.
//
// Not-ready and unreachable nodes carry NoSchedule taints set by the node
// lifecycle controller; the tainttoleration plugin rejects those.
package nodeunschedulable

import (
	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Name is the plugin's name in configuration, logs and statuses.
const Name = "NodeUnschedulable"

// ErrReasonUnschedulable is the reason a user sees for a cordoned node.
const ErrReasonUnschedulable = "node(s) were unschedulable"

// NodeUnschedulable is the plugin.
type NodeUnschedulable struct{}

var (
	_ framework.FilterPlugin      = &NodeUnschedulable{}
	_ framework.EnqueueExtensions = &NodeUnschedulable{}
)

// New returns the plugin.
func New() *NodeUnschedulable { return &NodeUnschedulable{} }

// Name returns Name.
func (pl *NodeUnschedulable) Name() string { return Name }

var unschedulableTaint = v1.Taint{Key: v1.TaintNodeUnschedulable, Effect: v1.TaintEffectNoSchedule}

// Filter rejects a cordoned node for a pod that does not tolerate it.
func (pl *NodeUnschedulable) Filter(_ *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	if !Fits(pod.Pod, nodeInfo.Node()) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUnschedulable)
	}
	return nil
}

// Fits reports whether node is schedulable for pod.
func Fits(pod *v1.Pod, node *v1.Node) bool {
	return !node.Spec.Unschedulable || framework.TolerationsTolerateTaint(pod.Spec.Tolerations, &unschedulableTaint)
}

// EventsToRegister: a node added schedulable or uncordoned, or the pod
// gaining the toleration.
func (pl *NodeUnschedulable) EventsToRegister() []framework.ClusterEventWithHint {
	return []framework.ClusterEventWithHint{
		{Event: framework.ClusterEvent{Resource: framework.Node, ActionType: framework.Add | framework.UpdateNodeTaint}, QueueingHintFn: afterNodeChange},
		{Event: framework.ClusterEvent{Resource: framework.TargetPod, ActionType: framework.UpdatePodToleration}, QueueingHintFn: afterPodTolerationChange},
	}
}

func afterNodeChange(_ *v1.Pod, oldObj, newObj any) (framework.QueueingHint, error) {
	newNode, _ := newObj.(*v1.Node)
	oldNode, _ := oldObj.(*v1.Node)
	if newNode == nil {
		return framework.Queue, nil
	}
	if !newNode.Spec.Unschedulable && (oldNode == nil || oldNode.Spec.Unschedulable) {
		return framework.Queue, nil
	}
	return framework.QueueSkip, nil
}

func afterPodTolerationChange(_ *v1.Pod, _, newObj any) (framework.QueueingHint, error) {
	if p, ok := newObj.(*v1.Pod); ok && framework.TolerationsTolerateTaint(p.Spec.Tolerations, &unschedulableTaint) {
		return framework.Queue, nil
	}
	return framework.QueueSkip, nil
}
