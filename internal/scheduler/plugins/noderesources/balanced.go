package noderesources

import (
	"math"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

const balancedPreScoreKey framework.StateKey = "PreScore" + BalancedAllocationName

// BalancedAllocation favours nodes whose resources would be used evenly
// (cpu as much as memory) with the pod on them.
type BalancedAllocation struct {
	resources []ResourceSpec
}

var (
	_ framework.PreScorePlugin = &BalancedAllocation{}
	_ framework.ScorePlugin    = &BalancedAllocation{}
)

// NewBalancedAllocation returns the plugin scoring resources
// (DefaultResources when empty).
func NewBalancedAllocation(resources []ResourceSpec) *BalancedAllocation {
	if len(resources) == 0 {
		resources = DefaultResources
	}
	return &BalancedAllocation{resources: resources}
}

// Name returns BalancedAllocationName.
func (ba *BalancedAllocation) Name() string { return BalancedAllocationName }

type balancedState []int64

func (s balancedState) Clone() framework.StateData { return s }

// PreScore skips best-effort pods (no requests at all): with nothing to
// balance they would all be sent to the same node.
func (ba *BalancedAllocation) PreScore(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo, _ *framework.Snapshot) *framework.Status {
	reqs := make(balancedState, len(ba.resources))
	bestEffort := true
	for i, r := range ba.resources {
		reqs[i] = podRequest(pod, r.Name, false)
		if reqs[i] != 0 {
			bestEffort = false
		}
	}
	if bestEffort {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(balancedPreScoreKey, reqs)
	return nil
}

// Score compares how balanced the node's usage is with and without the
// pod: 75 means no change, towards 100 the pod evens the node out, towards
// 50 it skews it.
func (ba *BalancedAllocation) Score(state *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	var reqs balancedState
	if d, ok := state.Read(balancedPreScoreKey); ok {
		reqs = d.(balancedState)
	} else {
		reqs = make(balancedState, len(ba.resources))
		for i, r := range ba.resources {
			reqs[i] = podRequest(pod, r.Name, false)
		}
	}
	n := len(ba.resources)
	var buf [3 * 8]int64 // avoids allocating per node for up to 8 resources
	var with, without, capacity []int64
	if n <= 8 {
		with, without, capacity = buf[0:n], buf[8:8+n], buf[16:16+n]
	} else {
		with, without, capacity = make([]int64, n), make([]int64, n), make([]int64, n)
	}
	for i, r := range ba.resources {
		if reqs[i] == 0 && framework.IsScalarResourceName(r.Name) {
			continue
		}
		c, used := nodeAmounts(nodeInfo, r.Name, false)
		if c == 0 {
			continue
		}
		capacity[i], without[i], with[i] = c, used, used+reqs[i]
	}
	withPod := balanceScore(with, capacity)
	withoutPod := balanceScore(without, capacity)
	return framework.MaxNodeScore/2 + (framework.MaxNodeScore/2+withPod-withoutPod)/2, nil
}

// balanceScore is (1 - standard deviation of the used fractions) * 100.
func balanceScore(requested, capacity []int64) int64 {
	var buf [8]float64
	fractions := buf[:0]
	var total float64
	for i := range requested {
		if capacity[i] == 0 {
			continue
		}
		f := float64(requested[i]) / float64(capacity[i])
		if f > 1 {
			f = 1
		}
		total += f
		fractions = append(fractions, f)
	}
	var std float64
	switch {
	case len(fractions) == 2:
		std = math.Abs((fractions[0] - fractions[1]) / 2)
	case len(fractions) > 2:
		mean := total / float64(len(fractions))
		var sum float64
		for _, f := range fractions {
			sum += (f - mean) * (f - mean)
		}
		std = math.Sqrt(sum / float64(len(fractions)))
	}
	return int64((1 - std) * float64(framework.MaxNodeScore))
}
