// Package interpodaffinity places pods relative to other pods: required pod
// affinity (be in a topology domain with matching pods), required pod
// anti-affinity (stay out of domains with matching pods), the required
// anti-affinity of pods already running (which keeps newcomers away from
// them), and the preferred forms of all three as scores.
//
// A topology domain is the set of nodes sharing the value of the term's
// topologyKey label (the node itself for kubernetes.io/hostname, a zone for
// topology.kubernetes.io/zone).
package interpodaffinity

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Name is the plugin's name in configuration, logs and statuses.
const Name = "InterPodAffinity"

// Reasons a user sees.
const (
	ErrReasonExistingAntiAffinityRulesNotMatch = "node(s) didn't satisfy existing pods anti-affinity rules"
	ErrReasonAffinityRulesNotMatch             = "node(s) didn't match pod affinity rules"
	ErrReasonAntiAffinityRulesNotMatch         = "node(s) didn't match pod anti-affinity rules"
)

const preFilterKey framework.StateKey = "PreFilter" + Name

// Config configures the plugin.
type Config struct {
	// HardPodAffinityWeight is the score weight given to an existing
	// pod's required affinity term that the incoming pod matches
	// (upstream default 1; 0 disables).
	HardPodAffinityWeight int32
	// IgnorePreferredTermsOfExistingPods skips scoring when the incoming
	// pod has no preferred terms of its own.
	IgnorePreferredTermsOfExistingPods bool
}

// DefaultConfig is upstream's default.
var DefaultConfig = Config{HardPodAffinityWeight: 1}

// InterPodAffinity is the plugin.
type InterPodAffinity struct {
	cfg Config
}

var (
	_ framework.PreFilterPlugin     = &InterPodAffinity{}
	_ framework.PreFilterExtensions = &InterPodAffinity{}
	_ framework.FilterPlugin        = &InterPodAffinity{}
	_ framework.PreScorePlugin      = &InterPodAffinity{}
	_ framework.ScorePlugin         = &InterPodAffinity{}
	_ framework.ScoreNormalizer     = &InterPodAffinity{}
	_ framework.EnqueueExtensions   = &InterPodAffinity{}
)

// New returns the plugin.
func New(cfg Config) (*InterPodAffinity, error) {
	if cfg.HardPodAffinityWeight < 0 || cfg.HardPodAffinityWeight > 100 {
		return nil, fmt.Errorf("interpodaffinity: hardPodAffinityWeight must be in 0..100, got %d", cfg.HardPodAffinityWeight)
	}
	return &InterPodAffinity{cfg: cfg}, nil
}

// Name returns Name.
func (pl *InterPodAffinity) Name() string { return Name }

type topologyPair struct {
	key   string
	value string
}

// topologyCounts counts matching pods (or matching terms) per domain.
type topologyCounts map[topologyPair]int64

func (m topologyCounts) update(node *v1.Node, key string, delta int64) {
	if value, ok := node.Labels[key]; ok {
		p := topologyPair{key, value}
		m[p] += delta
		if m[p] == 0 {
			delete(m, p)
		}
	}
}

func (m topologyCounts) clone() topologyCounts {
	out := make(topologyCounts, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

type preFilterState struct {
	// existingAntiAffinity counts, per domain, the required anti-affinity
	// terms of running pods that select the incoming pod.
	existingAntiAffinity topologyCounts
	// affinity counts, per domain of each of the incoming pod's required
	// affinity terms, running pods matching all of those terms.
	affinity topologyCounts
	// antiAffinity counts, per domain, running pods matched by one of the
	// incoming pod's required anti-affinity terms.
	antiAffinity topologyCounts

	affinityTerms     []framework.AffinityTerm
	antiAffinityTerms []framework.AffinityTerm
	pod               *v1.Pod
	namespaceLabels   labels.Set
}

func (s *preFilterState) Clone() framework.StateData {
	c := *s
	c.existingAntiAffinity = s.existingAntiAffinity.clone()
	c.affinity = s.affinity.clone()
	c.antiAffinity = s.antiAffinity.clone()
	return &c
}

// updateWithPod accounts for pi being added (delta 1) to or removed (-1)
// from node.
func (s *preFilterState) updateWithPod(pi *framework.PodInfo, node *v1.Node, delta int64) {
	for i := range pi.RequiredAntiAffinityTerms {
		t := &pi.RequiredAntiAffinityTerms[i]
		if t.Matches(s.pod, s.namespaceLabels) {
			s.existingAntiAffinity.update(node, t.TopologyKey, delta)
		}
	}
	if matchesAllTerms(s.affinityTerms, pi.Pod) {
		for _, t := range s.affinityTerms {
			s.affinity.update(node, t.TopologyKey, delta)
		}
	}
	for i := range s.antiAffinityTerms {
		t := &s.antiAffinityTerms[i]
		if t.Matches(pi.Pod, nil) {
			s.antiAffinity.update(node, t.TopologyKey, delta)
		}
	}
}

// matchesAllTerms reports whether pod is selected by every term; false for
// no terms.
func matchesAllTerms(terms []framework.AffinityTerm, pod *v1.Pod) bool {
	if len(terms) == 0 {
		return false
	}
	for i := range terms {
		if !terms[i].Matches(pod, nil) {
			return false
		}
	}
	return true
}

// withNamespaces returns copies of terms in which a non-empty namespace
// selector has been resolved into namespace names, so matching no longer
// needs namespace labels.
func withNamespaces(terms []framework.AffinityTerm, snap *framework.Snapshot) []framework.AffinityTerm {
	if len(terms) == 0 {
		return nil
	}
	out := make([]framework.AffinityTerm, len(terms))
	for i, t := range terms {
		out[i] = t
		if t.NamespaceSelector.Empty() {
			continue
		}
		ns := t.Namespaces.Clone()
		if ns == nil {
			ns = sets.New[string]()
		}
		ns.Insert(snap.NamespacesMatching(t.NamespaceSelector)...)
		out[i].Namespaces = ns
		out[i].NamespaceSelector = labels.Nothing()
	}
	return out
}

// PreFilter counts, across the cluster, the pods the incoming pod's
// required terms select and the running pods whose anti-affinity selects
// it. It skips pods that are neither constrained nor constraining.
func (pl *InterPodAffinity) PreFilter(state *framework.CycleState, pod *framework.PodInfo, snap *framework.Snapshot) (*framework.PreFilterResult, *framework.Status) {
	if pod.ParseError != nil {
		return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable, fmt.Sprintf("parsing pod: %+v", pod.ParseError))
	}
	s := &preFilterState{
		existingAntiAffinity: topologyCounts{},
		affinity:             topologyCounts{},
		antiAffinity:         topologyCounts{},
		affinityTerms:        withNamespaces(pod.RequiredAffinityTerms, snap),
		antiAffinityTerms:    withNamespaces(pod.RequiredAntiAffinityTerms, snap),
		pod:                  pod.Pod,
		namespaceLabels:      snap.NamespaceLabels(pod.Pod.Namespace),
	}
	for _, ni := range snap.HavePodsWithRequiredAntiAffinityList() {
		node := ni.Node()
		for _, existing := range ni.PodsWithRequiredAntiAffinity {
			for i := range existing.RequiredAntiAffinityTerms {
				t := &existing.RequiredAntiAffinityTerms[i]
				if t.Matches(pod.Pod, s.namespaceLabels) {
					s.existingAntiAffinity.update(node, t.TopologyKey, 1)
				}
			}
		}
	}
	if len(s.affinityTerms) > 0 || len(s.antiAffinityTerms) > 0 {
		for _, ni := range snap.List() {
			node := ni.Node()
			for _, existing := range ni.Pods {
				if matchesAllTerms(s.affinityTerms, existing.Pod) {
					for _, t := range s.affinityTerms {
						s.affinity.update(node, t.TopologyKey, 1)
					}
				}
				for i := range s.antiAffinityTerms {
					if t := &s.antiAffinityTerms[i]; t.Matches(existing.Pod, nil) {
						s.antiAffinity.update(node, t.TopologyKey, 1)
					}
				}
			}
		}
	}
	if len(s.existingAntiAffinity) == 0 && len(s.affinityTerms) == 0 && len(s.antiAffinityTerms) == 0 {
		return nil, framework.NewStatus(framework.Skip)
	}
	state.Write(preFilterKey, s)
	return nil, nil
}

func readPreFilterState(state *framework.CycleState) (*preFilterState, *framework.Status) {
	d, ok := state.Read(preFilterKey)
	if !ok {
		return nil, framework.AsStatus(fmt.Errorf("%s: no PreFilter state", Name))
	}
	return d.(*preFilterState), nil
}

// AddPod updates the counts as if podToAdd ran on nodeInfo.
func (pl *InterPodAffinity) AddPod(state *framework.CycleState, _, podToAdd *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	s, st := readPreFilterState(state)
	if st != nil {
		return st
	}
	s.updateWithPod(podToAdd, nodeInfo.Node(), 1)
	return nil
}

// RemovePod updates the counts as if podToRemove left nodeInfo.
func (pl *InterPodAffinity) RemovePod(state *framework.CycleState, _, podToRemove *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	s, st := readPreFilterState(state)
	if st != nil {
		return st
	}
	s.updateWithPod(podToRemove, nodeInfo.Node(), -1)
	return nil
}

// Filter checks, in order, the pod's required affinity (unresolvable:
// evicting pods cannot add a matching one), its required anti-affinity and
// the anti-affinity of running pods (both resolvable by evicting the
// matching pods).
func (pl *InterPodAffinity) Filter(state *framework.CycleState, _ *framework.PodInfo, nodeInfo *framework.NodeInfo) *framework.Status {
	s, st := readPreFilterState(state)
	if st != nil {
		return st
	}
	node := nodeInfo.Node()
	if !s.satisfiesAffinity(node) {
		return framework.NewStatus(framework.UnschedulableAndUnresolvable, ErrReasonAffinityRulesNotMatch)
	}
	if !s.satisfiesAntiAffinity(node) {
		return framework.NewStatus(framework.Unschedulable, ErrReasonAntiAffinityRulesNotMatch)
	}
	if !s.satisfiesExistingAntiAffinity(node) {
		return framework.NewStatus(framework.Unschedulable, ErrReasonExistingAntiAffinityRulesNotMatch)
	}
	return nil
}

// satisfiesAffinity: the node has every term's topology label and each of
// its domains holds a pod matching all terms. When no pod in the cluster
// matches, a pod that matches its own terms may go anywhere with the
// labels: otherwise the first replica of a self-affine set could never
// start.
func (s *preFilterState) satisfiesAffinity(node *v1.Node) bool {
	if len(s.affinityTerms) == 0 {
		return true
	}
	podsExist := true
	for _, t := range s.affinityTerms {
		value, ok := node.Labels[t.TopologyKey]
		if !ok {
			return false
		}
		if s.affinity[topologyPair{t.TopologyKey, value}] <= 0 {
			podsExist = false
		}
	}
	if podsExist {
		return true
	}
	return len(s.affinity) == 0 && matchesAllTerms(s.affinityTerms, s.pod)
}

// satisfiesAntiAffinity: no domain of the node holds a pod matched by one
// of the pod's anti-affinity terms.
func (s *preFilterState) satisfiesAntiAffinity(node *v1.Node) bool {
	if len(s.antiAffinity) == 0 {
		return true
	}
	for _, t := range s.antiAffinityTerms {
		if value, ok := node.Labels[t.TopologyKey]; ok && s.antiAffinity[topologyPair{t.TopologyKey, value}] > 0 {
			return false
		}
	}
	return true
}

// satisfiesExistingAntiAffinity: no running pod in one of the node's
// domains has anti-affinity selecting the incoming pod.
func (s *preFilterState) satisfiesExistingAntiAffinity(node *v1.Node) bool {
	if len(s.existingAntiAffinity) == 0 {
		return true
	}
	if len(node.Labels) <= len(s.existingAntiAffinity) {
		for k, v := range node.Labels {
			if s.existingAntiAffinity[topologyPair{k, v}] > 0 {
				return false
			}
		}
		return true
	}
	for p, n := range s.existingAntiAffinity {
		if v, ok := node.Labels[p.key]; ok && v == p.value && n > 0 {
			return false
		}
	}
	return true
}
