// Package podtopologyspread spreads matching pods evenly across topology
// domains: a DoNotSchedule constraint rejects a node whose domain would
// then hold more than maxSkew pods above the emptiest domain; a
// ScheduleAnyway constraint only prefers the emptier domains.
//
// Only the pod's own spec.topologySpreadConstraints count: cluster-level
// default constraints are off.
package podtopologyspread

import (
	"fmt"
	"math"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Name is the plugin's name in configuration, logs and statuses.
const Name = "PodTopologySpread"

// Reasons a user sees.
const (
	ErrReasonConstraintsNotMatch = "node(s) didn't match pod topology spread constraints"
	ErrReasonNodeLabelNotMatch   = ErrReasonConstraintsNotMatch + " (missing required label)"
)

const (
	preFilterKey framework.StateKey = "PreFilter" + Name
	preScoreKey  framework.StateKey = "PreScore" + Name
)

// PodTopologySpread is the plugin.
type PodTopologySpread struct{}

var (
	_ framework.PreFilterPlugin     = &PodTopologySpread{}
	_ framework.PreFilterExtensions = &PodTopologySpread{}
	_ framework.FilterPlugin        = &PodTopologySpread{}
	_ framework.PreScorePlugin      = &PodTopologySpread{}
	_ framework.ScorePlugin         = &PodTopologySpread{}
	_ framework.ScoreNormalizer     = &PodTopologySpread{}
	_ framework.EnqueueExtensions   = &PodTopologySpread{}
)

// New returns the plugin.
func New() *PodTopologySpread { return &PodTopologySpread{} }

// Name returns Name.
func (pl *PodTopologySpread) Name() string { return Name }

// constraint is a parsed v1.TopologySpreadConstraint.
type constraint struct {
	MaxSkew            int32
	TopologyKey        string
	Selector           labels.Selector
	MinDomains         int32
	NodeAffinityPolicy v1.NodeInclusionPolicy
	NodeTaintsPolicy   v1.NodeInclusionPolicy
}

// constraints parses the pod's constraints with the given action. Keys in
// matchLabelKeys add the pod's own values for them to the selector.
func constraints(pod *v1.Pod, action v1.UnsatisfiableConstraintAction) ([]constraint, error) {
	var out []constraint
	for _, c := range pod.Spec.TopologySpreadConstraints {
		if c.WhenUnsatisfiable != action {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(c.LabelSelector)
		if err != nil {
			return nil, err
		}
		if len(c.MatchLabelKeys) > 0 {
			extra := labels.Set{}
			for _, k := range c.MatchLabelKeys {
				if v, ok := pod.Labels[k]; ok {
					extra[k] = v
				}
			}
			if len(extra) > 0 {
				if reqs, selectable := sel.Requirements(); selectable {
					merged := labels.SelectorFromSet(extra)
					for _, r := range reqs {
						merged = merged.Add(r)
					}
					sel = merged
				}
			}
		}
		pc := constraint{
			MaxSkew:            c.MaxSkew,
			TopologyKey:        c.TopologyKey,
			Selector:           sel,
			MinDomains:         1,
			NodeAffinityPolicy: v1.NodeInclusionPolicyHonor,
			NodeTaintsPolicy:   v1.NodeInclusionPolicyIgnore,
		}
		if c.MinDomains != nil {
			pc.MinDomains = *c.MinDomains
		}
		if c.NodeAffinityPolicy != nil {
			pc.NodeAffinityPolicy = *c.NodeAffinityPolicy
		}
		if c.NodeTaintsPolicy != nil {
			pc.NodeTaintsPolicy = *c.NodeTaintsPolicy
		}
		out = append(out, pc)
	}
	return out, nil
}

// includes reports whether node counts for the constraint: it matches the
// pod's node affinity (unless the policy ignores it) and has no untolerated
// taint (when the policy honours taints).
func (c *constraint) includes(pod *v1.Pod, node *v1.Node, required framework.RequiredNodeAffinity) bool {
	if c.NodeAffinityPolicy == v1.NodeInclusionPolicyHonor && !required.Match(node) {
		return false
	}
	if c.NodeTaintsPolicy == v1.NodeInclusionPolicyHonor {
		if _, untolerated := framework.FindUntoleratedTaint(node.Spec.Taints, pod.Spec.Tolerations, framework.DoNotScheduleTaint); untolerated {
			return false
		}
	}
	return true
}

func hasAllKeys(nodeLabels map[string]string, cs []constraint) bool {
	for i := range cs {
		if _, ok := nodeLabels[cs[i].TopologyKey]; !ok {
			return false
		}
	}
	return true
}

// countMatching counts the pods of namespace ns that sel selects, leaving
// out pods being deleted.
func countMatching(pods []*framework.PodInfo, sel labels.Selector, ns string) int {
	if sel.Empty() {
		return 0
	}
	n := 0
	for _, p := range pods {
		if p.Pod.DeletionTimestamp != nil || p.Pod.Namespace != ns {
			continue
		}
		if sel.Matches(labels.Set(p.Pod.Labels)) {
			n++
		}
	}
	return n
}

type preFilterState struct {
	constraints []constraint
	// counts[i] maps each domain of constraint i to its matching pods.
	counts []map[string]int
	// minCounts[i] is the smallest count over counts[i].
	minCounts []int
	pod       *v1.Pod
	required  framework.RequiredNodeAffinity
}

func (s *preFilterState) Clone() framework.StateData {
	c := *s
	c.counts = make([]map[string]int, len(s.counts))
	for i, m := range s.counts {
		c.counts[i] = make(map[string]int, len(m))
		for k, v := range m {
			c.counts[i][k] = v
		}
	}
	c.minCounts = append([]int(nil), s.minCounts...)
	return &c
}

func (s *preFilterState) recomputeMin(i int) {
	lowest := math.MaxInt32
	for _, n := range s.counts[i] {
		lowest = min(lowest, n)
	}
	s.minCounts[i] = lowest
}

// minMatch is the skew baseline: the emptiest domain's count, or 0 while
// there are fewer domains than minDomains.
func (s *preFilterState) minMatch(i int) int {
	if len(s.counts[i]) < int(s.constraints[i].MinDomains) {
		return 0
	}
	return s.minCounts[i]
}

// PreFilter counts matching pods per domain for the DoNotSchedule
// constraints, over the nodes that have every constraint's key and pass
// the inclusion policies.
func (pl *PodTopologySpread) PreFilter(state *framework.CycleState, pod *framework.PodInfo, snap *framework.Snapshot) (*framework.PreFilterResult, *framework.Status) {
	cs, err := constraints(pod.Pod, v1.DoNotSchedule)
	if err != nil {
		return nil, framework.AsStatus(fmt.Errorf("parsing topology spread constraints: %w", err))
	}
	if len(cs) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	s := &preFilterState{
		constraints: cs,
		counts:      make([]map[string]int, len(cs)),
		minCounts:   make([]int, len(cs)),
		pod:         pod.Pod,
		required:    framework.GetRequiredNodeAffinity(pod.Pod),
	}
	for i := range cs {
		s.counts[i] = map[string]int{}
	}
	for _, ni := range snap.List() {
		node := ni.Node()
		if !hasAllKeys(node.Labels, cs) {
			continue
		}
		for i := range cs {
			if !cs[i].includes(pod.Pod, node, s.required) {
				continue
			}
			s.counts[i][node.Labels[cs[i].TopologyKey]] += countMatching(ni.Pods, cs[i].Selector, pod.Pod.Namespace)
		}
	}
	for i := range cs {
		s.recomputeMin(i)
	}
	state.Write(preFilterKey, s)
	return nil, nil
}

func (s *preFilterState) updateWithPod(pi *framework.PodInfo, node *v1.Node, delta int) {
	if pi.Pod.Namespace != s.pod.Namespace || node == nil || !hasAllKeys(node.Labels, s.constraints) {
		return
	}
	podLabels := labels.Set(pi.Pod.Labels)
	for i := range s.constraints {
		c := &s.constraints[i]
		if !c.Selector.Matches(podLabels) || !c.includes(s.pod, node, s.required) {
			continue
		}
		s.counts[i][node.Labels[c.TopologyKey]] += delta
		s.recomputeMin(i)
	}
}

// AddPod counts podToAdd as if it ran on nodeInfo.
func (pl *PodTopologySpread) AddPod(state *framework.CycleState, _, podToAdd *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	if d, ok := state.Read(preFilterKey); ok {
		d.(*preFilterState).updateWithPod(podToAdd, nodeInfo.Node(), 1)
	}
	return nil
}

// RemovePod stops counting podToRemove on nodeInfo.
func (pl *PodTopologySpread) RemovePod(state *framework.CycleState, _, podToRemove *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	if d, ok := state.Read(preFilterKey); ok {
		d.(*preFilterState).updateWithPod(podToRemove, nodeInfo.Node(), -1)
	}
	return nil
}

// Filter rejects a node without a constraint's topology label
// (unresolvable), and a node where adding the pod would put its domain more
// than maxSkew above the emptiest domain.
func (pl *PodTopologySpread) Filter(state *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	d, ok := state.Read(preFilterKey)
	if !ok {
		return framework.AsStatus(fmt.Errorf("%s: no PreFilter state", Name))
	}
	s := d.(*preFilterState)
	node := nodeInfo.Node()
	podLabels := labels.Set(pod.Pod.Labels)
	for i := range s.constraints {
		c := &s.constraints[i]
		value, ok := node.Labels[c.TopologyKey]
		if !ok {
			return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonNodeLabelNotMatch)
		}
		self := 0
		if c.Selector.Matches(podLabels) {
			self = 1
		}
		if skew := s.counts[i][value] + self - s.minMatch(i); skew > int(c.MaxSkew) {
			return framework.NewStatus(framework.Unschedulable, ErrReasonConstraintsNotMatch)
		}
	}
	return nil
}

type preScoreState struct {
	constraints []constraint
	ignored     sets.Set[string]
	// counts[i] maps the domains of the feasible nodes to their matching
	// pods (hostname constraints are counted per node at Score).
	counts  []map[string]int64
	weights []float64
}

func (s *preScoreState) Clone() framework.StateData { return s }

// PreScore counts matching pods per domain for the ScheduleAnyway
// constraints, over the domains of the feasible nodes. Feasible nodes
// lacking a constraint's key are ignored (scored 0).
func (pl *PodTopologySpread) PreScore(state *framework.CycleState, pod *framework.PodInfo, feasible []*framework.NodeInfo, snap *framework.Snapshot) *framework.Status {
	if snap.NumNodes() == 0 {
		return framework.NewStatus(framework.Skip)
	}
	cs, err := constraints(pod.Pod, v1.ScheduleAnyway)
	if err != nil {
		return framework.AsStatus(fmt.Errorf("parsing topology spread constraints: %w", err))
	}
	if len(cs) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	s := &preScoreState{
		constraints: cs,
		ignored:     sets.New[string](),
		counts:      make([]map[string]int64, len(cs)),
		weights:     make([]float64, len(cs)),
	}
	sizes := make([]int, len(cs))
	for i := range cs {
		s.counts[i] = map[string]int64{}
	}
	for _, ni := range feasible {
		node := ni.Node()
		if !hasAllKeys(node.Labels, cs) {
			s.ignored.Insert(node.Name)
			continue
		}
		for i := range cs {
			if cs[i].TopologyKey == v1.LabelHostname {
				continue
			}
			v := node.Labels[cs[i].TopologyKey]
			if _, ok := s.counts[i][v]; !ok {
				s.counts[i][v] = 0
				sizes[i]++
			}
		}
	}
	for i := range cs {
		size := sizes[i]
		if cs[i].TopologyKey == v1.LabelHostname {
			size = len(feasible) - len(s.ignored)
		}
		s.weights[i] = math.Log(float64(size + 2))
	}
	required := framework.GetRequiredNodeAffinity(pod.Pod)
	for _, ni := range snap.List() {
		node := ni.Node()
		if !hasAllKeys(node.Labels, cs) {
			continue
		}
		for i := range cs {
			if !cs[i].includes(pod.Pod, node, required) {
				continue
			}
			v := node.Labels[cs[i].TopologyKey]
			if _, ok := s.counts[i][v]; !ok {
				continue
			}
			s.counts[i][v] += int64(countMatching(ni.Pods, cs[i].Selector, pod.Pod.Namespace))
		}
	}
	state.Write(preScoreKey, s)
	return nil
}

// Score is, summed over constraints, the matching pods in the node's
// domain weighted by log(domains+2), plus maxSkew-1; lower is better.
func (pl *PodTopologySpread) Score(state *framework.CycleState, pod *framework.PodInfo, nodeInfo *framework.NodeInfo) (int64, *framework.Status) {
	d, ok := state.Read(preScoreKey)
	if !ok {
		return 0, nil
	}
	s := d.(*preScoreState)
	node := nodeInfo.Node()
	if s.ignored.Has(node.Name) {
		return 0, nil
	}
	var score float64
	for i := range s.constraints {
		c := &s.constraints[i]
		v, ok := node.Labels[c.TopologyKey]
		if !ok {
			continue
		}
		var cnt int64
		if c.TopologyKey == v1.LabelHostname {
			cnt = int64(countMatching(nodeInfo.Pods, c.Selector, pod.Pod.Namespace))
		} else {
			cnt = s.counts[i][v]
		}
		score += float64(cnt)*s.weights[i] + float64(c.MaxSkew-1)
	}
	return int64(math.Round(score)), nil
}

// NormalizeScore turns fewer matching pods into a higher score; ignored
// nodes get 0.
func (pl *PodTopologySpread) NormalizeScore(state *framework.CycleState, _ *framework.PodInfo, scores framework.NodeScoreList) *framework.Status {
	d, ok := state.Read(preScoreKey)
	if !ok {
		return nil
	}
	s := d.(*preScoreState)
	lowest, highest := int64(math.MaxInt64), int64(0)
	for _, sc := range scores {
		if s.ignored.Has(sc.Name) {
			continue
		}
		lowest = min(lowest, sc.Score)
		highest = max(highest, sc.Score)
	}
	for i := range scores {
		switch {
		case s.ignored.Has(scores[i].Name):
			scores[i].Score = 0
		case highest == 0:
			scores[i].Score = framework.MaxNodeScore
		default:
			scores[i].Score = framework.MaxNodeScore * (highest + lowest - scores[i].Score) / highest
		}
	}
	return nil
}

// EventsToRegister: matching pods bound, relabelled or deleted, the pod's
// own labels or tolerations changing, and nodes added, deleted, relabelled
// or retainted.
func (pl *PodTopologySpread) EventsToRegister() []framework.ClusterEventWithHint {
	return []framework.ClusterEventWithHint{
		{Event: framework.ClusterEvent{Resource: framework.AssignedPod, ActionType: framework.Add | framework.UpdatePodLabel | framework.Delete}},
		{Event: framework.ClusterEvent{Resource: framework.TargetPod, ActionType: framework.UpdatePodToleration | framework.UpdatePodLabel}},
		{Event: framework.ClusterEvent{Resource: framework.Node, ActionType: framework.Add | framework.Delete | framework.UpdateNodeLabel | framework.UpdateNodeTaint}},
	}
}
