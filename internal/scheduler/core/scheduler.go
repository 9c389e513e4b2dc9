// Package core is the scheduler's decision: given a pod and a Snapshot, run
// the filter plugins over the nodes, score the feasible ones, and pick one;
// or explain, in upstream's words, why none fits and which pods to evict
// (preemption) so that one will.
//
// Nothing here does I/O or reads the clock: time and randomness are inputs.
package core

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/imagelocality"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/interpodaffinity"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/nodeaffinity"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/nodename"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/nodeports"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/noderesources"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/nodeunschedulable"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/podtopologyspread"
	"github.com/skiff-sh/skiff/internal/scheduler/plugins/tainttoleration"
)

// Upstream's bounds on how many feasible nodes a decision looks for.
const (
	minFeasibleNodesToFind           = 100
	minFeasibleNodesPercentageToFind = 5
)

// Config configures a Scheduler.
type Config struct {
	// Plugins run in this order at every extension point they implement.
	// Empty means DefaultPlugins().
	Plugins []framework.Plugin
	// Weights multiplies each score plugin's normalised score, by plugin
	// name; a score plugin without an entry weighs 1. Nil means
	// DefaultWeights.
	Weights map[string]int64
	// PercentageOfNodesToScore stops filtering once this share of the
	// nodes is found feasible (never fewer than 100 nodes). 0 is adaptive:
	// 50% minus 1% per 125 nodes, at least 5%.
	PercentageOfNodesToScore int32
	// Parallelism is how many goroutines filter and score nodes; 0 means
	// GOMAXPROCS. Results do not depend on it.
	Parallelism int
	// Rand returns a uniform int in [0, n); it breaks score ties and picks
	// where preemption starts looking. Nil means math/rand/v2.IntN.
	Rand func(n int) int
	// MinCandidateNodesPercentage and MinCandidateNodesAbsolute bound how
	// many nodes preemption evaluates before choosing: at least this share
	// of the nodes, and at least this many (upstream: 10% and 100).
	MinCandidateNodesPercentage int32
	MinCandidateNodesAbsolute   int32
}

// DefaultWeights are upstream's default score weights.
var DefaultWeights = map[string]int64{
	tainttoleration.Name:                 3,
	nodeaffinity.Name:                    2,
	noderesources.FitName:                1,
	podtopologyspread.Name:               2,
	interpodaffinity.Name:                2,
	noderesources.BalancedAllocationName: 1,
	imagelocality.Name:                   1,
}

// DefaultPlugins returns upstream's default plugins (those Skiff has) in
// upstream's order, which decides which reason a node rejected by several
// rules reports.
func DefaultPlugins() []framework.Plugin {
	fit, _ := noderesources.NewFit(noderesources.FitConfig{})
	ipa, _ := interpodaffinity.New(interpodaffinity.DefaultConfig)
	return []framework.Plugin{
		nodename.New(),
		nodeunschedulable.New(),
		tainttoleration.New(),
		nodeaffinity.New(),
		nodeports.New(),
		fit,
		podtopologyspread.New(),
		ipa,
		noderesources.NewBalancedAllocation(nil),
		imagelocality.New(),
	}
}

type weightedScorer struct {
	plugin framework.ScorePlugin
	weight int64
}

// Scheduler makes scheduling decisions. Its methods may be called from
// several goroutines; decisions share only the rotating start position that
// gives every node its turn when not all nodes are examined.
type Scheduler struct {
	cfg        Config
	plugins    []framework.Plugin
	preFilters []framework.PreFilterPlugin
	filters    []framework.FilterPlugin
	scorers    []weightedScorer
	nextStart  atomic.Int64
}

// New validates cfg, fills its defaults and returns a Scheduler.
func New(cfg Config) (*Scheduler, error) {
	if len(cfg.Plugins) == 0 {
		cfg.Plugins = DefaultPlugins()
	}
	if cfg.Weights == nil {
		cfg.Weights = DefaultWeights
	}
	if cfg.PercentageOfNodesToScore < 0 || cfg.PercentageOfNodesToScore > 100 {
		return nil, fmt.Errorf("core: percentageOfNodesToScore must be in 0..100, got %d", cfg.PercentageOfNodesToScore)
	}
	if cfg.Parallelism <= 0 {
		cfg.Parallelism = runtime.GOMAXPROCS(0)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.IntN
	}
	if cfg.MinCandidateNodesPercentage == 0 {
		cfg.MinCandidateNodesPercentage = 10
	}
	if cfg.MinCandidateNodesAbsolute == 0 {
		cfg.MinCandidateNodesAbsolute = 100
	}
	s := &Scheduler{cfg: cfg, plugins: cfg.Plugins}
	seen := sets.New[string]()
	for _, p := range cfg.Plugins {
		if seen.Has(p.Name()) {
			return nil, fmt.Errorf("core: plugin %q configured twice", p.Name())
		}
		seen.Insert(p.Name())
		if pf, ok := p.(framework.PreFilterPlugin); ok {
			s.preFilters = append(s.preFilters, pf)
		}
		if f, ok := p.(framework.FilterPlugin); ok {
			s.filters = append(s.filters, f)
		}
		if sp, ok := p.(framework.ScorePlugin); ok {
			w, ok := cfg.Weights[p.Name()]
			if !ok {
				w = 1
			}
			if w <= 0 {
				return nil, fmt.Errorf("core: weight of score plugin %q must be positive, got %d", p.Name(), w)
			}
			s.scorers = append(s.scorers, weightedScorer{plugin: sp, weight: w})
		}
	}
	return s, nil
}

// Plugins returns the configured plugins; the queue registers their events.
func (s *Scheduler) Plugins() []framework.Plugin { return s.plugins }

// NominatedPods lists the pods that preemption promised a node to and that
// have not been bound yet. Pods of equal or higher priority nominated to a
// node are treated as already running there.
type NominatedPods interface {
	NominatedPodsForNode(nodeName string) []*framework.PodInfo
}

// Result is a successful decision.
type Result struct {
	// Node is the chosen node.
	Node string
	// EvaluatedNodes counts the nodes filtered; FeasibleNodes those that
	// passed.
	EvaluatedNodes int
	FeasibleNodes  int
}

// Schedule picks a node for pod in snap. It returns ErrNoNodesAvailable
// for an empty cluster, a *FitError when no node fits (the typed verdict
// with its user-facing message), and other errors for plugin failures.
// nominated may be nil.
func (s *Scheduler) Schedule(pod *framework.PodInfo, snap *framework.Snapshot, nominated NominatedPods) (Result, error) {
	if snap.NumNodes() == 0 {
		return Result{}, ErrNoNodesAvailable
	}
	state := framework.NewCycleState()
	feasible, diagnosis, err := s.findNodesThatFit(state, pod, snap, nominated)
	if err != nil {
		return Result{}, err
	}
	if len(feasible) == 0 {
		return Result{}, &FitError{Pod: pod.Pod, NumAllNodes: snap.NumNodes(), Diagnosis: diagnosis}
	}
	evaluated := len(feasible) + diagnosis.NodeToStatus.Len()
	if len(feasible) == 1 {
		return Result{Node: feasible[0].Name(), EvaluatedNodes: evaluated, FeasibleNodes: 1}, nil
	}
	scratch := scoreScratchPool.Get().(*scoreScratch)
	defer scoreScratchPool.Put(scratch)
	scores, err := s.prioritize(state, pod, feasible, snap, scratch)
	if err != nil {
		return Result{}, err
	}
	return Result{Node: s.selectHost(scores), EvaluatedNodes: evaluated, FeasibleNodes: len(feasible)}, nil
}

// runPreFilters runs every PreFilter plugin. A plugin returning Skip is
// recorded so its Filter is not run; an UnschedulableAndUnresolvable
// status stops at once; an Unschedulable one is returned after the rest
// have run; results are intersected.
func (s *Scheduler) runPreFilters(state *framework.CycleState, pod *framework.PodInfo, snap *framework.Snapshot) (*framework.PreFilterResult, *framework.Status, sets.Set[string]) {
	skip := sets.New[string]()
	defer func() { state.SkipFilterPlugins = skip }()
	var result *framework.PreFilterResult
	var rejected *framework.Status
	withNodes := sets.New[string]()
	for _, pl := range s.preFilters {
		r, st := pl.PreFilter(state, pod, snap)
		switch {
		case st.IsSkip():
			skip.Insert(pl.Name())
			continue
		case st.Code() == framework.UnschedulableAndUnresolvable:
			return nil, st.WithPlugin(pl.Name()), sets.New(pl.Name())
		case st.Code() == framework.Unschedulable:
			rejected = st.WithPlugin(pl.Name())
			continue
		case !st.IsSuccess():
			return nil, framework.AsStatus(fmt.Errorf("running PreFilter plugin %q: %w", pl.Name(), st.AsError())).WithPlugin(pl.Name()), nil
		}
		if !r.AllNodes() {
			withNodes.Insert(pl.Name())
		}
		result = result.Merge(r)
		if !result.AllNodes() && len(result.NodeNames) == 0 {
			names := sets.List(withNodes)
			msg := fmt.Sprintf("node(s) didn't satisfy plugin(s) %v simultaneously", names)
			if len(names) == 1 {
				msg = fmt.Sprintf("node(s) didn't satisfy plugin %v", names[0])
			}
			return result, framework.NewStatus(framework.UnschedulableAndUnresolvable, msg), withNodes
		}
	}
	if rejected != nil {
		return result, rejected, sets.New(rejected.Plugin())
	}
	return result, nil, withNodes
}

func (s *Scheduler) findNodesThatFit(state *framework.CycleState, pod *framework.PodInfo, snap *framework.Snapshot, nominated NominatedPods) ([]*framework.NodeInfo, Diagnosis, error) {
	diagnosis := Diagnosis{NodeToStatus: NewNodeToStatus()}
	preRes, st, plugins := s.runPreFilters(state, pod, snap)
	if !st.IsSuccess() {
		if !st.IsRejected() {
			return nil, diagnosis, st.AsError()
		}
		diagnosis.NodeToStatus.SetAbsentNodesStatus(st)
		diagnosis.PreFilterMsg = st.Message()
		diagnosis.UnschedulablePlugins = plugins
		return nil, diagnosis, nil
	}

	// A pod nominated by an earlier preemption most likely fits only
	// there: try that node first.
	if name := pod.Pod.Status.NominatedNodeName; name != "" {
		if ni := snap.Get(name); ni != nil && ni.Node() != nil {
			feasible, err := s.filterNodes(state, pod, []*framework.NodeInfo{ni}, &diagnosis, nominated, 0)
			if err != nil {
				return nil, diagnosis, err
			}
			if len(feasible) > 0 {
				return feasible, diagnosis, nil
			}
			diagnosis = Diagnosis{NodeToStatus: NewNodeToStatus()}
		}
	}

	nodes := snap.List()
	start := 0
	if !preRes.AllNodes() {
		nodes = make([]*framework.NodeInfo, 0, len(preRes.NodeNames))
		for _, name := range sets.List(preRes.NodeNames) {
			if ni := snap.Get(name); ni != nil && ni.Node() != nil {
				nodes = append(nodes, ni)
			}
		}
		diagnosis.NodeToStatus.SetAbsentNodesStatus(framework.NewStatus(framework.UnschedulableAndUnresolvable,
			fmt.Sprintf("node(s) didn't satisfy plugin(s) %v", sets.List(plugins))))
	} else if n := len(nodes); n > 0 {
		start = int(s.nextStart.Load() % int64(n))
	}
	feasible, err := s.filterNodes(state, pod, nodes, &diagnosis, nominated, start)
	if len(nodes) > 0 && preRes.AllNodes() {
		s.nextStart.Store(int64((start + len(feasible) + diagnosis.NodeToStatus.Len()) % len(nodes)))
	}
	return feasible, diagnosis, err
}

// numFeasibleNodesToFind is how many feasible nodes are enough to choose
// from among n.
func (s *Scheduler) numFeasibleNodesToFind(n int) int {
	if n < minFeasibleNodesToFind {
		return n
	}
	pct := int(s.cfg.PercentageOfNodesToScore)
	if pct == 0 {
		pct = 50 - n/125
		if pct < minFeasibleNodesPercentageToFind {
			pct = minFeasibleNodesPercentageToFind
		}
	}
	k := n * pct / 100
	if k < minFeasibleNodesToFind {
		return minFeasibleNodesToFind
	}
	return k
}

// filterNodes filters nodes, starting at index start and wrapping, until
// enough are feasible. The result is what a sequential scan would give,
// whatever the parallelism: feasible nodes in scan order, and the statuses
// of the rejected nodes scanned before the last feasible one kept.
func (s *Scheduler) filterNodes(state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, diagnosis *Diagnosis, nominated NominatedPods, start int) ([]*framework.NodeInfo, error) {
	n := len(nodes)
	if n == 0 {
		return nil, nil
	}
	want := s.numFeasibleNodesToFind(n)
	if len(s.scorers) == 0 {
		want = 1
	}
	feasible := make([]*framework.NodeInfo, 0, want)
	scanned := 0
	var firstErr error
	chunk := min(max(want, 64), n)
	statuses := make([]*framework.Status, chunk)
	for scanned < n && len(feasible) < want {
		end := min(scanned+chunk, n)
		var failed atomic.Bool
		parallelize(s.cfg.Parallelism, end-scanned, func(i int) {
			st := s.runFilterWithNominated(state, pod, nodes[(start+scanned+i)%n], nominated)
			statuses[i] = st
			if st.Code() == framework.Error {
				failed.Store(true)
			}
		})
		for idx := scanned; idx < end; idx++ {
			st := statuses[idx-scanned]
			if st.Code() == framework.Error {
				if firstErr == nil {
					firstErr = st.AsError()
				}
				continue
			}
			if !st.IsSuccess() {
				continue
			}
			feasible = append(feasible, nodes[(start+idx)%n])
			if len(feasible) == want {
				end = idx + 1
				break
			}
		}
		for idx := scanned; idx < end; idx++ {
			if st := statuses[idx-scanned]; st.IsRejected() {
				diagnosis.NodeToStatus.Set(nodes[(start+idx)%n].Name(), st)
				diagnosis.addPluginStatus(st)
			}
		}
		scanned = end
		if failed.Load() {
			break
		}
	}
	if firstErr != nil {
		return nil, firstErr
	}
	return feasible, nil
}

// runFilters runs the filter plugins in order and returns the first
// rejection, naming its plugin.
func (s *Scheduler) runFilters(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	for _, pl := range s.filters {
		if state.SkipFilterPlugins.Has(pl.Name()) {
			continue
		}
		st := pl.Filter(state, pod, ni)
		if st.IsSuccess() {
			continue
		}
		if !st.IsRejected() {
			st = framework.AsStatus(fmt.Errorf("running %q filter plugin: %w", pl.Name(), st.AsError()))
		}
		return st.WithPlugin(pl.Name())
	}
	return nil
}

// runFilterWithNominated filters ni twice when pods of at least the pod's
// priority are nominated to it: once as if they ran there, so the pod does
// not take the room preemption freed for them, and once without them, since
// they may yet go elsewhere (affinity to them must not be assumed). Both
// must pass.
func (s *Scheduler) runFilterWithNominated(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo, nominated NominatedPods) *framework.Status {
	if nominated != nil {
		withNominated, st := nominatedView(state, pod, ni, nominated, s.preFilters)
		if st != nil {
			return st
		}
		if withNominated != nil {
			if st := s.runFilters(withNominated.state, pod, withNominated.node); !st.IsSuccess() {
				return st
			}
		}
	}
	return s.runFilters(state, pod, ni)
}

type stateAndNode struct {
	state *framework.CycleState
	node  *framework.NodeInfo
}

func nominatedView(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo, nominated NominatedPods, preFilters []framework.PreFilterPlugin) (*stateAndNode, *framework.Status) {
	var out *stateAndNode
	prio := pod.Priority()
	for _, np := range nominated.NominatedPodsForNode(ni.Name()) {
		if np.Priority() < prio || np.Key() == pod.Key() {
			continue
		}
		if out == nil {
			out = &stateAndNode{state: state.Clone(), node: ni.Clone()}
		}
		out.node.AddPod(np)
		if st := runAddPod(out.state, preFilters, pod, np, out.node); !st.IsSuccess() {
			return nil, st
		}
	}
	return out, nil
}

func runAddPod(state *framework.CycleState, preFilters []framework.PreFilterPlugin, pod, added *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	for _, pl := range preFilters {
		ext, ok := pl.(framework.PreFilterExtensions)
		if !ok || state.SkipFilterPlugins.Has(pl.Name()) {
			continue
		}
		if st := ext.AddPod(state, pod, added, ni); !st.IsSuccess() {
			return framework.AsStatus(fmt.Errorf("running AddPod on PreFilter plugin %q: %w", pl.Name(), st.AsError()))
		}
	}
	return nil
}

func runRemovePod(state *framework.CycleState, preFilters []framework.PreFilterPlugin, pod, removed *framework.PodInfo, ni *framework.NodeInfo) *framework.Status {
	for _, pl := range preFilters {
		ext, ok := pl.(framework.PreFilterExtensions)
		if !ok || state.SkipFilterPlugins.Has(pl.Name()) {
			continue
		}
		if st := ext.RemovePod(state, pod, removed, ni); !st.IsSuccess() {
			return framework.AsStatus(fmt.Errorf("running RemovePod on PreFilter plugin %q: %w", pl.Name(), st.AsError()))
		}
	}
	return nil
}

// NodeScore is a feasible node's weighted total.
type NodeScore struct {
	Name  string
	Total int64
}

// scoreScratch holds the score lists of one decision; they are reused
// across decisions, which would otherwise allocate most of their memory
// here (with 500 nodes and 7 plugins, some 80 KB a pod).
type scoreScratch struct {
	perPlugin []framework.NodeScore
	result    []NodeScore
}

var scoreScratchPool = sync.Pool{New: func() any { return new(scoreScratch) }}

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// prioritize scores nodes into scratch, whose lists are valid until the
// scratch is reused.
func (s *Scheduler) prioritize(state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, snap *framework.Snapshot, scratch *scoreScratch) ([]NodeScore, error) {
	skip := sets.New[string]()
	for _, ws := range s.scorers {
		ps, ok := ws.plugin.(framework.PreScorePlugin)
		if !ok {
			continue
		}
		st := ps.PreScore(state, pod, nodes, snap)
		if st.IsSkip() {
			skip.Insert(ws.plugin.Name())
			continue
		}
		if !st.IsSuccess() {
			return nil, fmt.Errorf("running PreScore plugin %q: %w", ws.plugin.Name(), st.AsError())
		}
	}
	state.SkipScorePlugins = skip
	var active []weightedScorer
	for _, ws := range s.scorers {
		if !skip.Has(ws.plugin.Name()) {
			active = append(active, ws)
		}
	}
	scratch.result = grow(scratch.result, len(nodes))
	result := scratch.result
	for i, ni := range nodes {
		result[i] = NodeScore{Name: ni.Name()}
	}
	if len(active) == 0 {
		return result, nil
	}
	n := len(nodes)
	scratch.perPlugin = grow(scratch.perPlugin, len(active)*n)
	perPlugin := make([]framework.NodeScoreList, len(active))
	for j := range active {
		perPlugin[j] = framework.NodeScoreList(scratch.perPlugin[j*n : (j+1)*n : (j+1)*n])
	}
	var firstErr atomic.Pointer[error]
	parallelize(s.cfg.Parallelism, len(nodes), func(i int) {
		for j, ws := range active {
			sc, st := ws.plugin.Score(state, pod, nodes[i])
			if !st.IsSuccess() {
				err := fmt.Errorf("running Score plugin %q: %w", ws.plugin.Name(), st.AsError())
				firstErr.CompareAndSwap(nil, &err)
				return
			}
			perPlugin[j][i] = framework.NodeScore{Name: result[i].Name, Score: sc}
		}
	})
	if p := firstErr.Load(); p != nil {
		return nil, *p
	}
	for j, ws := range active {
		if n, ok := ws.plugin.(framework.ScoreNormalizer); ok {
			if st := n.NormalizeScore(state, pod, perPlugin[j]); !st.IsSuccess() {
				return nil, fmt.Errorf("running NormalizeScore of plugin %q: %w", ws.plugin.Name(), st.AsError())
			}
		}
		for i, sc := range perPlugin[j] {
			if sc.Score < framework.MinNodeScore || sc.Score > framework.MaxNodeScore {
				return nil, fmt.Errorf("plugin %q returned score %d for node %q, outside [%d, %d]",
					ws.plugin.Name(), sc.Score, sc.Name, framework.MinNodeScore, framework.MaxNodeScore)
			}
			result[i].Total += sc.Score * ws.weight
		}
	}
	return result, nil
}

// selectHost returns a node with the highest total, choosing uniformly
// among ties with the configured random source.
func (s *Scheduler) selectHost(scores []NodeScore) string {
	best, ties := 0, 1
	for i := 1; i < len(scores); i++ {
		switch {
		case scores[i].Total > scores[best].Total:
			best, ties = i, 1
		case scores[i].Total == scores[best].Total:
			ties++
			if s.cfg.Rand(ties) == 0 {
				best = i
			}
		}
	}
	return scores[best].Name
}

// podPriority is a shorthand used by preemption.
func podPriority(p *v1.Pod) int32 { return framework.PodPriority(p) }
