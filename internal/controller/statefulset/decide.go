package statefulset

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/skiff-sh/skiff/internal/controller"
	"github.com/skiff-sh/skiff/internal/controller/history"
)

// Upstream's labels on a StatefulSet's pods.
const (
	// PodNameLabel is the pod's own name, so that a Service can select
	// exactly one member.
	PodNameLabel = appsv1.StatefulSetPodNameLabel
	// PodIndexLabel is the pod's ordinal.
	PodIndexLabel = appsv1.PodIndexLabel
	// RevisionLabel names the ControllerRevision a pod was made from.
	RevisionLabel = appsv1.StatefulSetRevisionLabel
)

// DefaultRevisionHistoryLimit is spec.revisionHistoryLimit when unset.
const DefaultRevisionHistoryLimit = 10

var kind = appsv1.SchemeGroupVersion.WithKind("StatefulSet")

// ControllerRef is the ownerReference a StatefulSet puts on its pods and
// revisions.
func ControllerRef(set *appsv1.StatefulSet) *metav1.OwnerReference {
	return metav1.NewControllerRef(set, kind)
}

var ordinalName = regexp.MustCompile(`^(.*)-([0-9]+)$`)

// ParentAndOrdinal splits a member's name <set>-<ordinal>; the ordinal
// is -1 when the name has no such form.
func ParentAndOrdinal(name string) (string, int) {
	m := ordinalName.FindStringSubmatch(name)
	if m == nil {
		return "", -1
	}
	n, err := strconv.ParseInt(m[2], 10, 32)
	if err != nil {
		return "", -1
	}
	return m[1], int(n)
}

// PodName is the name of set's pod with ordinal ord.
func PodName(set *appsv1.StatefulSet, ord int) string { return fmt.Sprintf("%s-%d", set.Name, ord) }

// ClaimName is the PersistentVolumeClaim of template for ordinal ord:
// <template>-<set>-<ord>.
func ClaimName(set *appsv1.StatefulSet, template *v1.PersistentVolumeClaim, ord int) string {
	return fmt.Sprintf("%s-%s", template.Name, PodName(set, ord))
}

func replicas(set *appsv1.StatefulSet) int {
	if set.Spec.Replicas == nil {
		return 1
	}
	return int(*set.Spec.Replicas)
}

func startOrdinal(set *appsv1.StatefulSet) int {
	if set.Spec.Ordinals != nil {
		return int(set.Spec.Ordinals.Start)
	}
	return 0
}

// isMember reports whether pod's name makes it one of set's members.
func isMember(set *appsv1.StatefulSet, pod *v1.Pod) bool {
	parent, ord := ParentAndOrdinal(pod.Name)
	return ord >= 0 && parent == set.Name
}

func ordinalOf(pod *v1.Pod) int {
	_, ord := ParentAndOrdinal(pod.Name)
	return ord
}

// Claim splits a namespace's pods for set (controller.SplitClaims):
// a pod matches when the selector matches it and its name makes it one
// of set's members.
func Claim(set *appsv1.StatefulSet, sel labels.Selector, pods []*v1.Pod) controller.Claims[*v1.Pod] {
	return controller.SplitClaims(set, pods, func(p *v1.Pod) bool { return sel.Matches(labels.Set(p.Labels)) && isMember(set, p) })
}

// RevisionData is what a StatefulSet's ControllerRevision stores: a
// strategic merge patch that replaces spec.template, the same bytes
// `kubectl rollout undo` applies (keys sorted, as kubectl's).
func RevisionData(set *appsv1.StatefulSet) ([]byte, error) {
	return history.TemplatePatch(&set.Spec.Template)
}

// NewSetRevision is set's ControllerRevision number revision, hashed
// with collisionCount.
func NewSetRevision(set *appsv1.StatefulSet, revision int64, collisionCount *int32) (*appsv1.ControllerRevision, error) {
	data, err := RevisionData(set)
	if err != nil {
		return nil, err
	}
	cr := history.New(set, kind, set.Spec.Template.Labels, runtime.RawExtension{Raw: data}, revision, collisionCount)
	cr.Namespace = set.Namespace
	if len(set.Annotations) > 0 {
		cr.Annotations = make(map[string]string, len(set.Annotations))
		for k, v := range set.Annotations {
			cr.Annotations[k] = v
		}
	}
	return cr, nil
}

// ApplyRevision is set with its template replaced by rev's.
func ApplyRevision(set *appsv1.StatefulSet, rev *appsv1.ControllerRevision) (*appsv1.StatefulSet, error) {
	orig, err := json.Marshal(set)
	if err != nil {
		return nil, err
	}
	patched, err := strategicpatch.StrategicMergePatch(orig, rev.Data.Raw, appsv1.StatefulSet{})
	if err != nil {
		return nil, fmt.Errorf("apply revision %s: %w", rev.Name, err)
	}
	out := &appsv1.StatefulSet{}
	if err := json.Unmarshal(patched, out); err != nil {
		return nil, fmt.Errorf("apply revision %s: %w", rev.Name, err)
	}
	return out, nil
}

// NewPod is set's pod for ordinal ord, made from set's template and
// labelled with revision: name <set>-<ord> (generateName <set>- too, as
// upstream), the identity labels, hostname and subdomain, a volume per
// claim template, set as controller.
func NewPod(set *appsv1.StatefulSet, revision string, ord int) *v1.Pod {
	t := set.Spec.Template.DeepCopy()
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:            PodName(set, ord),
			GenerateName:    set.Name + "-",
			Namespace:       set.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      t.Finalizers,
			OwnerReferences: []metav1.OwnerReference{*ControllerRef(set)},
		},
		Spec: t.Spec,
	}
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[PodNameLabel] = pod.Name
	pod.Labels[PodIndexLabel] = strconv.Itoa(ord)
	pod.Labels[RevisionLabel] = revision
	pod.Spec.Hostname = pod.Name
	pod.Spec.Subdomain = set.Spec.ServiceName
	claims := Claims(set, ord)
	vols := make([]v1.Volume, 0, len(claims)+len(pod.Spec.Volumes))
	byName := map[string]bool{}
	for i, c := range claims {
		tmpl := set.Spec.VolumeClaimTemplates[i].Name
		byName[tmpl] = true
		vols = append(vols, v1.Volume{Name: tmpl, VolumeSource: v1.VolumeSource{
			PersistentVolumeClaim: &v1.PersistentVolumeClaimVolumeSource{ClaimName: c.Name}}})
	}
	for _, v := range pod.Spec.Volumes {
		if !byName[v.Name] {
			vols = append(vols, v)
		}
	}
	if len(vols) > 0 {
		pod.Spec.Volumes = vols
	}
	return pod
}

// Claims are the PersistentVolumeClaims of ordinal ord, one per
// volumeClaimTemplate in order: the template named <template>-<set>-<ord>
// and labelled with the set's selector's matchLabels too.
func Claims(set *appsv1.StatefulSet, ord int) []*v1.PersistentVolumeClaim {
	out := make([]*v1.PersistentVolumeClaim, 0, len(set.Spec.VolumeClaimTemplates))
	for i := range set.Spec.VolumeClaimTemplates {
		t := &set.Spec.VolumeClaimTemplates[i]
		c := &v1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: ClaimName(set, t, ord), Namespace: set.Namespace,
				Labels: map[string]string{}, Annotations: t.Annotations},
			Spec: *t.Spec.DeepCopy(),
		}
		for k, v := range t.Labels {
			c.Labels[k] = v
		}
		if set.Spec.Selector != nil {
			for k, v := range set.Spec.Selector.MatchLabels {
				c.Labels[k] = v
			}
		}
		out = append(out, c)
	}
	return out
}

// identityMatches reports whether pod carries the identity labels of its
// ordinal (the rest of its identity, name and hostname, cannot change).
func identityMatches(pod *v1.Pod) bool {
	return pod.Labels[PodNameLabel] == pod.Name && pod.Labels[PodIndexLabel] == strconv.Itoa(ordinalOf(pod))
}

func isCreated(p *v1.Pod) bool     { return p.Status.Phase != "" }
func isFailed(p *v1.Pod) bool      { return p.Status.Phase == v1.PodFailed }
func isSucceeded(p *v1.Pod) bool   { return p.Status.Phase == v1.PodSucceeded }
func isTerminating(p *v1.Pod) bool { return p.DeletionTimestamp != nil }

// isRunningAndReady is phase Running with the Ready condition true.
func isRunningAndReady(p *v1.Pod) bool {
	c := controller.PodReadyCondition(p)
	return p.Status.Phase == v1.PodRunning && c != nil && c.Status == v1.ConditionTrue
}

// availableAt is when a running and ready pod becomes available: ready
// for minReadySeconds. Zero for a pod that is not running and ready.
func availableAt(p *v1.Pod, minReadySeconds int32) time.Time {
	if !isRunningAndReady(p) {
		return time.Time{}
	}
	return controller.PodReadyCondition(p).LastTransitionTime.Add(time.Duration(minReadySeconds) * time.Second)
}

// isRunningAndAvailable is running and ready for minReadySeconds.
func isRunningAndAvailable(p *v1.Pod, minReadySeconds int32, now time.Time) bool {
	if !isRunningAndReady(p) {
		return false
	}
	return minReadySeconds == 0 || availableAt(p, minReadySeconds).Before(now)
}

// isHealthy is running, ready and not being deleted.
func isHealthy(p *v1.Pod) bool { return isRunningAndReady(p) && !isTerminating(p) }

// Op is one kind of write a sync makes.
type Op int

// The writes of a Plan.
const (
	// Create makes the pod of Ordinal (and its claims).
	Create Op = iota
	// Delete deletes Pod.
	Delete
	// FixIdentity relabels Pod with its pod-name and pod-index labels.
	FixIdentity
)

// Why a pod is deleted, for logs and events.
const (
	WhyScaleDown  = "scale down"
	WhyUpdate     = "update"
	WhyFailed     = "failed"
	WhyTerminated = "terminated"
)

// Action is one write.
type Action struct {
	// Op is what to do.
	Op Op
	// Ordinal is the member's ordinal.
	Ordinal int
	// Pod is the existing pod (Delete, FixIdentity).
	Pod *v1.Pod
	// Current, for Create, makes the pod from the current revision rather
	// than the update revision (a rolling update still below its
	// partition).
	Current bool
	// Why says why a pod is deleted.
	Why string
}

// Input is the state one StatefulSet sync decides from.
type Input struct {
	// Set is the StatefulSet.
	Set *appsv1.StatefulSet
	// Pods are the pods Set owns (after claiming), in any phase.
	Pods []*v1.Pod
	// CurrentRevision and UpdateRevision are the names of the revisions
	// the pods should be at now and at the end of the rollout.
	CurrentRevision, UpdateRevision string
	// Now is the current time (minReadySeconds).
	Now time.Time
}

// Plan is what a sync does: the writes, in order (an OrderedReady sync
// stops at the first that fails, a Parallel one runs them in slow-start
// batches), and the status to write.
type Plan struct {
	Actions []Action
	Status  appsv1.StatefulSetStatus
	// Blocked names the pod an OrderedReady set waits for, if any.
	Blocked string
}

// Decide is upstream's StatefulSet update: failed or finished members
// are deleted and recreated; missing ordinals in [start, start+replicas)
// are created; members outside it are deleted, highest ordinal first;
// then, for RollingUpdate, members not at the update revision are
// deleted (to be recreated at it) from the highest ordinal down to the
// partition. With podManagementPolicy OrderedReady each step waits for
// every lower member to be running, ready and available, and for
// terminations to finish, and at most one pod is created or deleted per
// sync; Parallel creates and deletes all at once.
//
// The plan's status counts the observed pods less those it deletes, so
// that a member deleted for an update is no longer counted at the
// current revision when it is recreated.
func Decide(in Input) Plan {
	p := decide(in)
	for _, a := range p.Actions {
		if a.Op != Delete {
			continue
		}
		if a.Pod.Labels[RevisionLabel] == in.CurrentRevision {
			p.Status.CurrentReplicas--
		}
		if a.Pod.Labels[RevisionLabel] == in.UpdateRevision {
			p.Status.UpdatedReplicas--
		}
	}
	completeRollingUpdate(in.Set, &p.Status)
	return p
}

func decide(in Input) Plan {
	set := in.Set
	n, start := replicas(set), startOrdinal(set)
	members := make([]*v1.Pod, n)
	var condemned []*v1.Pod
	for _, p := range in.Pods {
		ord := ordinalOf(p)
		switch {
		case ord >= start && ord < start+n:
			members[ord-start] = p
		case ord >= 0:
			condemned = append(condemned, p)
		}
	}
	sort.Slice(condemned, func(i, j int) bool { return ordinalOf(condemned[i]) > ordinalOf(condemned[j]) })
	p := Plan{Status: countStatus(set, in.Pods, in.CurrentRevision, in.UpdateRevision, in.Now)}
	if set.DeletionTimestamp != nil {
		return p
	}
	// The first unhealthy member, missing ones included: the only
	// condemned pod an ordered scale-down may delete while unhealthy.
	var firstUnhealthy *v1.Pod
	allHealthy := true
	for _, m := range members {
		if m == nil || !isHealthy(m) {
			firstUnhealthy, allHealthy = m, false
			break
		}
	}
	if allHealthy {
		for i := len(condemned) - 1; i >= 0; i-- {
			if !isHealthy(condemned[i]) {
				firstUnhealthy = condemned[i]
				break
			}
		}
	}
	monotonic := set.Spec.PodManagementPolicy != appsv1.ParallelPodManagement
	minReady := set.Spec.MinReadySeconds
	currentCount := int(set.Status.CurrentReplicas)
	create := func(ord int) Action {
		return Action{Op: Create, Ordinal: ord, Current: useCurrent(set, ord, start, currentCount) && in.CurrentRevision != in.UpdateRevision}
	}
	for i, m := range members {
		ord := start + i
		if m != nil && (isFailed(m) || isSucceeded(m)) {
			why := WhyFailed
			if isSucceeded(m) {
				why = WhyTerminated
			}
			if !isTerminating(m) {
				p.Actions = append(p.Actions, Action{Op: Delete, Ordinal: ord, Pod: m, Why: why})
			}
			if monotonic {
				p.Blocked = m.Name
				return p
			}
			continue
		}
		if m == nil {
			p.Actions = append(p.Actions, create(ord))
			if monotonic {
				p.Blocked = PodName(set, ord)
				return p
			}
			continue
		}
		if monotonic && (isTerminating(m) || !isRunningAndAvailable(m, minReady, in.Now)) {
			p.Blocked = m.Name
			return p
		}
		if !identityMatches(m) && !isTerminating(m) {
			p.Actions = append(p.Actions, Action{Op: FixIdentity, Ordinal: ord, Pod: m})
		}
	}
	for _, c := range condemned {
		if isTerminating(c) {
			if monotonic {
				p.Blocked = c.Name
				return p
			}
			continue
		}
		if monotonic && c != firstUnhealthy && !isRunningAndAvailable(c, minReady, in.Now) {
			p.Blocked = c.Name
			return p
		}
		p.Actions = append(p.Actions, Action{Op: Delete, Ordinal: ordinalOf(c), Pod: c, Why: WhyScaleDown})
		if monotonic {
			return p
		}
	}
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return p
	}
	p.Actions = append(p.Actions, rollingUpdate(set, members, in.UpdateRevision, in.Now, &p)...)
	return p
}

// useCurrent reports whether a recreated member ord of a RollingUpdate
// stays at the current revision: below the partition, or, with no
// partition, among the members not yet updated.
func useCurrent(set *appsv1.StatefulSet, ord, start, currentReplicas int) bool {
	if set.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType {
		return false
	}
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return ord < start+int(*ru.Partition)
	}
	return ord < start+currentReplicas
}

func partition(set *appsv1.StatefulSet) int {
	if ru := set.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return int(*ru.Partition)
	}
	return 0
}

// rollingUpdate deletes the highest members not at the update revision,
// down to the partition: one at a time, waiting for each replacement to
// be healthy; with maxUnavailable set, as many as keep at most that many
// members unhealthy.
func rollingUpdate(set *appsv1.StatefulSet, members []*v1.Pod, update string, now time.Time, p *Plan) []Action {
	minIdx := partition(set)
	start := startOrdinal(set)
	outdated := func(m *v1.Pod) bool { return m.Labels[RevisionLabel] != update && !isTerminating(m) }
	ru := set.Spec.UpdateStrategy.RollingUpdate
	if ru == nil || ru.MaxUnavailable == nil {
		for i := len(members) - 1; i >= minIdx; i-- {
			m := members[i]
			if m == nil {
				return nil
			}
			if outdated(m) {
				return []Action{{Op: Delete, Ordinal: start + i, Pod: m, Why: WhyUpdate}}
			}
			if !isHealthy(m) {
				p.Blocked = m.Name
				return nil
			}
		}
		return nil
	}
	maxUnavailable, err := intstr.GetScaledValueFromIntOrPercent(intstr.ValueOrDefault(ru.MaxUnavailable, intstr.FromInt32(1)), len(members), false)
	if err != nil || maxUnavailable < 1 {
		maxUnavailable = 1
	}
	unavailable := 0
	for _, m := range members {
		if m == nil || !isHealthy(m) || !isRunningAndAvailable(m, set.Spec.MinReadySeconds, now) {
			unavailable++
		}
	}
	var out []Action
	for i := len(members) - 1; i >= minIdx && unavailable < maxUnavailable; i-- {
		if m := members[i]; m != nil && outdated(m) {
			out = append(out, Action{Op: Delete, Ordinal: start + i, Pod: m, Why: WhyUpdate})
			if isHealthy(m) {
				unavailable++
			}
		}
	}
	return out
}

// Status is what set reports for its member pods (those whose names
// carry an ordinal): replicas created, ready, available for
// minReadySeconds, and at the current and update revisions (not counting
// terminating pods). A RollingUpdate whose pods are all updated and
// ready is complete: the current revision becomes the update revision.
func Status(set *appsv1.StatefulSet, pods []*v1.Pod, current, update string, now time.Time) appsv1.StatefulSetStatus {
	st := countStatus(set, pods, current, update, now)
	completeRollingUpdate(set, &st)
	return st
}

func countStatus(set *appsv1.StatefulSet, pods []*v1.Pod, current, update string, now time.Time) appsv1.StatefulSetStatus {
	st := appsv1.StatefulSetStatus{
		ObservedGeneration: set.Generation,
		CurrentRevision:    current,
		UpdateRevision:     update,
		CollisionCount:     set.Status.CollisionCount,
		Conditions:         set.Status.Conditions,
	}
	for _, p := range pods {
		if ordinalOf(p) < 0 {
			continue
		}
		if isCreated(p) {
			st.Replicas++
		}
		if isRunningAndReady(p) {
			st.ReadyReplicas++
			if isRunningAndAvailable(p, set.Spec.MinReadySeconds, now) {
				st.AvailableReplicas++
			}
		}
		if isCreated(p) && !isTerminating(p) {
			if p.Labels[RevisionLabel] == current {
				st.CurrentReplicas++
			}
			if p.Labels[RevisionLabel] == update {
				st.UpdatedReplicas++
			}
		}
	}
	return st
}

// completeRollingUpdate ends a RollingUpdate whose pods are all updated
// and ready: the update revision becomes the current one.
func completeRollingUpdate(set *appsv1.StatefulSet, st *appsv1.StatefulSetStatus) {
	if set.Spec.UpdateStrategy.Type != appsv1.OnDeleteStatefulSetStrategyType &&
		st.UpdatedReplicas == st.Replicas && st.ReadyReplicas == st.Replicas {
		st.CurrentReplicas = st.UpdatedReplicas
		st.CurrentRevision = st.UpdateRevision
	}
}

// NextAvailable is the earliest time after now at which a ready member
// becomes available, zero if none is waiting for minReadySeconds.
func NextAvailable(set *appsv1.StatefulSet, pods []*v1.Pod, now time.Time) time.Time {
	var next time.Time
	if set.Spec.MinReadySeconds == 0 {
		return next
	}
	for _, p := range pods {
		at := availableAt(p, set.Spec.MinReadySeconds)
		if at.IsZero() || !at.After(now) {
			continue
		}
		if next.IsZero() || at.Before(next) {
			next = at
		}
	}
	return next
}
