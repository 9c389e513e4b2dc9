package nodelifecycle

import (
	v1 "k8s.io/api/core/v1"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Upstream's defaults of controller.NodeEviction.
const (
	DefaultEvictionRate              = 0.1
	DefaultSecondaryEvictionRate     = 0.01
	DefaultUnhealthyZoneThreshold    = 0.55
	DefaultLargeClusterSizeThreshold = 50
)

// evictionDefaults fills the zero fields with upstream's defaults.
func evictionDefaults(e controller.NodeEviction) controller.NodeEviction {
	if e.Rate == 0 {
		e.Rate = DefaultEvictionRate
	}
	if e.SecondaryRate == 0 {
		e.SecondaryRate = DefaultSecondaryEvictionRate
	}
	if e.UnhealthyZoneThreshold == 0 {
		e.UnhealthyZoneThreshold = DefaultUnhealthyZoneThreshold
	}
	if e.LargeClusterSizeThreshold == 0 {
		e.LargeClusterSizeThreshold = DefaultLargeClusterSizeThreshold
	}
	return e
}

// ZoneState is a zone's health, as upstream's.
type ZoneState string

// Zone states.
const (
	ZoneNormal            ZoneState = "Normal"
	ZoneFullDisruption    ZoneState = "FullDisruption"
	ZonePartialDisruption ZoneState = "PartialDisruption"
)

// labelExcludeDisruption keeps a node out of the zone states (upstream's).
const labelExcludeDisruption = "node.kubernetes.io/exclude-disruption"

// ZoneKey is the zone a node counts in: its region and zone labels
// (topology.kubernetes.io/*, else the deprecated failure-domain ones),
// "" when it has neither.
func ZoneKey(node *v1.Node) string {
	region, zone := node.Labels[v1.LabelTopologyRegion], node.Labels[v1.LabelTopologyZone]
	if region == "" {
		region = node.Labels[v1.LabelFailureDomainBetaRegion]
	}
	if zone == "" {
		zone = node.Labels[v1.LabelFailureDomainBetaZone]
	}
	if region == "" && zone == "" {
		return ""
	}
	return region + ":\x00:" + zone
}

// ZoneStates computes every zone's state from its nodes' Ready
// conditions: FullDisruption when none is ready, PartialDisruption when
// more than two and at least threshold of them are not, else Normal.
// Nodes labelled node.kubernetes.io/exclude-disruption do not count.
// Sizes are the zones' node counts.
func ZoneStates(nodes []*v1.Node, threshold float32) (states map[string]ZoneState, sizes map[string]int) {
	ready, notReady := map[string]int{}, map[string]int{}
	sizes = map[string]int{}
	for _, n := range nodes {
		if _, ok := n.Labels[labelExcludeDisruption]; ok {
			continue
		}
		z := ZoneKey(n)
		sizes[z]++
		if readyStatus(n) == v1.ConditionTrue {
			ready[z]++
		} else {
			notReady[z]++
		}
	}
	states = map[string]ZoneState{}
	for z := range sizes {
		switch {
		case ready[z] == 0 && notReady[z] > 0:
			states[z] = ZoneFullDisruption
		case notReady[z] > 2 && float32(notReady[z])/float32(notReady[z]+ready[z]) >= threshold:
			states[z] = ZonePartialDisruption
		default:
			states[z] = ZoneNormal
		}
	}
	return states, sizes
}

// AllDisrupted says every zone is fully disrupted (and there is one): the
// controller then suspects itself, or the network, rather than the nodes,
// and taints nothing (upstream's "master disruption mode").
func AllDisrupted(states map[string]ZoneState) bool {
	if len(states) == 0 {
		return false
	}
	for _, s := range states {
		if s != ZoneFullDisruption {
			return false
		}
	}
	return true
}

// ZoneRate is the nodes per second a zone may have tainted: the primary
// rate when normal or fully disrupted (a zone that is entirely down is
// evacuated), in a partially disrupted zone the secondary rate if the
// zone is large, else none.
func ZoneRate(state ZoneState, size int, e controller.NodeEviction) float32 {
	if state == ZonePartialDisruption {
		if size > e.LargeClusterSizeThreshold {
			return e.SecondaryRate
		}
		return 0
	}
	return e.Rate
}

// managedTaint is a NoExecute taint this controller sets.
func managedTaint(t v1.Taint) bool {
	return t.Effect == v1.TaintEffectNoExecute && (t.Key == v1.TaintNodeNotReady || t.Key == v1.TaintNodeUnreachable)
}

// NewlyTainted says next adds a NoExecute taint of this controller to a
// node that has none (what the zone's rate limits); swapping not-ready
// for unreachable is not limited, as upstream.
func NewlyTainted(cur, next []v1.Taint) bool {
	has := func(ts []v1.Taint) bool {
		for _, t := range ts {
			if managedTaint(t) {
				return true
			}
		}
		return false
	}
	return has(next) && !has(cur)
}

// Untainted is taints without this controller's NoExecute taints.
func Untainted(taints []v1.Taint) (out []v1.Taint, changed bool) {
	for _, t := range taints {
		if managedTaint(t) {
			changed = true
			continue
		}
		out = append(out, t)
	}
	return out, changed
}
