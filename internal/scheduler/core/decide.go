package core

import (
	"errors"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// Decision is the outcome of one scheduling attempt for one pod.
type Decision struct {
	// Node is where to bind the pod; empty when it fits nowhere.
	Node string
	// Result details a successful placement.
	Result Result
	// FitError is set when the pod fits nowhere; Unschedulable reports the
	// plugins that rejected it, for the queue.
	FitError *FitError
	// Nominate is set when preemption found a node: set the pod's
	// status.nominatedNodeName to Nominate.Node and delete
	// Nominate.Victims.
	Nominate *Candidate
	// ClearNomination is set when the pod's earlier nomination (if any)
	// no longer holds: preemption found no node, or the attempt failed
	// with an error. A pod that may not preempt right now (its victims are
	// still terminating, or preemptionPolicy Never) keeps its nomination.
	ClearNomination bool
	// Message is upstream's FailedScheduling message for a pod that fits
	// nowhere, including what preemption did.
	Message string
}

// Decide schedules pod and, when it fits nowhere, plans a preemption.
// Plugin failures and an empty cluster are returned as errors
// (ErrNoNodesAvailable).
func (s *Scheduler) Decide(pod *framework.PodInfo, snap *framework.Snapshot, in PreemptionInput) (Decision, error) {
	res, err := s.Schedule(pod, snap, in.Nominated)
	if err == nil {
		return Decision{Node: res.Node, Result: res}, nil
	}
	var fe *FitError
	if !errors.As(err, &fe) {
		return Decision{}, err
	}
	d := Decision{FitError: fe}
	cand, st := s.Preempt(pod, snap, fe.Diagnosis.NodeToStatus, in)
	if st.Code() == framework.Error {
		return Decision{}, st.AsError()
	}
	if msg := st.Message(); msg != "" {
		fe.Diagnosis.PostFilterMsg = "preemption: " + msg
	}
	if st.IsSuccess() {
		d.Nominate = cand
	} else if msg := st.Message(); msg != ReasonPolicyNever && msg != ReasonTerminatingVictim {
		d.ClearNomination = true
	}
	d.Message = fe.Error()
	return d, nil
}
