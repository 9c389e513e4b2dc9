package schedtest

import (
	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Filter runs pl as the core would, alone: PreFilter if it has one (a
// rejection or Skip there ends the run), then Filter on every node of snap.
// It returns each node's status (nil for Success) and PreFilter's status.
func Filter(pl framework.FilterPlugin, pod *v1.Pod, snap *framework.Snapshot) (map[string]*framework.Status, *framework.Status) {
	state := framework.NewCycleState()
	pi := framework.NewPodInfo(pod)
	out := map[string]*framework.Status{}
	if pf, ok := pl.(framework.PreFilterPlugin); ok {
		_, st := pf.PreFilter(state, pi, snap)
		if st.IsSkip() {
			for _, ni := range snap.List() {
				out[ni.Name()] = nil
			}
			return out, st
		}
		if !st.IsSuccess() {
			return nil, st
		}
	}
	for _, ni := range snap.List() {
		out[ni.Name()] = pl.Filter(state, pi, ni)
	}
	return out, nil
}

// Score runs pl as the core would, alone, on every node of snap: PreScore
// (Skip gives every node 0), Score, NormalizeScore.
func Score(pl framework.ScorePlugin, pod *v1.Pod, snap *framework.Snapshot) (map[string]int64, *framework.Status) {
	state := framework.NewCycleState()
	pi := framework.NewPodInfo(pod)
	out := map[string]int64{}
	if ps, ok := pl.(framework.PreScorePlugin); ok {
		st := ps.PreScore(state, pi, snap.List(), snap)
		if st.IsSkip() {
			for _, ni := range snap.List() {
				out[ni.Name()] = 0
			}
			return out, st
		}
		if !st.IsSuccess() {
			return nil, st
		}
	}
	scores := make(framework.NodeScoreList, 0, snap.NumNodes())
	for _, ni := range snap.List() {
		s, st := pl.Score(state, pi, ni)
		if !st.IsSuccess() {
			return nil, st
		}
		scores = append(scores, framework.NodeScore{Name: ni.Name(), Score: s})
	}
	if n, ok := pl.(framework.ScoreNormalizer); ok {
		if st := n.NormalizeScore(state, pi, scores); !st.IsSuccess() {
			return nil, st
		}
	}
	for _, s := range scores {
		out[s.Name] = s.Score
	}
	return out, nil
}
