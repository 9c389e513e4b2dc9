// Package noderesources keeps a pod off nodes without room for its
// requests (Fit) and scores nodes by how much room they would have left
// (Fit's LeastAllocated or MostAllocated strategy) and by how evenly their
// resources would be used (BalancedAllocation).
package noderesources

import (
	"fmt"
	"slices"

	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Names of the plugins in configuration, logs and statuses.
const (
	FitName                = "NodeResourcesFit"
	BalancedAllocationName = "NodeResourcesBalancedAllocation"
)

// ErrReasonTooManyPods is the reason for a node at its pod capacity; the
// others are "Insufficient <resource>".
const ErrReasonTooManyPods = "Too many pods"

// ResourceSpec is a resource considered in scoring and its weight.
type ResourceSpec struct {
	Name   v1.ResourceName
	Weight int64
}

// DefaultResources are upstream's scoring resources: cpu and memory,
// weighted equally.
var DefaultResources = []ResourceSpec{{Name: v1.ResourceCPU, Weight: 1}, {Name: v1.ResourceMemory, Weight: 1}}

// ScoringStrategy says which nodes Fit's Score prefers.
type ScoringStrategy string

const (
	// LeastAllocated prefers the emptiest nodes, spreading pods (default).
	LeastAllocated ScoringStrategy = "LeastAllocated"
	// MostAllocated prefers the fullest nodes, packing pods.
	MostAllocated ScoringStrategy = "MostAllocated"
)

// FitConfig configures Fit.
type FitConfig struct {
	// Strategy is the scoring strategy; LeastAllocated when empty.
	Strategy ScoringStrategy
	// Resources are scored with their weights; DefaultResources when empty.
	Resources []ResourceSpec
}

// Fit is the resource-fit plugin.
type Fit struct {
	strategy  ScoringStrategy
	resources []ResourceSpec
}

var (
	_ framework.FilterPlugin      = &Fit{}
	_ framework.ScorePlugin       = &Fit{}
	_ framework.EnqueueExtensions = &Fit{}
)

// NewFit returns the plugin.
func NewFit(cfg FitConfig) (*Fit, error) {
	if cfg.Strategy == "" {
		cfg.Strategy = LeastAllocated
	}
	if cfg.Strategy != LeastAllocated && cfg.Strategy != MostAllocated {
		return nil, fmt.Errorf("noderesources: unknown scoring strategy %q", cfg.Strategy)
	}
	if len(cfg.Resources) == 0 {
		cfg.Resources = DefaultResources
	}
	for _, r := range cfg.Resources {
		if r.Weight <= 0 || r.Weight > 100 {
			return nil, fmt.Errorf("noderesources: weight of %s must be in 1..100, got %d", r.Name, r.Weight)
		}
	}
	return &Fit{strategy: cfg.Strategy, resources: cfg.Resources}, nil
}

// Name returns FitName.
func (f *Fit) Name() string { return FitName }

// InsufficientResource is one resource the node lacks for the pod.
type InsufficientResource struct {
	ResourceName v1.ResourceName
	// Reason is what the user sees: "Insufficient cpu", "Too many pods".
	Reason    string
	Requested int64
	Used      int64
	Capacity  int64
	// Unresolvable: the pod asks for more than the node has in total, so
	// evicting pods cannot make room.
	Unresolvable bool
}

// Filter rejects a node lacking room for the pod. The rejection is
// resolvable by preemption unless the pod asks for more than the node's
// whole allocatable of some resource.
func (f *Fit) Filter(_ *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	insufficient := Fits(pod, nodeInfo)
	if len(insufficient) == 0 {
		return nil
	}
	code := framework.Unschedulable
	reasons := make([]string, 0, len(insufficient))
	for _, r := range insufficient {
		reasons = append(reasons, r.Reason)
		if r.Unresolvable {
			code = framework.UnschedulableAndUnresolvable
		}
	}
	return framework.NewStatus(code, reasons...)
}

// Fits lists what nodeInfo lacks to also run pod: a pod slot, cpu, memory,
// ephemeral storage, then other resources by name.
func Fits(pod *framework.PodInfo, nodeInfo *framework.NodeInfo) []InsufficientResource {
	var out []InsufficientResource
	alloc, used, req := &nodeInfo.Allocatable, &nodeInfo.Requested, &pod.Requests
	if len(nodeInfo.Pods)+1 > alloc.AllowedPodNumber {
		out = append(out, InsufficientResource{
			ResourceName: v1.ResourcePods, Reason: ErrReasonTooManyPods,
			Requested: 1, Used: int64(len(nodeInfo.Pods)), Capacity: int64(alloc.AllowedPodNumber),
		})
	}
	if req.MilliCPU == 0 && req.Memory == 0 && req.EphemeralStorage == 0 && len(req.ScalarResources) == 0 {
		return out
	}
	check := func(name v1.ResourceName, want, have, capacity int64) {
		if want > 0 && want > capacity-have {
			out = append(out, InsufficientResource{
				ResourceName: name, Reason: "Insufficient " + string(name),
				Requested: want, Used: have, Capacity: capacity, Unresolvable: want > capacity,
			})
		}
	}
	check(v1.ResourceCPU, req.MilliCPU, used.MilliCPU, alloc.MilliCPU)
	check(v1.ResourceMemory, req.Memory, used.Memory, alloc.Memory)
	check(v1.ResourceEphemeralStorage, req.EphemeralStorage, used.EphemeralStorage, alloc.EphemeralStorage)
	if len(req.ScalarResources) > 0 {
		names := make([]v1.ResourceName, 0, len(req.ScalarResources))
		for name := range req.ScalarResources {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			check(name, req.ScalarResources[name], used.ScalarResources[name], alloc.ScalarResources[name])
		}
	}
	return out
}

// Score rates the node by the share of each resource left (LeastAllocated)
// or used (MostAllocated) after adding the pod, averaged by weight. Cpu and
// memory count the scoring defaults for containers that request none.
func (f *Fit) Score(_ *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	var score, weights int64
	for _, r := range f.resources {
		podReq := podRequest(pod, r.Name, true)
		if podReq == 0 && framework.IsScalarResourceName(r.Name) {
			continue
		}
		capacity, used := nodeAmounts(nodeInfo, r.Name, true)
		if capacity == 0 {
			continue
		}
		requested := used + podReq
		var s int64
		switch f.strategy {
		case MostAllocated:
			s = mostRequestedScore(requested, capacity)
		default:
			s = leastRequestedScore(requested, capacity)
		}
		score += s * r.Weight
		weights += r.Weight
	}
	if weights == 0 {
		return 0, nil
	}
	return score / weights, nil
}

func leastRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 || requested > capacity {
		return 0
	}
	return (capacity - requested) * framework.MaxNodeScore / capacity
}

func mostRequestedScore(requested, capacity int64) int64 {
	if capacity == 0 {
		return 0
	}
	if requested > capacity {
		// A node can be over-committed when its allocatable shrank.
		requested = capacity
	}
	return requested * framework.MaxNodeScore / capacity
}

// podRequest is the pod's request of name; with nonZero, cpu and memory
// include the scoring defaults.
func podRequest(pod *framework.PodInfo, name v1.ResourceName, nonZero bool) int64 {
	switch name {
	case v1.ResourceCPU:
		if nonZero {
			return pod.NonZeroMilliCPU
		}
		return pod.Requests.MilliCPU
	case v1.ResourceMemory:
		if nonZero {
			return pod.NonZeroMemory
		}
		return pod.Requests.Memory
	case v1.ResourceEphemeralStorage:
		return pod.Requests.EphemeralStorage
	default:
		return pod.Requests.ScalarResources[name]
	}
}

// nodeAmounts returns the node's allocatable and requested amounts of name
// (0, 0 for a resource the node does not have).
func nodeAmounts(nodeInfo *framework.NodeInfo, name v1.ResourceName, nonZero bool) (capacity, used int64) {
	requested := &nodeInfo.Requested
	if nonZero {
		requested = &nodeInfo.NonZeroRequested
	}
	switch name {
	case v1.ResourceCPU:
		return nodeInfo.Allocatable.MilliCPU, requested.MilliCPU
	case v1.ResourceMemory:
		return nodeInfo.Allocatable.Memory, requested.Memory
	case v1.ResourceEphemeralStorage:
		return nodeInfo.Allocatable.EphemeralStorage, nodeInfo.Requested.EphemeralStorage
	default:
		if c, ok := nodeInfo.Allocatable.ScalarResources[name]; ok {
			return c, nodeInfo.Requested.ScalarResources[name]
		}
		return 0, 0
	}
}

// EventsToRegister: a bound pod going away or shrinking, or a node added or
// grown so that the pod fits it.
func (f *Fit) EventsToRegister() []framework.ClusterEventWithHint {
	return []framework.ClusterEventWithHint{
		{Event: framework.ClusterEvent{Resource: framework.AssignedPod, ActionType: framework.Delete | framework.UpdatePodScaleDown}},
		{Event: framework.ClusterEvent{Resource: framework.Node, ActionType: framework.Add | framework.UpdateNodeAllocatable}, QueueingHintFn: afterNodeChange},
	}
}

func afterNodeChange(pod *v1.Pod, oldObj, newObj any) (framework.QueueingHint, error) {
	newNode, ok := newObj.(*v1.Node)
	if !ok {
		return framework.Queue, nil
	}
	pi := framework.NewPodInfo(pod)
	ni := framework.NewNodeInfo()
	ni.SetNode(newNode)
	if len(Fits(pi, ni)) > 0 {
		// The node cannot take the pod even when empty.
		return framework.QueueSkip, nil
	}
	oldNode, ok := oldObj.(*v1.Node)
	if !ok {
		return framework.Queue, nil
	}
	before, after := framework.NewResource(oldNode.Status.Allocatable), ni.Allocatable
	req := pi.Requests
	grew := after.AllowedPodNumber > before.AllowedPodNumber ||
		req.MilliCPU > 0 && after.MilliCPU > before.MilliCPU ||
		req.Memory > 0 && after.Memory > before.Memory ||
		req.EphemeralStorage > 0 && after.EphemeralStorage > before.EphemeralStorage
	for name, q := range req.ScalarResources {
		if q > 0 && after.ScalarResources[name] > before.ScalarResources[name] {
			grew = true
		}
	}
	if grew {
		return framework.Queue, nil
	}
	return framework.QueueSkip, nil
}
