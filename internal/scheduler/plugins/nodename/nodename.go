// Package nodename keeps a pod that names its node (spec.nodeName) off
// every other node.
package nodename

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Name is the plugin's name in configuration, logs and statuses.
const Name = "NodeName"

// ErrReason is the reason a user sees for a node that is not the named one.
const ErrReason = "node(s) didn't match the requested node name"

// NodeName is the plugin.
type NodeName struct{}

var (
	_ framework.PreFilterPlugin   = &NodeName{}
	_ framework.FilterPlugin      = &NodeName{}
	_ framework.EnqueueExtensions = &NodeName{}
)

// New returns the plugin.
func New() *NodeName { return &NodeName{} }

// Name returns Name.
func (pl *NodeName) Name() string { return Name }

// PreFilter narrows the candidates to the named node, so the others are
// reported as unresolvable without being filtered.
func (pl *NodeName) PreFilter(_ *framework.CycleState, pod *framework.PodInfo, _ *framework.Snapshot) (*framework.PreFilterResult, *framework.Status) {
	if name := pod.Pod.Spec.NodeName; name != "" {
		return &framework.PreFilterResult{NodeNames: sets.New(name)}, nil
	}
	return nil, nil
}

// Filter rejects every node but the named one.
func (pl *NodeName) Filter(_ *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	if !Fits(pod.Pod, nodeInfo.Node()) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReason)
	}
	return nil
}

// Fits reports whether pod names no node or names node.
func Fits(pod *v1.Pod, node *v1.Node) bool {
	return pod.Spec.NodeName == "" || pod.Spec.NodeName == node.Name
}

// EventsToRegister: only a new node can be the named one.
func (pl *NodeName) EventsToRegister() []framework.ClusterEventWithHint {
	return []framework.ClusterEventWithHint{{Event: framework.ClusterEvent{Resource: framework.Node, ActionType: framework.Add}}}
}
