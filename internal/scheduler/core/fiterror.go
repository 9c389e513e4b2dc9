package core

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/skiff-sh/skiff/internal/scheduler/framework"
)

// ErrNoNodesAvailable is returned when the snapshot has no nodes at all.
var ErrNoNodesAvailable = errors.New("no nodes available to schedule pods")

// NodeToStatus records why each rejected node was rejected, and one status
// for the nodes not listed (those never filtered because PreFilter rejected
// the pod or narrowed the candidates).
type NodeToStatus struct {
	statuses map[string]*framework.Status
	absent   *framework.Status
}

// NewNodeToStatus returns an empty map whose absent nodes are
// UnschedulableAndUnresolvable without a reason.
func NewNodeToStatus() *NodeToStatus {
	return &NodeToStatus{
		statuses: map[string]*framework.Status{},
		absent:   framework.NewStatus(framework.UnschedulableAndUnresolvable),
	}
}

// Set records the status of node.
func (m *NodeToStatus) Set(node string, s *framework.Status) { m.statuses[node] = s }

// Get returns the status of node, the absent status if it has none.
func (m *NodeToStatus) Get(node string) *framework.Status {
	if s, ok := m.statuses[node]; ok {
		return s
	}
	return m.absent
}

// Len is the number of nodes with their own status.
func (m *NodeToStatus) Len() int { return len(m.statuses) }

// SetAbsentNodesStatus sets the status of nodes not listed.
func (m *NodeToStatus) SetAbsentNodesStatus(s *framework.Status) { m.absent = s }

// AbsentNodesStatus is the status of nodes not listed.
func (m *NodeToStatus) AbsentNodesStatus() *framework.Status { return m.absent }

// Each calls fn for every listed node.
func (m *NodeToStatus) Each(fn func(node string, s *framework.Status)) {
	for n, s := range m.statuses {
		fn(n, s)
	}
}

// NodesWithCode returns the nodes of snap whose status has code, including
// absent nodes when the absent status has it.
func (m *NodeToStatus) NodesWithCode(snap *framework.Snapshot, code framework.Code) []*framework.NodeInfo {
	var out []*framework.NodeInfo
	if m.absent.Code() == code {
		for _, ni := range snap.List() {
			if s, ok := m.statuses[ni.Name()]; !ok || s.Code() == code {
				out = append(out, ni)
			}
		}
		return out
	}
	for name, s := range m.statuses {
		if s.Code() != code {
			continue
		}
		if ni := snap.Get(name); ni != nil && ni.Node() != nil {
			out = append(out, ni)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Diagnosis explains a failed scheduling attempt.
type Diagnosis struct {
	// NodeToStatus holds each rejected node's status.
	NodeToStatus *NodeToStatus
	// UnschedulablePlugins are the plugins that rejected the pod somewhere;
	// the queue retries the pod on events these plugins care about.
	UnschedulablePlugins sets.Set[string]
	// PreFilterMsg is the message of a PreFilter rejection.
	PreFilterMsg string
	// PostFilterMsg is what preemption had to say ("preemption: ...").
	PostFilterMsg string
}

func (d *Diagnosis) addPluginStatus(s *framework.Status) {
	if s.Plugin() == "" || !s.IsRejected() {
		return
	}
	if d.UnschedulablePlugins == nil {
		d.UnschedulablePlugins = sets.New[string]()
	}
	d.UnschedulablePlugins.Insert(s.Plugin())
}

// FitError is the typed verdict "the pod fits no node".
type FitError struct {
	Pod         *v1.Pod
	NumAllNodes int
	Diagnosis   Diagnosis
}

// Error renders upstream's FailedScheduling message:
//
//	0/3 nodes are available: 1 Insufficient cpu, 2 node(s) had untolerated taint(s). preemption: ...
//
// Each reason is prefixed with the number of nodes that gave it; the
// "count reason" strings are sorted as strings (so "10 x" sorts before
// "2 y"), as upstream does. When PreFilter rejected the pod its message
// stands in for the per-node reasons.
func (f *FitError) Error() string {
	msg := fmt.Sprintf("0/%v nodes are available:", f.NumAllNodes)
	if f.Diagnosis.PreFilterMsg != "" {
		msg += fmt.Sprintf(" %v.", f.Diagnosis.PreFilterMsg)
	} else if m := f.Diagnosis.NodeToStatus; m != nil {
		counts := map[string]int{}
		m.Each(func(_ string, s *framework.Status) {
			for _, r := range s.Reasons() {
				counts[r]++
			}
		})
		if m.Len() < f.NumAllNodes {
			for _, r := range m.AbsentNodesStatus().Reasons() {
				counts[r] += f.NumAllNodes - m.Len()
			}
		}
		parts := make([]string, 0, len(counts))
		for r, n := range counts {
			parts = append(parts, fmt.Sprintf("%v %v", n, r))
		}
		sort.Strings(parts)
		if len(parts) > 0 {
			msg += fmt.Sprintf(" %v.", strings.Join(parts, ", "))
		}
	}
	if f.Diagnosis.PostFilterMsg != "" {
		msg += " " + f.Diagnosis.PostFilterMsg
	}
	return msg
}
