package interpodaffinity

import (
	"math"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

const preScoreKey framework.StateKey = "PreScore" + Name

// scoreMap sums term weights per topology key and value.
type scoreMap map[string]map[string]int64

func (m scoreMap) processTerm(t *framework.AffinityTerm, weight int64, pod *v1.Pod, nsLabels labels.Set, node *v1.Node) {
	if !t.Matches(pod, nsLabels) {
		return
	}
	value, ok := node.Labels[t.TopologyKey]
	if !ok {
		return
	}
	if m[t.TopologyKey] == nil {
		m[t.TopologyKey] = map[string]int64{}
	}
	m[t.TopologyKey][value] += weight
}

type preScoreState struct {
	scores scoreMap
}

func (s *preScoreState) Clone() framework.StateData { return s }

// PreScore sums, per topology domain, the weights of every preferred term
// linking the incoming pod and a running pod, in either direction:
// the incoming pod's preferred (anti-)affinity to running pods, and running
// pods' preferred (anti-)affinity, and required affinity weighted by
// HardPodAffinityWeight, to the incoming pod. Anti-affinity counts negative.
func (pl *InterPodAffinity) PreScore(state *framework.CycleState, pod *framework.PodInfo, _ []*framework.NodeInfo, snap *framework.Snapshot) *framework.Status {
	hasConstraints := len(pod.PreferredAffinityTerms) > 0 || len(pod.PreferredAntiAffinityTerms) > 0
	if pl.cfg.IgnorePreferredTermsOfExistingPods && !hasConstraints {
		return framework.NewStatus(framework.Skip)
	}
	nodes := snap.HavePodsWithAffinityList()
	if hasConstraints {
		nodes = snap.List()
	}

	affinity := weighted(pod.PreferredAffinityTerms, snap)
	anti := weighted(pod.PreferredAntiAffinityTerms, snap)
	nsLabels := snap.NamespaceLabels(pod.Pod.Namespace)
	scores := scoreMap{}
	for _, ni := range nodes {
		node := ni.Node()
		if len(node.Labels) == 0 {
			continue
		}
		pods := ni.PodsWithAffinity
		if hasConstraints {
			pods = ni.Pods
		}
		for _, existing := range pods {
			for i := range affinity {
				scores.processTerm(&affinity[i].AffinityTerm, int64(affinity[i].Weight), existing.Pod, nil, node)
			}
			for i := range anti {
				scores.processTerm(&anti[i].AffinityTerm, -int64(anti[i].Weight), existing.Pod, nil, node)
			}
			if w := pl.cfg.HardPodAffinityWeight; w > 0 {
				for i := range existing.RequiredAffinityTerms {
					scores.processTerm(&existing.RequiredAffinityTerms[i], int64(w), pod.Pod, nsLabels, node)
				}
			}
			for i := range existing.PreferredAffinityTerms {
				t := &existing.PreferredAffinityTerms[i]
				scores.processTerm(&t.AffinityTerm, int64(t.Weight), pod.Pod, nsLabels, node)
			}
			for i := range existing.PreferredAntiAffinityTerms {
				t := &existing.PreferredAntiAffinityTerms[i]
				scores.processTerm(&t.AffinityTerm, -int64(t.Weight), pod.Pod, nsLabels, node)
			}
		}
	}
	if len(scores) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	state.Write(preScoreKey, &preScoreState{scores: scores})
	return nil
}

func weighted(terms []framework.WeightedAffinityTerm, snap *framework.Snapshot) []framework.WeightedAffinityTerm {
	if len(terms) == 0 {
		return nil
	}
	plain := make([]framework.AffinityTerm, len(terms))
	for i := range terms {
		plain[i] = terms[i].AffinityTerm
	}
	plain = withNamespaces(plain, snap)
	out := make([]framework.WeightedAffinityTerm, len(terms))
	for i := range terms {
		out[i] = framework.WeightedAffinityTerm{AffinityTerm: plain[i], Weight: terms[i].Weight}
	}
	return out
}

// Score adds up the weights of the node's domains.
func (pl *InterPodAffinity) Score(state *framework.CycleState, _ *framework.PodInfo, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	d, ok := state.Read(preScoreKey)
	if !ok {
		return 0, nil
	}
	node := nodeInfo.Node()
	var score int64
	for key, values := range d.(*preScoreState).scores {
		if v, ok := node.Labels[key]; ok {
			score += values[v]
		}
	}
	return score, nil
}

// NormalizeScore maps the lowest raw score to 0 and the highest to 100.
func (pl *InterPodAffinity) NormalizeScore(state *framework.CycleState, _ *framework.PodInfo, scores framework.NodeScoreList) *framework.Status {
	if _, ok := state.Read(preScoreKey); !ok {
		return nil
	}
	lowest, highest := int64(math.MaxInt64), int64(math.MinInt64)
	for _, s := range scores {
		lowest = min(lowest, s.Score)
		highest = max(highest, s.Score)
	}
	diff := highest - lowest
	for i := range scores {
		var f float64
		if diff > 0 {
			f = float64(framework.MaxNodeScore) * float64(scores[i].Score-lowest) / float64(diff)
		}
		scores[i].Score = int64(f)
	}
	return nil
}

// EventsToRegister: bound pods appearing, relabelled or going away, the
// pod itself relabelled, or nodes added or relabelled.
func (pl *InterPodAffinity) EventsToRegister() []framework.ClusterEventWithHint {
	return []framework.ClusterEventWithHint{
		{Event: framework.ClusterEvent{Resource: framework.AssignedPod, ActionType: framework.Add | framework.UpdatePodLabel | framework.Delete}, QueueingHintFn: afterAssignedPodChange},
		{Event: framework.ClusterEvent{Resource: framework.TargetPod, ActionType: framework.UpdatePodLabel}},
		{Event: framework.ClusterEvent{Resource: framework.Node, ActionType: framework.Add | framework.UpdateNodeLabel}},
	}
}

// afterAssignedPodChange queues the pod when a bound pod now matches all
// its affinity terms, stopped matching an anti-affinity term, or was
// deleted while either side's anti-affinity selected the other.
func afterAssignedPodChange(pod *v1.Pod, oldObj, newObj any) (framework.QueueingHint, error) {
	oldPod, _ := oldObj.(*v1.Pod)
	newPod, _ := newObj.(*v1.Pod)
	pi := framework.NewPodInfo(pod)
	matchesAny := func(terms []framework.AffinityTerm, p *v1.Pod) bool {
		for i := range terms {
			if terms[i].Matches(p, nil) {
				return true
			}
		}
		return false
	}
	switch {
	case oldPod != nil && newPod != nil:
		if !matchesAllTerms(pi.RequiredAffinityTerms, oldPod) && matchesAllTerms(pi.RequiredAffinityTerms, newPod) {
			return framework.Queue, nil
		}
		if matchesAny(pi.RequiredAntiAffinityTerms, oldPod) && !matchesAny(pi.RequiredAntiAffinityTerms, newPod) {
			return framework.Queue, nil
		}
		return framework.QueueSkip, nil
	case newPod != nil:
		if matchesAllTerms(pi.RequiredAffinityTerms, newPod) {
			return framework.Queue, nil
		}
		return framework.QueueSkip, nil
	case oldPod != nil:
		if matchesAny(pi.RequiredAntiAffinityTerms, oldPod) ||
			matchesAny(framework.NewPodInfo(oldPod).RequiredAntiAffinityTerms, pod) {
			return framework.Queue, nil
		}
		return framework.QueueSkip, nil
	}
	return framework.Queue, nil
}
