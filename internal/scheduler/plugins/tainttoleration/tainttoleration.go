// Package tainttoleration keeps pods off nodes with NoSchedule or NoExecute
// taints they do not tolerate, and prefers nodes with fewer untolerated
// PreferNoSchedule taints.
package tainttoleration

import (
	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Name is the plugin's name in configuration, logs and statuses.
const Name = "TaintToleration"

// ErrReasonUntolerated is the reason a user sees for a node with an
// untolerated taint. Upstream names the taint's key and value
// ("node(s) had untolerated taint {key: value}") up to v1.34; since v1.35
// (kubernetes#134740) it no longer does, because taints may carry
// sensitive values. We follow v1.37.
const ErrReasonUntolerated = "node(s) had untolerated taint(s)"

const preScoreKey framework.StateKey = "PreScore" + Name

// TaintToleration is the plugin.
type TaintToleration struct{}

var (
	_ framework.FilterPlugin      = &TaintToleration{}
	_ framework.PreScorePlugin    = &TaintToleration{}
	_ framework.ScorePlugin       = &TaintToleration{}
	_ framework.ScoreNormalizer   = &TaintToleration{}
	_ framework.EnqueueExtensions = &TaintToleration{}
)

// New returns the plugin.
func New() *TaintToleration { return &TaintToleration{} }

// Name returns Name.
func (pl *TaintToleration) Name() string { return Name }

// Filter rejects a node with a NoSchedule or NoExecute taint the pod does
// not tolerate. Preemption cannot remove a taint: the rejection is
// unresolvable.
func (pl *TaintToleration) Filter(_ *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	if _, untolerated := UntoleratedTaint(pod.Pod, nodeInfo.Node()); untolerated {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonUntolerated)
	}
	return nil
}

// UntoleratedTaint returns the first NoSchedule/NoExecute taint of node pod
// does not tolerate.
func UntoleratedTaint(pod *v1.Pod, node *v1.Node) (v1.Taint, bool) {
	return framework.FindUntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, framework.DoNotScheduleTaint)
}

type preScoreState []v1.Toleration

func (s preScoreState) Clone() framework.StateData { return s }

// PreScore keeps the tolerations that can tolerate PreferNoSchedule taints.
func (pl *TaintToleration) PreScore(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo, _ *framework.Snapshot) *framework.Status {
	var tols preScoreState
	for _, t := range pod.Pod.Spec.Tolerations {
		if t.Effect == "" || t.Effect == v1.TaintEffectPreferNoSchedule {
			tols = append(tols, t)
		}
	}
	state.Write(preScoreKey, tols)
	return nil
}

// Score counts the node's PreferNoSchedule taints the pod does not
// tolerate; NormalizeScore turns fewer into better.
func (pl *TaintToleration) Score(state *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	d, _ := state.Read(preScoreKey)
	tols, _ := d.(preScoreState)
	return CountIntolerablePreferNoSchedule(nodeInfo.Node().Spec.Taints, tols), nil
}

// CountIntolerablePreferNoSchedule counts the PreferNoSchedule taints no
// toleration tolerates.
func CountIntolerablePreferNoSchedule(taints []v1.Taint, tolerations []v1.Toleration) int64 {
	var n int64
	for i := range taints {
		if taints[i].Effect == v1.TaintEffectPreferNoSchedule && !framework.TolerationsTolerateTaint(tolerations, &taints[i]) {
			n++
		}
	}
	return n
}

// NormalizeScore maps the fewest untolerated taints to MaxNodeScore.
func (pl *TaintToleration) NormalizeScore(_ *framework.CycleState, _ *framework.PodInfo, scores framework.NodeScoreList) *framework.Status {
	framework.DefaultNormalizeScore(framework.MaxNodeScore, true, scores)
	return nil
}

// EventsToRegister: a node added or retainted so the pod tolerates it, or
// the pod's tolerations changing.
func (pl *TaintToleration) EventsToRegister() []framework.ClusterEventWithHint {
	return []framework.ClusterEventWithHint{
		{Event: framework.ClusterEvent{Resource: framework.Node, ActionType: framework.Add | framework.UpdateNodeTaint}, QueueingHintFn: afterNodeChange},
		{Event: framework.ClusterEvent{Resource: framework.TargetPod, ActionType: framework.UpdatePodToleration}},
	}
}

func afterNodeChange(pod *v1.Pod, oldObj, newObj any) (framework.QueueingHint, error) {
	newNode, ok := newObj.(*v1.Node)
	if !ok {
		return framework.Queue, nil
	}
	wasUntolerated := true
	if oldNode, ok := oldObj.(*v1.Node); ok {
		_, wasUntolerated = UntoleratedTaint(pod, oldNode)
	}
	if _, isUntolerated := UntoleratedTaint(pod, newNode); wasUntolerated && !isUntolerated {
		return framework.Queue, nil
	}
	return framework.QueueSkip, nil
}
