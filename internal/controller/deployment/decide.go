package deployment

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/skiff-sh/skiff/internal/controller"
)

// Upstream's annotation and label keys.
const (
	// RevisionAnnotation numbers a Deployment's rollouts; the new
	// ReplicaSet and the Deployment carry the current one.
	RevisionAnnotation = "deployment.kubernetes.io/revision"
	// RevisionHistoryAnnotation lists the earlier revisions a ReplicaSet
	// had, when a rollback brought it back.
	RevisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"
	// DesiredReplicasAnnotation is the Deployment's spec.replicas when the
	// ReplicaSet was last scaled.
	DesiredReplicasAnnotation = "deployment.kubernetes.io/desired-replicas"
	// MaxReplicasAnnotation is spec.replicas + maxSurge at that time; the
	// proportional scaler reads it back.
	MaxReplicasAnnotation = "deployment.kubernetes.io/max-replicas"
	// PodTemplateHashLabel tells a Deployment's ReplicaSets and their
	// pods apart.
	PodTemplateHashLabel = appsv1.DefaultDeploymentUniqueLabelKey
	// lastApplied and rollbackTo are Deployment annotations never copied
	// to ReplicaSets.
	lastApplied = v1.LastAppliedConfigAnnotation
	rollbackTo  = "deprecated.deployment.rollback.to"
	// maxRevHistoryChars bounds RevisionHistoryAnnotation.
	maxRevHistoryChars = 2000
)

// Upstream's condition reasons.
const (
	ReasonReplicaSetUpdated  = "ReplicaSetUpdated"
	ReasonFailedRSCreate     = "ReplicaSetCreateError"
	ReasonNewRSCreated       = "NewReplicaSetCreated"
	ReasonFoundNewRS         = "FoundNewReplicaSet"
	ReasonNewRSAvailable     = "NewReplicaSetAvailable"
	ReasonTimedOut           = "ProgressDeadlineExceeded"
	ReasonPaused             = "DeploymentPaused"
	ReasonResumed            = "DeploymentResumed"
	ReasonMinimumAvailable   = "MinimumReplicasAvailable"
	ReasonMinimumUnavailable = "MinimumReplicasUnavailable"
)

// EqualIgnoreHash reports whether two pod templates are equal once their
// pod-template-hash labels are dropped.
func EqualIgnoreHash(a, b *v1.PodTemplateSpec) bool {
	a, b = a.DeepCopy(), b.DeepCopy()
	delete(a.Labels, PodTemplateHashLabel)
	delete(b.Labels, PodTemplateHashLabel)
	return equality.Semantic.DeepEqual(a, b)
}

func replicasOf(n *int32) int32 {
	if n == nil {
		return 1
	}
	return *n
}

// scaled resolves an int-or-percent against total; percentages round up
// or down as asked.
func scaled(v *intstr.IntOrString, total int32, roundUp bool) int32 {
	if v == nil {
		return 0
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, int(total), roundUp)
	if err != nil {
		return 0
	}
	return int32(n)
}

// ResolveFenceposts turns maxSurge (rounded up) and maxUnavailable
// (rounded down) into counts for desired replicas; when both come to 0,
// maxUnavailable is 1 so that a rollout can move.
func ResolveFenceposts(maxSurge, maxUnavailable *intstr.IntOrString, desired int32) (surge, unavailable int32) {
	surge = scaled(maxSurge, desired, true)
	unavailable = scaled(maxUnavailable, desired, false)
	if surge == 0 && unavailable == 0 {
		unavailable = 1
	}
	return surge, unavailable
}

func isRolling(d *appsv1.Deployment) bool {
	return d.Spec.Strategy.Type == appsv1.RollingUpdateDeploymentStrategyType && d.Spec.Strategy.RollingUpdate != nil
}

// MaxSurge is the Deployment's surge in pods (0 for Recreate).
func MaxSurge(d *appsv1.Deployment) int32 {
	if !isRolling(d) {
		return 0
	}
	s, _ := ResolveFenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, replicasOf(d.Spec.Replicas))
	return s
}

// MaxUnavailable is how many pods may be unavailable (0 for Recreate or
// no replicas, at most spec.replicas).
func MaxUnavailable(d *appsv1.Deployment) int32 {
	want := replicasOf(d.Spec.Replicas)
	if !isRolling(d) || want == 0 {
		return 0
	}
	_, u := ResolveFenceposts(d.Spec.Strategy.RollingUpdate.MaxSurge, d.Spec.Strategy.RollingUpdate.MaxUnavailable, want)
	return min(u, want)
}

// sum adds up f over the non-nil ReplicaSets.
func sum(rss []*appsv1.ReplicaSet, f func(*appsv1.ReplicaSet) int32) int32 {
	var n int32
	for _, rs := range rss {
		if rs != nil {
			n += f(rs)
		}
	}
	return n
}

func specReplicas(rs *appsv1.ReplicaSet) int32 { return replicasOf(rs.Spec.Replicas) }

// active keeps the non-nil ReplicaSets with spec.replicas > 0.
func active(rss []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	var out []*appsv1.ReplicaSet
	for _, rs := range rss {
		if rs != nil && specReplicas(rs) > 0 {
			out = append(out, rs)
		}
	}
	return out
}

// olderFirst orders by creation time, then name.
func olderFirst(a, b *appsv1.ReplicaSet) bool {
	if a.CreationTimestamp.Equal(&b.CreationTimestamp) {
		return a.Name < b.Name
	}
	return a.CreationTimestamp.Before(&b.CreationTimestamp)
}

func sortOlderFirst(rss []*appsv1.ReplicaSet) {
	sort.SliceStable(rss, func(i, j int) bool { return olderFirst(rss[i], rss[j]) })
}

// FindNewReplicaSet is the oldest ReplicaSet whose template equals the
// Deployment's (ignoring the hash label), or nil.
func FindNewReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	sorted := append([]*appsv1.ReplicaSet(nil), rss...)
	sortOlderFirst(sorted)
	for _, rs := range sorted {
		if EqualIgnoreHash(&rs.Spec.Template, &d.Spec.Template) {
			return rs
		}
	}
	return nil
}

// Revision is a ReplicaSet's or Deployment's revision annotation (0 when
// absent or not a number).
func Revision(obj metav1.Object) int64 {
	n, err := strconv.ParseInt(obj.GetAnnotations()[RevisionAnnotation], 10, 64)
	if err != nil {
		return 0
	}
	return n
}

// MaxRevision is the highest revision among rss.
func MaxRevision(rss []*appsv1.ReplicaSet) int64 {
	var m int64
	for _, rs := range rss {
		m = max(m, Revision(rs))
	}
	return m
}

func skipCopy(key string) bool {
	switch key {
	case lastApplied, RevisionAnnotation, RevisionHistoryAnnotation, DesiredReplicasAnnotation, MaxReplicasAnnotation, rollbackTo:
		return true
	}
	return false
}

// SetNewRSAnnotations brings the new ReplicaSet's annotations up to date:
// the Deployment's own annotations (kubernetes.io/change-cause among
// them, not the controller's keys nor last-applied-configuration), the
// revision newRevision if higher than the ReplicaSet's (keeping the old
// one in the revision history: a rollback), and, for a ReplicaSet not
// created yet (exists false), the replicas annotations. It reports
// whether anything changed.
func SetNewRSAnnotations(d *appsv1.Deployment, rs *appsv1.ReplicaSet, newRevision int64, exists bool) bool {
	changed := false
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	for k, v := range d.Annotations {
		if skipCopy(k) {
			continue
		}
		if cur, ok := rs.Annotations[k]; ok && cur == v {
			continue
		}
		rs.Annotations[k] = v
		changed = true
	}
	oldRevision, had := rs.Annotations[RevisionAnnotation]
	old, err := strconv.ParseInt(oldRevision, 10, 64)
	if err != nil {
		if oldRevision != "" {
			return changed
		}
		old = 0
	}
	if old < newRevision {
		rs.Annotations[RevisionAnnotation] = strconv.FormatInt(newRevision, 10)
		changed = true
		if had {
			appendRevisionHistory(rs, oldRevision)
		}
	}
	if !exists && setReplicasAnnotations(rs, replicasOf(d.Spec.Replicas), replicasOf(d.Spec.Replicas)+MaxSurge(d)) {
		changed = true
	}
	return changed
}

// appendRevisionHistory adds rev to the history, dropping the oldest
// entries past maxRevHistoryChars.
func appendRevisionHistory(rs *appsv1.ReplicaSet, rev string) {
	hist := rs.Annotations[RevisionHistoryAnnotation]
	if hist == "" {
		rs.Annotations[RevisionHistoryAnnotation] = rev
		return
	}
	parts := strings.Split(hist, ",")
	total := len(hist) + len(rev) + 1
	start := 0
	for total > maxRevHistoryChars && start < len(parts) {
		total -= len(parts[start]) + 1
		start++
	}
	if total <= maxRevHistoryChars {
		rs.Annotations[RevisionHistoryAnnotation] = strings.Join(append(parts[start:], rev), ",")
	}
}

// setReplicasAnnotations writes the desired and max replicas annotations
// and reports whether they changed.
func setReplicasAnnotations(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	if !replicasAnnotationsNeedUpdate(rs, desired, maxReplicas) {
		return false
	}
	if rs.Annotations == nil {
		rs.Annotations = map[string]string{}
	}
	rs.Annotations[DesiredReplicasAnnotation] = strconv.Itoa(int(desired))
	rs.Annotations[MaxReplicasAnnotation] = strconv.Itoa(int(maxReplicas))
	return true
}

func replicasAnnotationsNeedUpdate(rs *appsv1.ReplicaSet, desired, maxReplicas int32) bool {
	return rs.Annotations[DesiredReplicasAnnotation] != strconv.Itoa(int(desired)) ||
		rs.Annotations[MaxReplicasAnnotation] != strconv.Itoa(int(maxReplicas))
}

func int32Annotation(rs *appsv1.ReplicaSet, key string) (int32, bool) {
	v, ok := rs.Annotations[key]
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(v, 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(n), true
}

// NewRSReplicas is how many replicas the new ReplicaSet should have now:
// Recreate wants them all; RollingUpdate adds up to maxSurge above
// spec.replicas over all ReplicaSets, never past spec.replicas.
func NewRSReplicas(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) int32 {
	want := replicasOf(d.Spec.Replicas)
	if !isRolling(d) {
		return want
	}
	cur := specReplicas(newRS)
	maxTotal := want + MaxSurge(d)
	total := sum(all, specReplicas)
	if total >= maxTotal {
		return cur
	}
	return cur + min(maxTotal-total, want-cur)
}

// Scale is one ReplicaSet's new spec.replicas.
type Scale struct {
	RS *appsv1.ReplicaSet
	To int32
}

// ScaleDownOld is one rolling-update step on the old ReplicaSets:
// first the unavailable replicas of old ReplicaSets go (oldest first, up
// to what keeps spec.replicas-maxUnavailable possible), then available
// ones down to spec.replicas-maxUnavailable available overall. The
// ReplicaSets are not modified.
func ScaleDownOld(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) []Scale {
	olds := active(oldRSs)
	if sum(olds, specReplicas) == 0 {
		return nil
	}
	size := map[*appsv1.ReplicaSet]int32{}
	for _, rs := range olds {
		size[rs] = specReplicas(rs)
	}
	minAvailable := replicasOf(d.Spec.Replicas) - MaxUnavailable(d)
	allCount := sum(oldRSs, specReplicas) + specReplicas(newRS)
	newUnavailable := specReplicas(newRS) - newRS.Status.AvailableReplicas
	maxScaledDown := allCount - minAvailable - newUnavailable
	if maxScaledDown <= 0 {
		return nil
	}
	sortOlderFirst(olds)
	var cleaned int32
	for _, rs := range olds {
		if cleaned >= maxScaledDown {
			break
		}
		unavailable := size[rs] - rs.Status.AvailableReplicas
		if size[rs] == 0 || unavailable <= 0 {
			continue
		}
		n := min(maxScaledDown-cleaned, unavailable)
		size[rs] -= n
		cleaned += n
	}
	// Only the ReplicaSets that had replicas count: pods of one already
	// at 0 are on their way out. An old ReplicaSet counts no more than its
	// spec: right after a scale-down its status may still count the pods
	// it is deleting, and trusting it would scale down twice (below
	// maxUnavailable).
	available := newRS.Status.AvailableReplicas + sum(olds, func(rs *appsv1.ReplicaSet) int32 {
		return min(rs.Status.AvailableReplicas, specReplicas(rs))
	})
	if available > minAvailable {
		budget := available - minAvailable
		var done int32
		for _, rs := range olds {
			if done >= budget {
				break
			}
			if size[rs] == 0 {
				continue
			}
			n := min(size[rs], budget-done)
			size[rs] -= n
			done += n
		}
	}
	var out []Scale
	for _, rs := range olds {
		if size[rs] != specReplicas(rs) {
			out = append(out, Scale{RS: rs, To: size[rs]})
		}
	}
	return out
}

// FindActiveOrLatest is the one ReplicaSet with replicas (or, with none,
// the new one or the newest old one); nil when several have replicas.
func FindActiveOrLatest(newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	if newRS == nil && len(oldRSs) == 0 {
		return nil
	}
	olds := append([]*appsv1.ReplicaSet(nil), oldRSs...)
	sort.SliceStable(olds, func(i, j int) bool { return olderFirst(olds[j], olds[i]) })
	act := active(append(olds, newRS))
	switch len(act) {
	case 0:
		if newRS != nil {
			return newRS
		}
		return olds[0]
	case 1:
		return act[0]
	}
	return nil
}

// isSaturated reports whether rs runs the whole Deployment, available.
func isSaturated(d *appsv1.Deployment, rs *appsv1.ReplicaSet) bool {
	if rs == nil {
		return false
	}
	want := replicasOf(d.Spec.Replicas)
	desired, ok := int32Annotation(rs, DesiredReplicasAnnotation)
	return ok && desired == want && specReplicas(rs) == want && rs.Status.AvailableReplicas == want
}

// ProportionalScale is a scaling event (spec.replicas changed, or a
// paused Deployment) on a Deployment with several ReplicaSets: the one
// active ReplicaSet takes spec.replicas; a saturated new ReplicaSet lets
// the old ones go to 0; otherwise, during a rolling update, the
// difference to spec.replicas+maxSurge is spread over the active
// ReplicaSets in proportion to their size against the max-replicas they
// were scaled for, the rounding left-over going to the largest. It
// returns every ReplicaSet to write (some only for their annotations)
// and whether the change is "up" or "down".
func ProportionalScale(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, oldRSs []*appsv1.ReplicaSet) ([]Scale, string) {
	want := replicasOf(d.Spec.Replicas)
	if rs := FindActiveOrLatest(newRS, oldRSs); rs != nil {
		if specReplicas(rs) == want {
			return nil, ""
		}
		return []Scale{{RS: rs, To: want}}, ""
	}
	if isSaturated(d, newRS) {
		var out []Scale
		for _, rs := range active(oldRSs) {
			out = append(out, Scale{RS: rs, To: 0})
		}
		return out, ""
	}
	if !isRolling(d) {
		return nil, ""
	}
	all := active(append(append([]*appsv1.ReplicaSet(nil), oldRSs...), newRS))
	var allowed int32
	if want > 0 {
		allowed = want + MaxSurge(d)
	}
	toAdd := allowed - sum(all, specReplicas)
	op := ""
	switch {
	case toAdd > 0:
		// Larger first; among equals the newer.
		sort.SliceStable(all, func(i, j int) bool {
			if specReplicas(all[i]) == specReplicas(all[j]) {
				return olderFirst(all[j], all[i])
			}
			return specReplicas(all[i]) > specReplicas(all[j])
		})
		op = "up"
	case toAdd < 0:
		// Larger first; among equals the older.
		sort.SliceStable(all, func(i, j int) bool {
			if specReplicas(all[i]) == specReplicas(all[j]) {
				return olderFirst(all[i], all[j])
			}
			return specReplicas(all[i]) > specReplicas(all[j])
		})
		op = "down"
	}
	sizes := make([]int32, len(all))
	var added int32
	for i, rs := range all {
		p := proportion(d, rs, toAdd, added)
		sizes[i] = specReplicas(rs) + p
		added += p
	}
	out := make([]Scale, len(all))
	for i, rs := range all {
		if i == 0 && toAdd != 0 {
			sizes[0] = max(sizes[0]+toAdd-added, 0)
		}
		out[i] = Scale{RS: rs, To: sizes[i]}
	}
	return out, op
}

// proportion is rs's share of toAdd, bounded by what is left of it.
func proportion(d *appsv1.Deployment, rs *appsv1.ReplicaSet, toAdd, added int32) int32 {
	if rs == nil || specReplicas(rs) == 0 || toAdd == 0 || toAdd == added {
		return 0
	}
	f := fraction(d, rs)
	left := toAdd - added
	if toAdd > 0 {
		return min(f, left)
	}
	return max(f, left)
}

// fraction is how much rs grows or shrinks for the Deployment's new
// size, from the max-replicas it was last scaled for.
func fraction(d *appsv1.Deployment, rs *appsv1.ReplicaSet) int32 {
	want := replicasOf(d.Spec.Replicas)
	if want == 0 {
		return -specReplicas(rs)
	}
	total := want + MaxSurge(d)
	annotated, ok := int32Annotation(rs, MaxReplicasAnnotation)
	if !ok || annotated == 0 {
		annotated = d.Status.Replicas
	}
	if annotated == 0 {
		return 0
	}
	size := float64(specReplicas(rs)) * float64(total) / float64(annotated)
	return int32(math.Round(size)) - specReplicas(rs)
}

// IsScalingEvent reports whether an active ReplicaSet was scaled for a
// spec.replicas other than the Deployment's.
func IsScalingEvent(d *appsv1.Deployment, all []*appsv1.ReplicaSet) bool {
	for _, rs := range active(all) {
		desired, ok := int32Annotation(rs, DesiredReplicasAnnotation)
		if ok && desired != replicasOf(d.Spec.Replicas) {
			return true
		}
	}
	return false
}

// ToCleanUp are the old ReplicaSets past revisionHistoryLimit to delete,
// lowest revision first; ones that still have replicas, have not been
// observed at their generation, or are being deleted are kept (and still
// count).
func ToCleanUp(d *appsv1.Deployment, oldRSs []*appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	limit := d.Spec.RevisionHistoryLimit
	if limit == nil || *limit == math.MaxInt32 {
		return nil
	}
	var alive []*appsv1.ReplicaSet
	for _, rs := range oldRSs {
		if rs != nil && rs.DeletionTimestamp == nil {
			alive = append(alive, rs)
		}
	}
	diff := len(alive) - int(*limit)
	if diff <= 0 {
		return nil
	}
	sort.SliceStable(alive, func(i, j int) bool {
		ri, rj := Revision(alive[i]), Revision(alive[j])
		if ri == rj {
			return olderFirst(alive[i], alive[j])
		}
		return ri < rj
	})
	var out []*appsv1.ReplicaSet
	for _, rs := range alive[:diff] {
		if rs.Status.Replicas != 0 || specReplicas(rs) != 0 || rs.Generation > rs.Status.ObservedGeneration {
			continue
		}
		out = append(out, rs)
	}
	return out
}

// hasProgressDeadline reports whether progressDeadlineSeconds is set
// (upstream treats MaxInt32 as none).
func hasProgressDeadline(d *appsv1.Deployment) bool {
	return d.Spec.ProgressDeadlineSeconds != nil && *d.Spec.ProgressDeadlineSeconds != math.MaxInt32
}

// GetCondition returns the condition of type t, or nil.
func GetCondition(st appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

// NewCondition is a condition that changed at now.
func NewCondition(t appsv1.DeploymentConditionType, s v1.ConditionStatus, reason, msg string, now time.Time) appsv1.DeploymentCondition {
	ts := metav1.NewTime(now)
	return appsv1.DeploymentCondition{Type: t, Status: s, LastUpdateTime: ts, LastTransitionTime: ts, Reason: reason, Message: msg}
}

// SetCondition puts c in st as upstream: an existing condition with the
// same status and reason stays as it is; one with the same status keeps
// its lastTransitionTime.
func SetCondition(st *appsv1.DeploymentStatus, c appsv1.DeploymentCondition) {
	cur := GetCondition(*st, c.Type)
	if cur != nil && cur.Status == c.Status && cur.Reason == c.Reason {
		return
	}
	if cur != nil && cur.Status == c.Status {
		c.LastTransitionTime = cur.LastTransitionTime
	}
	RemoveCondition(st, c.Type)
	st.Conditions = append(st.Conditions, c)
}

// RemoveCondition drops the condition of type t.
func RemoveCondition(st *appsv1.DeploymentStatus, t appsv1.DeploymentConditionType) {
	var out []appsv1.DeploymentCondition
	for _, c := range st.Conditions {
		if c.Type != t {
			out = append(out, c)
		}
	}
	st.Conditions = out
}

// CalculateStatus is the status from the ReplicaSets (newRS may be nil),
// with the Available condition: True once spec.replicas-maxUnavailable
// pods are available.
func CalculateStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, now time.Time) appsv1.DeploymentStatus {
	available := sum(all, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.AvailableReplicas })
	st := appsv1.DeploymentStatus{
		ObservedGeneration:  d.Generation,
		Replicas:            sum(all, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.Replicas }),
		UpdatedReplicas:     sum([]*appsv1.ReplicaSet{newRS}, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.Replicas }),
		ReadyReplicas:       sum(all, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.ReadyReplicas }),
		AvailableReplicas:   available,
		UnavailableReplicas: max(sum(all, specReplicas)-available, 0),
		CollisionCount:      d.Status.CollisionCount,
	}
	st.Conditions = append(st.Conditions, d.Status.Conditions...)
	if available >= replicasOf(d.Spec.Replicas)-MaxUnavailable(d) {
		SetCondition(&st, NewCondition(appsv1.DeploymentAvailable, v1.ConditionTrue, ReasonMinimumAvailable, "Deployment has minimum availability.", now))
	} else {
		SetCondition(&st, NewCondition(appsv1.DeploymentAvailable, v1.ConditionFalse, ReasonMinimumUnavailable, "Deployment does not have minimum availability.", now))
	}
	return st
}

// Complete reports whether st has every replica updated and available
// for the Deployment's current generation.
func Complete(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	want := replicasOf(d.Spec.Replicas)
	return st.UpdatedReplicas == want && st.Replicas == want && st.AvailableReplicas == want && st.ObservedGeneration >= d.Generation
}

// progressing reports whether st moved forward from the stored status:
// more updated, fewer old, more ready or more available replicas.
func progressing(d *appsv1.Deployment, st *appsv1.DeploymentStatus) bool {
	old := d.Status
	return st.UpdatedReplicas > old.UpdatedReplicas || st.Replicas-st.UpdatedReplicas < old.Replicas-old.UpdatedReplicas ||
		st.ReadyReplicas > old.ReadyReplicas || st.AvailableReplicas > old.AvailableReplicas
}

// timedOut reports whether the Progressing condition of st has not been
// updated for progressDeadlineSeconds.
func timedOut(d *appsv1.Deployment, st *appsv1.DeploymentStatus, now time.Time) bool {
	if !hasProgressDeadline(d) {
		return false
	}
	c := GetCondition(*st, appsv1.DeploymentProgressing)
	switch {
	case c == nil || c.Reason == ReasonNewRSAvailable:
		return false
	case c.Reason == ReasonTimedOut:
		return true
	}
	return c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Before(now)
}

func subject(d *appsv1.Deployment, newRS *appsv1.ReplicaSet) string {
	if newRS != nil {
		return fmt.Sprintf("ReplicaSet %q", newRS.Name)
	}
	return fmt.Sprintf("Deployment %q", d.Name)
}

// RolloutStatus is the status after a rollout step: CalculateStatus plus
// the Progressing condition (NewReplicaSetAvailable once complete,
// ReplicaSetUpdated on progress, ProgressDeadlineExceeded after the
// deadline without progress) and the first ReplicaFailure of the
// ReplicaSets (the new one first).
func RolloutStatus(d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet, now time.Time) appsv1.DeploymentStatus {
	st := CalculateStatus(d, all, newRS, now)
	if !hasProgressDeadline(d) {
		RemoveCondition(&st, appsv1.DeploymentProgressing)
	}
	cur := GetCondition(d.Status, appsv1.DeploymentProgressing)
	complete := st.Replicas == st.UpdatedReplicas && cur != nil && cur.Reason == ReasonNewRSAvailable
	if hasProgressDeadline(d) && !complete {
		switch {
		case Complete(d, &st):
			SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, v1.ConditionTrue, ReasonNewRSAvailable,
				subject(d, newRS)+" has successfully progressed.", now))
		case progressing(d, &st):
			c := NewCondition(appsv1.DeploymentProgressing, v1.ConditionTrue, ReasonReplicaSetUpdated, subject(d, newRS)+" is progressing.", now)
			// Progress refreshes lastUpdateTime even with the same reason.
			if cur != nil {
				if cur.Status == v1.ConditionTrue {
					c.LastTransitionTime = cur.LastTransitionTime
				}
				RemoveCondition(&st, appsv1.DeploymentProgressing)
			}
			SetCondition(&st, c)
		case timedOut(d, &st, now):
			SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, v1.ConditionFalse, ReasonTimedOut,
				subject(d, newRS)+" has timed out progressing.", now))
		}
	}
	if f := replicaFailure(all, newRS); f != nil {
		SetCondition(&st, *f)
	} else {
		RemoveCondition(&st, appsv1.DeploymentReplicaFailure)
	}
	return st
}

func replicaFailure(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) *appsv1.DeploymentCondition {
	ordered := append([]*appsv1.ReplicaSet{newRS}, all...)
	for _, rs := range ordered {
		if rs == nil {
			continue
		}
		for _, c := range rs.Status.Conditions {
			if c.Type == appsv1.ReplicaSetReplicaFailure && c.Status == v1.ConditionTrue {
				return &appsv1.DeploymentCondition{Type: appsv1.DeploymentReplicaFailure, Status: c.Status,
					LastUpdateTime: c.LastTransitionTime, LastTransitionTime: c.LastTransitionTime, Reason: c.Reason, Message: c.Message}
			}
		}
	}
	return nil
}

// RecheckAfter is when a Deployment whose Progressing condition may time
// out should be looked at again; ok is false when it cannot time out.
func RecheckAfter(d *appsv1.Deployment, st appsv1.DeploymentStatus, now time.Time) (time.Duration, bool) {
	c := GetCondition(d.Status, appsv1.DeploymentProgressing)
	if !hasProgressDeadline(d) || c == nil || Complete(d, &st) || c.Reason == ReasonTimedOut {
		return 0, false
	}
	after := c.LastUpdateTime.Add(time.Duration(*d.Spec.ProgressDeadlineSeconds) * time.Second).Sub(now)
	if after < time.Second {
		return time.Second, true
	}
	return after + time.Second, true
}

// PausedCondition is the Progressing condition a pause or resume writes
// (Unknown, DeploymentPaused or DeploymentResumed), or nil when nothing
// changes; a ProgressDeadlineExceeded stays.
func PausedCondition(d *appsv1.Deployment, now time.Time) *appsv1.DeploymentCondition {
	if !hasProgressDeadline(d) {
		return nil
	}
	c := GetCondition(d.Status, appsv1.DeploymentProgressing)
	if c != nil && c.Reason == ReasonTimedOut {
		return nil
	}
	paused := c != nil && c.Reason == ReasonPaused
	switch {
	case d.Spec.Paused && !paused:
		nc := NewCondition(appsv1.DeploymentProgressing, v1.ConditionUnknown, ReasonPaused, "Deployment is paused", now)
		return &nc
	case !d.Spec.Paused && paused:
		nc := NewCondition(appsv1.DeploymentProgressing, v1.ConditionUnknown, ReasonResumed, "Deployment is resumed", now)
		return &nc
	}
	return nil
}

// NewReplicaSet is the ReplicaSet a Deployment's current template makes:
// named <deployment>-<hash>, template and selector with the
// pod-template-hash label, the Deployment as controller, 0 replicas.
func NewReplicaSet(d *appsv1.Deployment) *appsv1.ReplicaSet {
	t := d.Spec.Template.DeepCopy()
	hash := controller.ComputeHash(t, d.Status.CollisionCount)
	t.Labels = withLabel(d.Spec.Template.Labels, hash)
	sel := d.Spec.Selector.DeepCopy()
	if sel == nil {
		sel = &metav1.LabelSelector{}
	}
	sel.MatchLabels = withLabel(sel.MatchLabels, hash)
	return &appsv1.ReplicaSet{
		ObjectMeta: metav1.ObjectMeta{
			Name:            d.Name + "-" + hash,
			Namespace:       d.Namespace,
			OwnerReferences: []metav1.OwnerReference{*ControllerRef(d)},
			Labels:          withLabel(d.Spec.Template.Labels, hash),
		},
		Spec: appsv1.ReplicaSetSpec{
			Replicas:        new(int32),
			MinReadySeconds: d.Spec.MinReadySeconds,
			Selector:        sel,
			Template:        *t,
		},
	}
}

func withLabel(in map[string]string, hash string) map[string]string {
	out := make(map[string]string, len(in)+1)
	for k, v := range in {
		out[k] = v
	}
	out[PodTemplateHashLabel] = hash
	return out
}

// ControllerRef is the ownerReference a Deployment puts on its
// ReplicaSets.
func ControllerRef(d *appsv1.Deployment) *metav1.OwnerReference {
	return metav1.NewControllerRef(d, appsv1.SchemeGroupVersion.WithKind("Deployment"))
}
