package framework

import (
	"fmt"

	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	"k8s.io/klog/v2"
)

// RequiredNodeAffinity is a pod's hard node constraints: spec.nodeSelector
// AND spec.affinity.nodeAffinity.requiredDuringScheduling...
type RequiredNodeAffinity struct {
	selector labels.Selector // nil when no nodeSelector
	terms    *nodeSelectorTerms
}

// GetRequiredNodeAffinity parses pod's required node constraints. Terms
// that do not parse never match, as upstream does for objects the API server
// admitted anyway.
func GetRequiredNodeAffinity(pod *v1.Pod) RequiredNodeAffinity {
	var r RequiredNodeAffinity
	if len(pod.Spec.NodeSelector) > 0 {
		r.selector = labels.SelectorFromSet(pod.Spec.NodeSelector)
	}
	if a := pod.Spec.Affinity; a != nil && a.NodeAffinity != nil && a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution != nil {
		r.terms = newNodeSelectorTerms(a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms)
	}
	return r
}

// Match reports whether node satisfies the constraints.
func (r RequiredNodeAffinity) Match(node *v1.Node) bool {
	if r.selector != nil && !r.selector.Matches(labels.Set(node.Labels)) {
		return false
	}
	if r.terms != nil {
		return r.terms.matchAny(node)
	}
	return true
}

// nodeSelectorTerms are ORed terms; an empty list matches nothing.
type nodeSelectorTerms struct {
	terms []nodeSelectorTerm
}

// nodeSelectorTerm ANDs label expressions and field expressions; a term
// with neither is dropped before matching.
type nodeSelectorTerm struct {
	labels labels.Selector // nil when no matchExpressions
	fields []fieldRequirement
	err    error
}

type fieldRequirement struct {
	key   string
	value string
	equal bool
}

func newNodeSelectorTerms(terms []v1.NodeSelectorTerm) *nodeSelectorTerms {
	out := &nodeSelectorTerms{}
	for i := range terms {
		if len(terms[i].MatchExpressions) == 0 && len(terms[i].MatchFields) == 0 {
			continue
		}
		out.terms = append(out.terms, newNodeSelectorTerm(&terms[i]))
	}
	return out
}

func (t *nodeSelectorTerms) matchAny(node *v1.Node) bool {
	for i := range t.terms {
		if t.terms[i].match(node) {
			return true
		}
	}
	return false
}

func newNodeSelectorTerm(term *v1.NodeSelectorTerm) nodeSelectorTerm {
	var out nodeSelectorTerm
	if len(term.MatchExpressions) > 0 {
		sel := labels.NewSelector()
		for _, e := range term.MatchExpressions {
			var op selection.Operator
			switch e.Operator {
			case v1.NodeSelectorOpIn:
				op = selection.In
			case v1.NodeSelectorOpNotIn:
				op = selection.NotIn
			case v1.NodeSelectorOpExists:
				op = selection.Exists
			case v1.NodeSelectorOpDoesNotExist:
				op = selection.DoesNotExist
			case v1.NodeSelectorOpGt:
				op = selection.GreaterThan
			case v1.NodeSelectorOpLt:
				op = selection.LessThan
			default:
				out.err = fmt.Errorf("unsupported node selector operator %q", e.Operator)
				return out
			}
			req, err := labels.NewRequirement(e.Key, op, e.Values)
			if err != nil {
				out.err = err
				return out
			}
			sel = sel.Add(*req)
		}
		out.labels = sel
	}
	for _, f := range term.MatchFields {
		if (f.Operator != v1.NodeSelectorOpIn && f.Operator != v1.NodeSelectorOpNotIn) || len(f.Values) != 1 {
			out.err = fmt.Errorf("unsupported field selector %s %s %v", f.Key, f.Operator, f.Values)
			return out
		}
		out.fields = append(out.fields, fieldRequirement{key: f.Key, value: f.Values[0], equal: f.Operator == v1.NodeSelectorOpIn})
	}
	return out
}

func (t *nodeSelectorTerm) match(node *v1.Node) bool {
	if t.err != nil {
		return false
	}
	if t.labels != nil && !t.labels.Matches(labels.Set(node.Labels)) {
		return false
	}
	// The only node field that can be selected is metadata.name; a node
	// without a name has no fields, and field requirements are then ignored.
	if len(t.fields) > 0 && node.Name != "" {
		for _, f := range t.fields {
			var value string
			if f.key == "metadata.name" {
				value = node.Name
			}
			if (value == f.value) != f.equal {
				return false
			}
		}
	}
	return true
}

// PreferredSchedulingTerms are a pod's weighted soft node preferences.
type PreferredSchedulingTerms struct {
	terms   []nodeSelectorTerm
	weights []int64
}

// NewPreferredSchedulingTerms parses the terms, dropping those with zero
// weight or no expressions; a term that does not parse is an error.
func NewPreferredSchedulingTerms(terms []v1.PreferredSchedulingTerm) (*PreferredSchedulingTerms, error) {
	out := &PreferredSchedulingTerms{}
	for i := range terms {
		t := &terms[i]
		if t.Weight == 0 || (len(t.Preference.MatchExpressions) == 0 && len(t.Preference.MatchFields) == 0) {
			continue
		}
		parsed := newNodeSelectorTerm(&t.Preference)
		if parsed.err != nil {
			return nil, parsed.err
		}
		out.terms = append(out.terms, parsed)
		out.weights = append(out.weights, int64(t.Weight))
	}
	return out, nil
}

// Score sums the weights of the terms node matches.
func (p *PreferredSchedulingTerms) Score(node *v1.Node) int64 {
	var s int64
	for i := range p.terms {
		if p.terms[i].match(node) {
			s += p.weights[i]
		}
	}
	return s
}

// Len is the number of usable terms.
func (p *PreferredSchedulingTerms) Len() int { return len(p.terms) }

// TolerationsTolerateTaint reports whether any toleration tolerates taint.
func TolerationsTolerateTaint(tolerations []v1.Toleration, taint *v1.Taint) bool {
	logger := klog.Background()
	for i := range tolerations {
		// Numeric comparison operators (Gt/Lt) are an alpha feature upstream,
		// off by default; so here.
		if tolerations[i].ToleratesTaint(logger, taint, false) {
			return true
		}
	}
	return false
}

// FindUntoleratedTaint returns the first taint selected by include that no
// toleration tolerates.
func FindUntoleratedTaint(taints []v1.Taint, tolerations []v1.Toleration, include func(*v1.Taint) bool) (v1.Taint, bool) {
	for i := range taints {
		if include != nil && !include(&taints[i]) {
			continue
		}
		if !TolerationsTolerateTaint(tolerations, &taints[i]) {
			return taints[i], true
		}
	}
	return v1.Taint{}, false
}

// DoNotScheduleTaint selects the taints that keep pods off a node:
// NoSchedule and NoExecute.
func DoNotScheduleTaint(t *v1.Taint) bool {
	return t.Effect == v1.TaintEffectNoSchedule || t.Effect == v1.TaintEffectNoExecute
}
