// Package nodeports keeps a pod off nodes where a host port it asks for is
// already taken.
package nodeports

import (
	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Name is the plugin's name in configuration, logs and statuses.
const Name = "NodePorts"

// ErrReason is the reason a user sees for a node whose ports clash.
const ErrReason = "node(s) didn't have free ports for the requested pod ports"

// NodePorts is the plugin.
type NodePorts struct{}

var (
	_ framework.PreFilterPlugin   = &NodePorts{}
	_ framework.FilterPlugin      = &NodePorts{}
	_ framework.EnqueueExtensions = &NodePorts{}
)

// New returns the plugin.
func New() *NodePorts { return &NodePorts{} }

// Name returns Name.
func (pl *NodePorts) Name() string { return Name }

// PreFilter skips pods without host ports.
func (pl *NodePorts) PreFilter(_ *framework.CycleState, pod *framework.PodInfo, _ *framework.Snapshot) (*framework.PreFilterResult, *framework.Status) {
	if len(pod.HostPorts) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	return nil, nil
}

// Filter rejects a node where a wanted host port is taken.
func (pl *NodePorts) Filter(_ *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	if !FitsPorts(pod.HostPorts, nodeInfo.UsedPorts) {
		return framework.NewStatus(framework.Unschedulable, ErrReason)
	}
	return nil
}

// FitsPorts reports whether none of want clashes with used.
func FitsPorts(want []v1.ContainerPort, used framework.HostPortInfo) bool {
	for _, p := range want {
		if used.CheckConflict(p.HostIP, string(p.Protocol), p.HostPort) {
			return false
		}
	}
	return true
}

// EventsToRegister: a bound pod holding one of our ports going away, or a
// new node.
func (pl *NodePorts) EventsToRegister() []framework.ClusterEventWithHint {
	return []framework.ClusterEventWithHint{
		{Event: framework.ClusterEvent{Resource: framework.AssignedPod, ActionType: framework.Delete}, QueueingHintFn: afterAssignedPodDeleted},
		{Event: framework.ClusterEvent{Resource: framework.Node, ActionType: framework.Add}},
	}
}

func afterAssignedPodDeleted(pod *v1.Pod, oldObj, _ any) (framework.QueueingHint, error) {
	deleted, ok := oldObj.(*v1.Pod)
	if !ok {
		return framework.Queue, nil
	}
	freed := framework.HostPortInfo{}
	for _, p := range framework.NewPodInfo(deleted).HostPorts {
		freed.Add(p.HostIP, string(p.Protocol), p.HostPort)
	}
	if freed.Len() == 0 || FitsPorts(framework.NewPodInfo(pod).HostPorts, freed) {
		return framework.QueueSkip, nil
	}
	return framework.Queue, nil
}
