package namespace

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
)

// Outcome is what one pass over a terminating namespace's content found.
type Outcome struct {
	// DiscoveryErr is the discovery failure, if any.
	DiscoveryErr error
	// ContentErrs are the failures to list or delete a resource.
	ContentErrs []error
	// Remaining counts the objects still present per resource.
	Remaining map[schema.GroupResource]int
	// Finalizers counts, per finalizer, the remaining objects holding it.
	Finalizers map[string]int
}

// Done says the namespace is empty and may be finalized.
func (o Outcome) Done() bool {
	if o.DiscoveryErr != nil || len(o.ContentErrs) > 0 {
		return false
	}
	for _, n := range o.Remaining {
		if n > 0 {
			return false
		}
	}
	return true
}

// conditionTypes are the conditions the controller owns, in upstream's
// order.
var conditionTypes = []v1.NamespaceConditionType{
	v1.NamespaceDeletionDiscoveryFailure,
	v1.NamespaceDeletionGVParsingFailure,
	v1.NamespaceDeletionContentFailure,
	v1.NamespaceContentRemaining,
	v1.NamespaceFinalizersRemaining,
}

var okReason = map[v1.NamespaceConditionType][2]string{
	v1.NamespaceDeletionDiscoveryFailure: {"ResourcesDiscovered", "All resources successfully discovered"},
	v1.NamespaceDeletionGVParsingFailure: {"ParsedGroupVersions", "All legacy kube types successfully parsed"},
	v1.NamespaceDeletionContentFailure:   {"ContentDeleted", "All content successfully deleted, may be waiting on finalization"},
	v1.NamespaceContentRemaining:         {"ContentRemoved", "All content successfully removed"},
	v1.NamespaceFinalizersRemaining:      {"ContentHasNoFinalizers", "All content-preserving finalizers finished"},
}

// Conditions returns the namespace's conditions after a pass: the five
// deletion conditions upstream's namespace controller keeps (True with a
// failure's reason, False with the successful one), other conditions
// untouched. A condition's lastTransitionTime changes only with its
// status.
func Conditions(old []v1.NamespaceCondition, o Outcome, now time.Time) []v1.NamespaceCondition {
	failing := map[v1.NamespaceConditionType][2]string{}
	if o.DiscoveryErr != nil {
		msg := o.DiscoveryErr.Error()
		var gerr *discovery.ErrGroupDiscoveryFailed
		if errors.As(o.DiscoveryErr, &gerr) {
			msg = fmt.Sprintf("Discovery failed for some groups, %d failing: %v", len(gerr.Groups), o.DiscoveryErr)
		}
		failing[v1.NamespaceDeletionDiscoveryFailure] = [2]string{"DiscoveryFailed", msg}
	}
	if len(o.ContentErrs) > 0 {
		msgs := make([]string, len(o.ContentErrs))
		for i, e := range o.ContentErrs {
			msgs[i] = e.Error()
		}
		sort.Strings(msgs)
		failing[v1.NamespaceDeletionContentFailure] = [2]string{"ContentDeletionFailed",
			fmt.Sprintf("Failed to delete all resource types, %d remaining: %s", len(msgs), strings.Join(msgs, ", "))}
	}
	var remaining []string
	for gr, n := range o.Remaining {
		if n > 0 {
			remaining = append(remaining, fmt.Sprintf("%s.%s has %d resource instances", gr.Resource, gr.Group, n))
		}
	}
	if len(remaining) > 0 {
		sort.Strings(remaining)
		failing[v1.NamespaceContentRemaining] = [2]string{"SomeResourcesRemain", "Some resources are remaining: " + strings.Join(remaining, ", ")}
	}
	var fins []string
	for f, n := range o.Finalizers {
		if n > 0 {
			fins = append(fins, fmt.Sprintf("%s in %d resource instances", f, n))
		}
	}
	if len(fins) > 0 {
		sort.Strings(fins)
		failing[v1.NamespaceFinalizersRemaining] = [2]string{"SomeFinalizersRemain", "Some content in the namespace has finalizers remaining: " + strings.Join(fins, ", ")}
	}
	out := make([]v1.NamespaceCondition, 0, len(old)+len(conditionTypes))
	owned := map[v1.NamespaceConditionType]bool{}
	for _, t := range conditionTypes {
		owned[t] = true
	}
	for _, c := range old {
		if !owned[c.Type] {
			out = append(out, c)
		}
	}
	for _, t := range conditionTypes {
		c := v1.NamespaceCondition{Type: t, Status: v1.ConditionFalse, Reason: okReason[t][0], Message: okReason[t][1]}
		if f, ok := failing[t]; ok {
			c.Status, c.Reason, c.Message = v1.ConditionTrue, f[0], f[1]
		}
		c.LastTransitionTime = metav1.NewTime(now)
		for _, prev := range old {
			if prev.Type == t && prev.Status == c.Status {
				c.LastTransitionTime = prev.LastTransitionTime
			}
		}
		out = append(out, c)
	}
	return out
}
