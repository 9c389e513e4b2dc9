package replicaset

import (
	"math"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/skiff-sh/skiff/internal/controller"
)

// BurstReplicas caps the pods one sync creates or deletes, as upstream's
// replicaset controller (500).
const BurstReplicas = 500

// PodDeletionCostAnnotation lets users rank pods for scale-down: lower
// costs go first.
const PodDeletionCostAnnotation = "controller.kubernetes.io/pod-deletion-cost"

// Input is the state one ReplicaSet sync decides from.
type Input struct {
	// RS is the ReplicaSet.
	RS *appsv1.ReplicaSet
	// Selector is RS's spec.selector, parsed.
	Selector labels.Selector
	// Pods are the pods of RS's namespace, active or not.
	Pods []*v1.Pod
	// CanManage is false while the ReplicaSet's own creations or deletions
	// are still in flight: claims and status go on, but no new creates or
	// deletes.
	CanManage bool
	// Now is the current time (availability, scale-down ranking).
	Now time.Time
	// Related returns the pods of every ReplicaSet that shares RS's
	// controller (a Deployment's ReplicaSets, RS's own included:
	// upstream's indirectly related pods); scale-down prefers pods on
	// nodes crowded with them. Called only when some but not all owned
	// pods are to be deleted (listing them costs a pass over the
	// namespace's pods). Nil, or a nil result, counts only RS's own pods.
	Related func() []*v1.Pod
}

// Plan is what a sync does.
type Plan struct {
	// Claims are the active pods RS adopts (orphans that match the
	// selector), releases (its own that no longer match) and owns after
	// both.
	controller.Claims[*v1.Pod]
	// Create is how many pods to create (at most BurstReplicas).
	Create int
	// Delete are the pods to delete, in upstream's preference order.
	Delete []*v1.Pod
}

// Decide claims pods for in.RS and says how many to create or which to
// delete so that exactly spec.replicas active pods match.
func Decide(in Input) Plan {
	rs := in.RS
	deleting := rs.DeletionTimestamp != nil
	var active []*v1.Pod
	for _, pod := range in.Pods {
		if IsActive(pod) {
			active = append(active, pod)
		}
	}
	p := Plan{Claims: controller.SplitClaims(rs, active, func(p *v1.Pod) bool { return in.Selector.Matches(labels.Set(p.Labels)) })}
	if !in.CanManage || deleting {
		return p
	}
	diff := len(p.Owned) - int(replicas(rs))
	switch {
	case diff < 0:
		p.Create = min(-diff, BurstReplicas)
	case diff > 0:
		n := min(diff, BurstReplicas)
		var related []*v1.Pod
		if n < len(p.Owned) && in.Related != nil {
			related = in.Related()
		}
		if related == nil {
			related = p.Owned
		}
		p.Delete = PodsToDelete(p.Owned, related, n, in.Now)
	}
	return p
}

func replicas(rs *appsv1.ReplicaSet) int32 {
	if rs.Spec.Replicas == nil {
		return 1
	}
	return *rs.Spec.Replicas
}

// IsActive reports whether a pod counts toward replicas: not terminal and
// not being deleted (upstream's FilterActivePods).
func IsActive(p *v1.Pod) bool {
	return p.Status.Phase != v1.PodSucceeded && p.Status.Phase != v1.PodFailed && p.DeletionTimestamp == nil
}

// PodsToDelete returns the n pods of pods to delete first, in upstream's
// order: unassigned before assigned; Pending before Unknown before
// Running; not ready before ready; lower pod-deletion-cost first; more
// related active pods on the same node first; ready for less time first
// (logarithmic buckets); more container restarts first; newer first
// (logarithmic buckets). related are the pods counted per node (pods
// itself, or all the pods of a Deployment's ReplicaSets).
func PodsToDelete(pods, related []*v1.Pod, n int, now time.Time) []*v1.Pod {
	if n >= len(pods) {
		return append([]*v1.Pod(nil), pods...)
	}
	onNode := map[string]int{}
	for _, p := range related {
		if p.Spec.NodeName != "" && IsActive(p) {
			onNode[p.Spec.NodeName]++
		}
	}
	ranked := make([]rankedPod, len(pods))
	for i, p := range pods {
		ranked[i] = rankedPod{pod: p, rank: onNode[p.Spec.NodeName], cost: deletionCost(p)}
		if p.Spec.NodeName == "" {
			ranked[i].rank = 0
		}
	}
	sort.SliceStable(ranked, func(i, j int) bool { return deleteBefore(ranked[i], ranked[j], now) })
	out := make([]*v1.Pod, n)
	for i := range out {
		out[i] = ranked[i].pod
	}
	return out
}

type rankedPod struct {
	pod  *v1.Pod
	rank int
	cost int32
}

var phaseOrder = map[v1.PodPhase]int{v1.PodPending: 0, v1.PodUnknown: 1, v1.PodRunning: 2}

func deleteBefore(a, b rankedPod, now time.Time) bool {
	pa, pb := a.pod, b.pod
	if (pa.Spec.NodeName == "") != (pb.Spec.NodeName == "") {
		return pa.Spec.NodeName == ""
	}
	if oa, ob := phaseOrder[pa.Status.Phase], phaseOrder[pb.Status.Phase]; oa != ob {
		return oa < ob
	}
	ra, rb := IsReady(pa), IsReady(pb)
	if ra != rb {
		return !ra
	}
	if a.cost != b.cost {
		return a.cost < b.cost
	}
	if a.rank != b.rank {
		return a.rank > b.rank
	}
	if ra && rb {
		ta, tb := readySince(pa), readySince(pb)
		if !ta.Equal(tb) {
			if less, decided := newerFirst(ta, tb, now, pa, pb); decided {
				return less
			}
		}
	}
	if xa, xb := maxRestarts(pa), maxRestarts(pb); xa != xb {
		return xa > xb
	}
	ca, cb := pa.CreationTimestamp.Time, pb.CreationTimestamp.Time
	if !ca.Equal(cb) {
		less, _ := newerFirst(ca, cb, now, pa, pb)
		return less
	}
	return false
}

// newerFirst orders two distinct times newest first, a zero time before
// any other; times in the same power-of-two bucket of age tie and are
// ordered by UID (upstream's LogarithmicScaleDown, on by default).
func newerFirst(ta, tb, now time.Time, pa, pb *v1.Pod) (bool, bool) {
	if now.IsZero() || ta.IsZero() || tb.IsZero() {
		if ta.IsZero() || tb.IsZero() {
			return ta.IsZero(), true
		}
		return ta.After(tb), true
	}
	if d := ageBucket(now.Sub(ta)) - ageBucket(now.Sub(tb)); d != 0 {
		return d < 0, true
	}
	return pa.UID < pb.UID, true
}

func ageBucket(d time.Duration) int64 {
	if d <= 0 {
		return -1
	}
	return int64(math.Log2(float64(d)))
}

func deletionCost(p *v1.Pod) int32 {
	v, ok := p.Annotations[PodDeletionCostAnnotation]
	if !ok {
		return 0
	}
	c, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0
	}
	return int32(c)
}

func maxRestarts(p *v1.Pod) int32 {
	var m int32
	for _, c := range p.Status.ContainerStatuses {
		m = max(m, c.RestartCount)
	}
	return m
}

// IsReady reports the pod's Ready condition (controller.IsPodReady).
func IsReady(p *v1.Pod) bool { return controller.IsPodReady(p) }

// IsAvailable reports whether a pod has been ready for minReadySeconds
// (controller.IsPodAvailable).
func IsAvailable(p *v1.Pod, minReadySeconds int32, now time.Time) bool {
	return controller.IsPodAvailable(p, minReadySeconds, now)
}

func readySince(p *v1.Pod) time.Time { return controller.PodReadySince(p) }

// Status is the status RS reports for its owned active pods; manageErr is
// the error of the last creations or deletions (the ReplicaFailure
// condition), and scaleUp says which of the two failed.
func Status(rs *appsv1.ReplicaSet, owned []*v1.Pod, manageErr error, scaleUp bool, now time.Time) appsv1.ReplicaSetStatus {
	st := *rs.Status.DeepCopy()
	template := labels.SelectorFromSet(rs.Spec.Template.Labels)
	var full, ready, avail int32
	for _, p := range owned {
		if template.Matches(labels.Set(p.Labels)) {
			full++
		}
		if IsReady(p) {
			ready++
			if IsAvailable(p, rs.Spec.MinReadySeconds, now) {
				avail++
			}
		}
	}
	st.Replicas = int32(len(owned))
	st.FullyLabeledReplicas = full
	st.ReadyReplicas = ready
	st.AvailableReplicas = avail
	st.ObservedGeneration = rs.Generation
	idx := -1
	for i, c := range st.Conditions {
		if c.Type == appsv1.ReplicaSetReplicaFailure {
			idx = i
		}
	}
	switch {
	case manageErr != nil && idx < 0:
		reason := "FailedDelete"
		if scaleUp {
			reason = "FailedCreate"
		}
		st.Conditions = append(st.Conditions, appsv1.ReplicaSetCondition{
			Type: appsv1.ReplicaSetReplicaFailure, Status: v1.ConditionTrue,
			LastTransitionTime: metav1.NewTime(now), Reason: reason, Message: manageErr.Error(),
		})
	case manageErr == nil && idx >= 0:
		st.Conditions = append(st.Conditions[:idx], st.Conditions[idx+1:]...)
	}
	return st
}

// PodFromTemplate is the pod RS creates: its template with generateName
// <rs>-, RS as controller, and blockOwnerDeletion.
func PodFromTemplate(rs *appsv1.ReplicaSet) *v1.Pod {
	t := rs.Spec.Template.DeepCopy()
	return &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    rs.Name + "-",
			Namespace:       rs.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*ControllerRef(rs)},
		},
		Spec: t.Spec,
	}
}

// ControllerRef is the ownerReference RS puts on the pods it controls.
func ControllerRef(rs *appsv1.ReplicaSet) *metav1.OwnerReference {
	return metav1.NewControllerRef(rs, appsv1.SchemeGroupVersion.WithKind("ReplicaSet"))
}
