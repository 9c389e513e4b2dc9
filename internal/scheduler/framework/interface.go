package framework

import (
	"k8s.io/apimachinery/pkg/util/sets"
)

// The extension points. A plugin implements Plugin and at least one of
// FilterPlugin or ScorePlugin; the rest are optional:
//
//	PreFilter(pod, snapshot)            once per pod, before any Filter
//	Filter(pod, node)                   once per node, in plugin order
//	PreScore(pod, feasible, snapshot)   once per pod, before any Score
//	Score(pod, node)                    once per feasible node
//	NormalizeScore(pod, scores)         once per pod, after all Scores
//
// Per-pod state computed in PreFilter or PreScore goes into the CycleState
// under the plugin's own key; Filter and Score read it back. Every method is
// a pure function of its arguments and the CycleState.

// MaxNodeScore and MinNodeScore bound what Score (after NormalizeScore) may
// return.
const (
	MaxNodeScore int64 = 100
	MinNodeScore int64 = 0
)

// Plugin is what every plugin is.
type Plugin interface {
	Name() string
}

// PreFilterPlugin computes per-pod state once. Returning Skip means the
// plugin's Filter has nothing to check for this pod. A rejecting status
// rejects the pod on every node; a non-nil PreFilterResult narrows the nodes
// Filter is run on.
type PreFilterPlugin interface {
	Plugin
	PreFilter(state *CycleState, pod *PodInfo, snap *Snapshot) (*PreFilterResult, *Status)
}

// PreFilterExtensions lets preemption and nominated pods update a
// PreFilter plugin's state incrementally when a pod is, hypothetically,
// added to or removed from nodeInfo. Implement it when PreFilter's state
// depends on the pods of other nodes.
type PreFilterExtensions interface {
	AddPod(state *CycleState, podToSchedule, podToAdd *PodInfo, nodeInfo *NodeInfo) *Status
	RemovePod(state *CycleState, podToSchedule, podToRemove *PodInfo, nodeInfo *NodeInfo) *Status
}

// FilterPlugin decides whether the pod may run on the node. It returns nil
// (Success), Unschedulable, UnschedulableAndUnresolvable or Error.
type FilterPlugin interface {
	Plugin
	Filter(state *CycleState, pod *PodInfo, nodeInfo *NodeInfo) *Status
}

// PreScorePlugin computes per-pod scoring state from the feasible nodes.
// Returning Skip means the plugin's Score is not run for this pod.
type PreScorePlugin interface {
	PreScore(state *CycleState, pod *PodInfo, feasible []*NodeInfo, snap *Snapshot) *Status
}

// ScorePlugin ranks a feasible node. Without a ScoreNormalizer the score
// must be within [MinNodeScore, MaxNodeScore].
type ScorePlugin interface {
	Plugin
	Score(state *CycleState, pod *PodInfo, nodeInfo *NodeInfo) (int64, *Status)
}

// ScoreNormalizer rescales a ScorePlugin's raw scores into
// [MinNodeScore, MaxNodeScore] once every feasible node is scored.
type ScoreNormalizer interface {
	NormalizeScore(state *CycleState, pod *PodInfo, scores NodeScoreList) *Status
}

// EnqueueExtensions names the cluster events that may make a pod this
// plugin rejected schedulable; the queue moves such pods back when one
// happens.
type EnqueueExtensions interface {
	EventsToRegister() []ClusterEventWithHint
}

// PreFilterResult narrows the nodes worth filtering. A nil result, or nil
// NodeNames, means all nodes.
type PreFilterResult struct {
	NodeNames sets.Set[string]
}

// AllNodes reports whether r leaves every node in play.
func (r *PreFilterResult) AllNodes() bool { return r == nil || r.NodeNames == nil }

// Merge intersects two results.
func (r *PreFilterResult) Merge(o *PreFilterResult) *PreFilterResult {
	if r.AllNodes() && o.AllNodes() {
		return nil
	}
	if r.AllNodes() {
		return &PreFilterResult{NodeNames: o.NodeNames.Clone()}
	}
	if o.AllNodes() {
		return &PreFilterResult{NodeNames: r.NodeNames.Clone()}
	}
	return &PreFilterResult{NodeNames: r.NodeNames.Intersection(o.NodeNames)}
}

// NodeScore is one node's score from one plugin.
type NodeScore struct {
	Name  string
	Score int64
}

// NodeScoreList is one plugin's scores over the feasible nodes.
type NodeScoreList []NodeScore

// DefaultNormalizeScore rescales scores so the highest becomes maxScore
// (and, with reverse, the lowest raw score wins): what most plugins with
// unbounded raw scores use.
func DefaultNormalizeScore(maxScore int64, reverse bool, scores NodeScoreList) {
	var highest int64
	for _, s := range scores {
		if s.Score > highest {
			highest = s.Score
		}
	}
	if highest == 0 {
		if reverse {
			for i := range scores {
				scores[i].Score = maxScore
			}
		}
		return
	}
	for i := range scores {
		s := maxScore * scores[i].Score / highest
		if reverse {
			s = maxScore - s
		}
		scores[i].Score = s
	}
}

// StateKey names an entry of a CycleState.
type StateKey string

// StateData is an entry of a CycleState. Clone must return a copy that can
// be updated without changing the original (it may return itself when the
// data is never updated after it is written).
type StateData interface {
	Clone() StateData
}

// CycleState carries per-pod state between the extension points of one
// scheduling decision. It is not safe for concurrent writes; Filter and
// Score only read it.
type CycleState struct {
	storage map[StateKey]StateData
	// SkipFilterPlugins are the plugins whose PreFilter returned Skip.
	SkipFilterPlugins sets.Set[string]
	// SkipScorePlugins are the plugins whose PreScore returned Skip.
	SkipScorePlugins sets.Set[string]
}

// NewCycleState returns an empty state.
func NewCycleState() *CycleState {
	return &CycleState{storage: map[StateKey]StateData{}}
}

// Read returns the entry for key.
func (c *CycleState) Read(key StateKey) (StateData, bool) {
	d, ok := c.storage[key]
	return d, ok
}

// Write stores d under key.
func (c *CycleState) Write(key StateKey, d StateData) { c.storage[key] = d }

// Clone copies the state, cloning every entry.
func (c *CycleState) Clone() *CycleState {
	out := &CycleState{storage: make(map[StateKey]StateData, len(c.storage))}
	for k, v := range c.storage {
		out.storage[k] = v.Clone()
	}
	if c.SkipFilterPlugins != nil {
		out.SkipFilterPlugins = c.SkipFilterPlugins.Clone()
	}
	if c.SkipScorePlugins != nil {
		out.SkipScorePlugins = c.SkipScorePlugins.Clone()
	}
	return out
}
