package nodelifecycle

import (
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
)

// Upstream's defaults.
const (
	// DefaultGracePeriod is --node-monitor-grace-period.
	DefaultGracePeriod = 50 * time.Second
	// MonitorPeriod is --node-monitor-period.
	MonitorPeriod = 5 * time.Second
)

// LastSeen is the last sign of life of a node's kubelet: its Lease's
// renewal or its Ready condition's heartbeat, whichever is later; the
// node's creation if neither exists.
func LastSeen(node *v1.Node, lease *coordinationv1.Lease) time.Time {
	t := node.CreationTimestamp.Time
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady && c.LastHeartbeatTime.After(t) {
			t = c.LastHeartbeatTime.Time
		}
	}
	if lease != nil && lease.Spec.RenewTime != nil && lease.Spec.RenewTime.After(t) {
		t = lease.Spec.RenewTime.Time
	}
	return t
}

// watched are the conditions set to Unknown when a kubelet goes silent.
var watched = []v1.NodeConditionType{v1.NodeReady, v1.NodeMemoryPressure, v1.NodeDiskPressure, v1.NodePIDPressure}

// StaleConditions returns the node's conditions once its kubelet has been
// silent too long: the watched ones Unknown (reason NodeStatusUnknown, or
// NodeStatusNeverUpdated for one never posted), as upstream; changed says
// whether anything differs.
func StaleConditions(node *v1.Node, now time.Time) (out []v1.NodeCondition, changed bool) {
	out = append([]v1.NodeCondition(nil), node.Status.Conditions...)
	for _, t := range watched {
		i := -1
		for j := range out {
			if out[j].Type == t {
				i = j
			}
		}
		if i < 0 {
			out = append(out, v1.NodeCondition{Type: t, Status: v1.ConditionUnknown, Reason: "NodeStatusNeverUpdated",
				Message: "Kubelet never posted node status.", LastHeartbeatTime: node.CreationTimestamp, LastTransitionTime: metav1.NewTime(now)})
			changed = true
			continue
		}
		if out[i].Status == v1.ConditionUnknown {
			continue
		}
		out[i].Status, out[i].Reason, out[i].Message = v1.ConditionUnknown, "NodeStatusUnknown", "Kubelet stopped posting node status."
		out[i].LastTransitionTime = metav1.NewTime(now)
		changed = true
	}
	return out, changed
}

// readyStatus is the node's Ready condition status ("" if absent).
func readyStatus(node *v1.Node) v1.ConditionStatus {
	for _, c := range node.Status.Conditions {
		if c.Type == v1.NodeReady {
			return c.Status
		}
	}
	return ""
}

// Taints returns the node's taints with the NoExecute taint its Ready
// condition calls for: node.kubernetes.io/not-ready for False,
// node.kubernetes.io/unreachable for Unknown, neither for True. A taint
// already present keeps its timeAdded (evictions count from it). A node
// without a Ready condition yet (just registered) is left alone until the
// grace period makes it Unknown.
func Taints(node *v1.Node, now time.Time) (out []v1.Taint, changed bool) {
	want := ""
	switch readyStatus(node) {
	case "":
		return node.Spec.Taints, false
	case v1.ConditionFalse:
		want = v1.TaintNodeNotReady
	case v1.ConditionUnknown:
		want = v1.TaintNodeUnreachable
	}
	have := false
	for _, t := range node.Spec.Taints {
		managed := t.Effect == v1.TaintEffectNoExecute && (t.Key == v1.TaintNodeNotReady || t.Key == v1.TaintNodeUnreachable)
		switch {
		case managed && t.Key == want:
			have = true
			out = append(out, t)
		case managed:
			changed = true
		default:
			out = append(out, t)
		}
	}
	if want != "" && !have {
		out = append(out, v1.Taint{Key: want, Effect: v1.TaintEffectNoExecute, TimeAdded: &metav1.Time{Time: now}})
		changed = true
	}
	return out, changed
}

// EvictAt says when a pod on a node with taints must go (upstream's taint
// eviction): at once if a NoExecute taint is not tolerated; never if every
// one is tolerated forever; else when the shortest tolerationSeconds
// since the taint was added runs out.
func EvictAt(pod *v1.Pod, taints []v1.Taint) (at time.Time, evict bool) {
	for i := range taints {
		taint := &taints[i]
		if taint.Effect != v1.TaintEffectNoExecute {
			continue
		}
		var shortest *int64
		tolerated := false
		for j := range pod.Spec.Tolerations {
			tol := &pod.Spec.Tolerations[j]
			if !tol.ToleratesTaint(klog.Background(), taint, false) {
				continue
			}
			tolerated = true
			if tol.TolerationSeconds == nil {
				continue
			}
			if shortest == nil || *tol.TolerationSeconds < *shortest {
				shortest = tol.TolerationSeconds
			}
		}
		if !tolerated {
			return time.Time{}, true
		}
		// A forever toleration wins over a timed one only if no timed
		// toleration matched: upstream takes the minimum of the timed ones.
		if shortest == nil {
			continue
		}
		added := time.Time{}
		if taint.TimeAdded != nil {
			added = taint.TimeAdded.Time
		}
		t := added.Add(time.Duration(max(*shortest, 0)) * time.Second)
		if !evict || t.Before(at) {
			at, evict = t, true
		}
	}
	return at, evict
}
