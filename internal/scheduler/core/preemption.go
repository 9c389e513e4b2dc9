package core

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"time"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Reasons preemption reports.
const (
	ReasonPreemptionNotHelpful = "Preemption is not helpful for scheduling"
	ReasonNoVictims            = "No preemption victims found for incoming pod"
	ReasonPolicyNever          = "not eligible due to preemptionPolicy=Never."
	ReasonTerminatingVictim    = "not eligible due to a terminating pod on the nominated node."
)

// PreemptionInput is what preemption needs besides the pod and snapshot.
type PreemptionInput struct {
	// Nominated are pods already promised nodes; may be nil.
	Nominated NominatedPods
	// PDBs are the cluster's PodDisruptionBudgets: evicting pods they
	// protect is avoided where possible.
	PDBs []*policyv1.PodDisruptionBudget
	// Now stands in for the start time of pods that have not started.
	Now time.Time
}

// Candidate is a preemption plan: evict Victims from Node and the pod will
// fit there.
type Candidate struct {
	Node string
	// Victims, most important (highest priority, oldest) first.
	Victims []*v1.Pod
	// NumPDBViolations counts victims whose eviction breaks a
	// PodDisruptionBudget.
	NumPDBViolations int
}

// Preempt plans, for a pod that fit nowhere (statuses from its FitError),
// which lower-priority pods to evict and where, as upstream's
// DefaultPreemption does:
//
//   - only nodes that rejected the pod as Unschedulable (not Unresolvable)
//     are tried, and only pods of strictly lower priority are victims;
//   - on each node all such pods are removed, and if the pod then fits,
//     as many as possible are put back, most important first (first those
//     protected by a PodDisruptionBudget, then the rest);
//   - among the nodes that work, the one with the fewest PDB violations,
//     then the lowest highest victim priority, then the lowest sum of
//     priorities, then the fewest victims, then the most recently started
//     most important victims wins.
//
// The returned status is Success with upstream's message when a candidate
// is found, Unschedulable with the explanation when none is (including a
// pod whose preemptionPolicy is Never), or Error.
func (s *Scheduler) Preempt(pod *framework.PodInfo, snap *framework.Snapshot, statuses *NodeToStatus, in PreemptionInput) (*Candidate, *framework.Status) {
	if ok, msg := s.eligibleToPreempt(pod, snap, statuses); !ok {
		return nil, framework.NewStatus(framework.Unschedulable, msg)
	}
	state := framework.NewCycleState()
	if _, st, _ := s.runPreFilters(state, pod, snap); !st.IsSuccess() && !st.IsRejected() {
		return nil, st
	}

	potential := statuses.NodesWithCode(snap, framework.Unschedulable)
	nodeStatuses := NewNodeToStatus()
	var nonViolating, violating []*Candidate
	if len(potential) > 0 {
		n := len(potential)
		want := n * int(s.cfg.MinCandidateNodesPercentage) / 100
		want = max(want, int(s.cfg.MinCandidateNodesAbsolute))
		want = min(want, n)
		offset := s.cfg.Rand(n)
		var errs []error
		for i := 0; i < n; i++ {
			ni := potential[(offset+i)%n]
			victims, violations, st := s.selectVictimsOnNode(state.Clone(), pod, ni.Clone(), in)
			if st.IsSuccess() && len(victims) == 0 {
				st = framework.AsStatus(fmt.Errorf("expected at least one victim pod on node %q", ni.Name()))
			}
			if !st.IsSuccess() {
				if st.Code() == framework.Error {
					errs = append(errs, st.AsError())
				}
				nodeStatuses.Set(ni.Name(), st)
				continue
			}
			c := &Candidate{Node: ni.Name(), Victims: victims, NumPDBViolations: violations}
			if violations == 0 {
				nonViolating = append(nonViolating, c)
			} else {
				violating = append(violating, c)
			}
			if len(nonViolating) > 0 && len(nonViolating)+len(violating) >= want {
				break
			}
		}
		if len(nonViolating)+len(violating) == 0 && len(errs) > 0 {
			return nil, framework.AsStatus(errors.Join(errs...))
		}
	}
	candidates := append(nonViolating, violating...)
	if len(candidates) == 0 {
		nodeStatuses.SetAbsentNodesStatus(framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonPreemptionNotHelpful))
		fe := &FitError{Pod: pod.Pod, NumAllNodes: snap.NumNodes(), Diagnosis: Diagnosis{NodeToStatus: nodeStatuses}}
		return nil, framework.NewStatus(framework.Unschedulable, fe.Error())
	}
	best := pickCandidate(candidates, in.Now)
	return best, framework.NewStatus(framework.Success,
		fmt.Sprintf("found a potential placement for pod on node %v, preempting %d victims", best.Node, len(best.Victims)))
}

// eligibleToPreempt: a pod with preemptionPolicy Never may not preempt,
// and a pod whose earlier victims are still terminating on its nominated
// node waits for them rather than evicting more.
func (s *Scheduler) eligibleToPreempt(pod *framework.PodInfo, snap *framework.Snapshot, statuses *NodeToStatus) (bool, string) {
	p := pod.Pod
	if p.Spec.PreemptionPolicy != nil && *p.Spec.PreemptionPolicy == v1.PreemptNever {
		return false, ReasonPolicyNever
	}
	name := p.Status.NominatedNodeName
	if name == "" {
		return true, ""
	}
	if statuses != nil && statuses.Get(name).Code() == framework.UnschedulableAndUnresolvable {
		return true, ""
	}
	if ni := snap.Get(name); ni != nil {
		for _, other := range ni.Pods {
			if other.Priority() < pod.Priority() && terminatingByPreemption(other.Pod) {
				return false, ReasonTerminatingVictim
			}
		}
	}
	return true, ""
}

func terminatingByPreemption(p *v1.Pod) bool {
	if p.DeletionTimestamp == nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == v1.DisruptionTarget {
			return c.Status == v1.ConditionTrue && c.Reason == v1.PodReasonPreemptionByScheduler
		}
	}
	return false
}

// selectVictimsOnNode finds the fewest, least important pods to evict from
// ni (a clone it may change) for pod to fit. state is a clone too.
func (s *Scheduler) selectVictimsOnNode(state *framework.CycleState, pod *framework.PodInfo, ni *framework.NodeInfo, in PreemptionInput) ([]*v1.Pod, int, *framework.Status) {
	var potential []*framework.PodInfo
	for _, p := range ni.Pods {
		if p.Priority() < pod.Priority() {
			potential = append(potential, p)
		}
	}
	if len(potential) == 0 {
		return nil, 0, framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNoVictims)
	}
	remove := func(p *framework.PodInfo) *framework.Status {
		if err := ni.RemovePod(p.Pod); err != nil {
			return framework.AsStatus(err)
		}
		return runRemovePod(state, s.preFilters, pod, p, ni)
	}
	add := func(p *framework.PodInfo) *framework.Status {
		ni.AddPod(p)
		return runAddPod(state, s.preFilters, pod, p, ni)
	}
	for _, p := range potential {
		if st := remove(p); !st.IsSuccess() {
			return nil, 0, st
		}
	}
	// Affinity of the pod to one of the victims is not considered, as
	// upstream does not: depending on lower-priority pods is not supported.
	if st := s.runFilterWithNominated(state, pod, ni, in.Nominated); !st.IsSuccess() {
		return nil, 0, st
	}
	sort.SliceStable(potential, func(i, j int) bool { return moreImportant(potential[i].Pod, potential[j].Pod, in.Now) })
	violatingPods, nonViolatingPods := splitByPDB(potential, in.PDBs)

	var victims []*framework.PodInfo
	reprieve := func(p *framework.PodInfo) (bool, *framework.Status) {
		if st := add(p); !st.IsSuccess() {
			return false, st
		}
		if st := s.runFilterWithNominated(state, pod, ni, in.Nominated); st.IsSuccess() {
			return true, nil
		}
		if st := remove(p); !st.IsSuccess() {
			return false, st
		}
		victims = append(victims, p)
		return false, nil
	}
	violations := 0
	for _, p := range violatingPods {
		fits, st := reprieve(p)
		if st != nil {
			return nil, 0, st
		}
		if !fits {
			violations++
		}
	}
	for _, p := range nonViolatingPods {
		if _, st := reprieve(p); st != nil {
			return nil, 0, st
		}
	}
	if len(violatingPods) > 0 && len(nonViolatingPods) > 0 {
		sort.SliceStable(victims, func(i, j int) bool { return moreImportant(victims[i].Pod, victims[j].Pod, in.Now) })
	}
	out := make([]*v1.Pod, len(victims))
	for i, v := range victims {
		out[i] = v.Pod
	}
	return out, violations, nil
}

// moreImportant orders pods by priority, then by start time (older first).
func moreImportant(a, b *v1.Pod, now time.Time) bool {
	pa, pb := podPriority(a), podPriority(b)
	if pa != pb {
		return pa > pb
	}
	return framework.PodStartTime(a, now).Before(framework.PodStartTime(b, now))
}

// splitByPDB separates the pods whose eviction would exceed a
// PodDisruptionBudget's allowed disruptions, counting the pods in order.
func splitByPDB(pods []*framework.PodInfo, pdbs []*policyv1.PodDisruptionBudget) (violating, nonViolating []*framework.PodInfo) {
	allowed := make([]int32, len(pdbs))
	selectors := make([]labels.Selector, len(pdbs))
	for i, pdb := range pdbs {
		allowed[i] = pdb.Status.DisruptionsAllowed
		sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
		if err != nil {
			sel = labels.Nothing()
		}
		selectors[i] = sel
	}
	for _, p := range pods {
		violates := false
		if len(p.Pod.Labels) > 0 {
			for i, pdb := range pdbs {
				if pdb.Namespace != p.Pod.Namespace || selectors[i].Empty() || !selectors[i].Matches(labels.Set(p.Pod.Labels)) {
					continue
				}
				if _, disrupted := pdb.Status.DisruptedPods[p.Pod.Name]; disrupted {
					continue
				}
				allowed[i]--
				if allowed[i] < 0 {
					violates = true
					break
				}
			}
		}
		if violates {
			violating = append(violating, p)
		} else {
			nonViolating = append(nonViolating, p)
		}
	}
	return violating, nonViolating
}

// pickCandidate applies upstream's tie-breakers in order; the first
// remaining candidate wins.
func pickCandidate(cs []*Candidate, now time.Time) *Candidate {
	scorers := []func(c *Candidate) int64{
		func(c *Candidate) int64 { return -int64(c.NumPDBViolations) },
		func(c *Candidate) int64 { return -int64(podPriority(c.Victims[0])) },
		func(c *Candidate) int64 {
			var sum int64
			for _, v := range c.Victims {
				// Shift priorities to be non-negative so that fewer victims
				// of negative priority do not lose to more of them.
				sum += int64(podPriority(v)) + int64(math.MaxInt32) + 1
			}
			return -sum
		},
		func(c *Candidate) int64 { return -int64(len(c.Victims)) },
		func(c *Candidate) int64 { return earliestStartOfMostImportant(c.Victims, now).UnixNano() },
	}
	remaining := cs
	for _, score := range scorers {
		best := int64(math.MinInt64)
		var kept []*Candidate
		for _, c := range remaining {
			switch sc := score(c); {
			case sc > best:
				best, kept = sc, []*Candidate{c}
			case sc == best:
				kept = append(kept, c)
			}
		}
		if len(kept) == 1 {
			return kept[0]
		}
		remaining = kept
	}
	return remaining[0]
}

func earliestStartOfMostImportant(victims []*v1.Pod, now time.Time) time.Time {
	earliest := framework.PodStartTime(victims[0], now)
	top := podPriority(victims[0])
	for _, v := range victims {
		switch p := podPriority(v); {
		case p == top:
			if t := framework.PodStartTime(v, now); t.Before(earliest) {
				earliest = t
			}
		case p > top:
			top, earliest = p, framework.PodStartTime(v, now)
		}
	}
	return earliest
}
