package deployment

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/skiff-sh/skiff/internal/controller"
)

// sync is upstream's syncDeployment: claim the ReplicaSets, then either
// only report status (being deleted), scale (paused, or spec.replicas
// changed), or take one rollout step of the strategy.
func (dc *Controller) sync(ctx context.Context, key string) error {
	ns, name, err := cache.SplitMetaNamespaceKey(key)
	if err != nil {
		return controller.Permanent(err)
	}
	cached, err := dc.dLister.Deployments(ns).Get(name)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	d := cached.DeepCopy()
	if d.Spec.Selector == nil || equality.Semantic.DeepEqual(d.Spec.Selector, &metav1.LabelSelector{}) {
		dc.recorder.Eventf(d, v1.EventTypeWarning, ReasonSelectingAll, "This deployment is selecting all pods. A non-empty selector is required.")
		if d.Status.ObservedGeneration < d.Generation {
			d.Status.ObservedGeneration = d.Generation
			_, err := dc.client.AppsV1().Deployments(ns).UpdateStatus(ctx, d, metav1.UpdateOptions{})
			return err
		}
		return nil
	}
	rsList, err := dc.claim(ctx, d)
	if err != nil {
		return err
	}
	if d.DeletionTimestamp != nil {
		newRS, olds, err := dc.newAndOld(ctx, d, rsList, false)
		if err != nil {
			return err
		}
		return dc.writeStatus(ctx, d, CalculateStatus(d, withNew(olds, newRS), newRS, dc.clock.Now()))
	}
	if c := PausedCondition(d, dc.clock.Now()); c != nil {
		st := *d.Status.DeepCopy()
		SetCondition(&st, *c)
		if err := dc.writeStatus(ctx, d, st); err != nil {
			return err
		}
	}
	newRS, olds, err := dc.newAndOld(ctx, d, rsList, false)
	if err != nil {
		return err
	}
	if d.Spec.Paused || IsScalingEvent(d, withNew(olds, newRS)) {
		return dc.scale(ctx, d, newRS, olds)
	}
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType {
		return dc.recreate(ctx, d, newRS, olds, rsList)
	}
	return dc.rolling(ctx, d, newRS, olds, rsList)
}

func withNew(olds []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) []*appsv1.ReplicaSet {
	all := append([]*appsv1.ReplicaSet(nil), olds...)
	if newRS != nil {
		all = append(all, newRS)
	}
	return all
}

// claim returns the ReplicaSets d controls after adopting matching
// orphans (once d, re-read live, is known not to be being deleted) and
// releasing those that stopped matching.
func (dc *Controller) claim(ctx context.Context, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, controller.Permanent(fmt.Errorf("deployment %s: selector: %w", key(d), err))
	}
	all, err := dc.rsLister.ReplicaSets(d.Namespace).List(labels.Everything())
	if err != nil {
		return nil, err
	}
	recheck := controller.RecheckDeletion(d, "deployment", dc.client.AppsV1().Deployments(d.Namespace).Get)
	return controller.ClaimObjects(ctx, d, sel, nil, all, controller.PatchClaims(ControllerRef(d), dc.client.AppsV1().ReplicaSets(d.Namespace).Patch, recheck))
}

// newAndOld splits rsList into the new ReplicaSet (the current
// template's) and the old ones, bringing the new one's annotations and
// minReadySeconds and the Deployment's revision up to date. Without a
// new ReplicaSet, create makes one (upstream's
// getAllReplicaSetsAndSyncRevision); otherwise newRS is nil.
func (dc *Controller) newAndOld(ctx context.Context, d *appsv1.Deployment, rsList []*appsv1.ReplicaSet, create bool) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet, error) {
	existing := FindNewReplicaSet(d, rsList)
	var olds []*appsv1.ReplicaSet
	for _, rs := range rsList {
		if rs != existing {
			olds = append(olds, rs)
		}
	}
	newRevision := MaxRevision(olds) + 1
	now := dc.clock.Now()
	if existing != nil {
		rs := existing.DeepCopy()
		if SetNewRSAnnotations(d, rs, newRevision, true) || rs.Spec.MinReadySeconds != d.Spec.MinReadySeconds {
			rs.Spec.MinReadySeconds = d.Spec.MinReadySeconds
			out, err := dc.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, rs, metav1.UpdateOptions{})
			return out, olds, err
		}
		st := *d.Status.DeepCopy()
		changed := setRevision(d, rs.Annotations[RevisionAnnotation])
		if hasProgressDeadline(d) && GetCondition(st, appsv1.DeploymentProgressing) == nil {
			SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, v1.ConditionTrue, ReasonFoundNewRS, fmt.Sprintf("Found new replica set %q", rs.Name), now))
			changed = true
		}
		if changed {
			if err := dc.putStatus(ctx, d, st); err != nil {
				return nil, nil, err
			}
		}
		return rs, olds, nil
	}
	if !create {
		return nil, olds, nil
	}
	rs := NewReplicaSet(d)
	*rs.Spec.Replicas = NewRSReplicas(d, withNew(olds, rs), rs)
	SetNewRSAnnotations(d, rs, newRevision, false)
	created, err := dc.client.AppsV1().ReplicaSets(d.Namespace).Create(ctx, rs, metav1.CreateOptions{})
	exists := false
	switch {
	case apierrors.IsAlreadyExists(err):
		exists = true
		got, getErr := dc.client.AppsV1().ReplicaSets(d.Namespace).Get(ctx, rs.Name, metav1.GetOptions{})
		if getErr != nil {
			return nil, nil, errors.Join(err, getErr)
		}
		if ref := metav1.GetControllerOfNoCopy(got); ref != nil && ref.UID == d.UID && EqualIgnoreHash(&d.Spec.Template, &got.Spec.Template) {
			created = got
			break
		}
		// A hash collision: the next name comes from a higher count.
		st := *d.Status.DeepCopy()
		st.CollisionCount = new(int32)
		if d.Status.CollisionCount != nil {
			*st.CollisionCount = *d.Status.CollisionCount + 1
		} else {
			*st.CollisionCount = 1
		}
		if perr := dc.putStatus(ctx, d, st); perr != nil {
			return nil, nil, errors.Join(err, perr)
		}
		return nil, nil, err
	case apierrors.HasStatusCause(err, v1.NamespaceTerminatingCause):
		return nil, nil, err
	case err != nil:
		msg := fmt.Sprintf("Failed to create new replica set %q: %v", rs.Name, err)
		if hasProgressDeadline(d) {
			st := *d.Status.DeepCopy()
			SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, v1.ConditionFalse, ReasonFailedRSCreate, msg, now))
			_ = dc.putStatus(ctx, d, st)
		}
		dc.recorder.Event(d, v1.EventTypeWarning, ReasonFailedRSCreate, msg)
		return nil, nil, err
	}
	if !exists && *rs.Spec.Replicas > 0 {
		dc.recorder.Eventf(d, v1.EventTypeNormal, ReasonScalingReplicaSet, "Scaled up replica set %s from 0 to %d", created.Name, *rs.Spec.Replicas)
	}
	st := *d.Status.DeepCopy()
	changed := setRevision(d, strconv.FormatInt(newRevision, 10))
	if !exists && hasProgressDeadline(d) {
		SetCondition(&st, NewCondition(appsv1.DeploymentProgressing, v1.ConditionTrue, ReasonNewRSCreated, fmt.Sprintf("Created new replica set %q", created.Name), now))
		changed = true
	}
	if changed {
		if err := dc.putStatus(ctx, d, st); err != nil {
			return nil, nil, err
		}
	}
	return created, olds, nil
}

// setRevision sets d's revision annotation; it reports a change.
func setRevision(d *appsv1.Deployment, rev string) bool {
	if d.Annotations[RevisionAnnotation] == rev {
		return false
	}
	if d.Annotations == nil {
		d.Annotations = map[string]string{}
	}
	d.Annotations[RevisionAnnotation] = rev
	return true
}

// putStatus writes d with status st (and d's annotations: the revision)
// and replaces d with what was stored.
func (dc *Controller) putStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) error {
	next := d.DeepCopy()
	next.Status = st
	out, err := dc.client.AppsV1().Deployments(d.Namespace).UpdateStatus(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return fmt.Errorf("update status of deployment %s: %w", key(d), err)
	}
	*d = *out
	return nil
}

// writeStatus is putStatus when st differs from d's status.
func (dc *Controller) writeStatus(ctx context.Context, d *appsv1.Deployment, st appsv1.DeploymentStatus) error {
	if equality.Semantic.DeepEqual(d.Status, st) {
		return nil
	}
	return dc.putStatus(ctx, d, st)
}

// scaleRS sets rs's replicas to `to` and its replicas annotations to
// d's, and records upstream's ScalingReplicaSet event when the size
// changed; op is "up" or "down", or empty to tell from the sizes. It
// returns the ReplicaSet as stored and whether the size changed.
func (dc *Controller) scaleRS(ctx context.Context, d *appsv1.Deployment, rs *appsv1.ReplicaSet, to int32, op string) (*appsv1.ReplicaSet, bool, error) {
	want := replicasOf(d.Spec.Replicas)
	from := specReplicas(rs)
	if from == to && !replicasAnnotationsNeedUpdate(rs, want, want+MaxSurge(d)) {
		return rs, false, nil
	}
	next := rs.DeepCopy()
	next.Spec.Replicas = &to
	setReplicasAnnotations(next, want, want+MaxSurge(d))
	out, err := dc.client.AppsV1().ReplicaSets(rs.Namespace).Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		return rs, false, fmt.Errorf("scale replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
	}
	if from == to {
		return out, false, nil
	}
	if op == "" {
		op = "down"
		if from < to {
			op = "up"
		}
	}
	dc.recorder.Eventf(d, v1.EventTypeNormal, ReasonScalingReplicaSet, "Scaled %s replica set %s from %d to %d", op, rs.Name, from, to)
	return out, true, nil
}

// apply writes steps and returns the ReplicaSets with the written ones
// replaced.
func (dc *Controller) apply(ctx context.Context, d *appsv1.Deployment, rss []*appsv1.ReplicaSet, steps []Scale, op string) ([]*appsv1.ReplicaSet, bool, error) {
	out := append([]*appsv1.ReplicaSet(nil), rss...)
	changed := false
	for _, s := range steps {
		updated, scaled, err := dc.scaleRS(ctx, d, s.RS, s.To, op)
		if err != nil {
			return nil, false, err
		}
		changed = changed || scaled
		for i := range out {
			if out[i] == s.RS {
				out[i] = updated
			}
		}
	}
	return out, changed, nil
}

// scale is upstream's sync for paused Deployments and scaling events:
// proportional scaling, the history clean-up while paused, and status.
func (dc *Controller) scale(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) error {
	steps, op := ProportionalScale(d, newRS, olds)
	all, _, err := dc.apply(ctx, d, withNew(olds, newRS), steps, op)
	if err != nil {
		return err
	}
	newRS, olds = split(all, newRS)
	if d.Spec.Paused {
		if err := dc.cleanup(ctx, d, olds); err != nil {
			return err
		}
	}
	return dc.writeStatus(ctx, d, CalculateStatus(d, all, newRS, dc.clock.Now()))
}

// split takes the new ReplicaSet (by name) back out of all.
func split(all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) (*appsv1.ReplicaSet, []*appsv1.ReplicaSet) {
	if newRS == nil {
		return nil, all
	}
	var olds []*appsv1.ReplicaSet
	var n *appsv1.ReplicaSet
	for _, rs := range all {
		if rs.Name == newRS.Name {
			n = rs
		} else {
			olds = append(olds, rs)
		}
	}
	return n, olds
}

// rolling is one RollingUpdate step: scale the new ReplicaSet up within
// maxSurge, or else the old ones down within maxUnavailable; once
// complete, clean up the history.
func (dc *Controller) rolling(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds, rsList []*appsv1.ReplicaSet) error {
	if newRS == nil {
		var err error
		if newRS, olds, err = dc.newAndOld(ctx, d, rsList, true); err != nil {
			return err
		}
	}
	want := replicasOf(d.Spec.Replicas)
	if cur := specReplicas(newRS); cur != want {
		to := want
		if cur < want {
			to = NewRSReplicas(d, withNew(olds, newRS), newRS)
		}
		updated, scaled, err := dc.scaleRS(ctx, d, newRS, to, "")
		if err != nil {
			return err
		}
		newRS = updated
		if scaled {
			return dc.rolloutStatus(ctx, d, withNew(olds, newRS), newRS)
		}
	}
	all, scaled, err := dc.apply(ctx, d, withNew(olds, newRS), ScaleDownOld(d, newRS, olds), "")
	if err != nil {
		return err
	}
	if scaled {
		return dc.rolloutStatus(ctx, d, all, newRS)
	}
	if Complete(d, &d.Status) {
		if err := dc.cleanup(ctx, d, olds); err != nil {
			return err
		}
	}
	return dc.rolloutStatus(ctx, d, all, newRS)
}

// recreate is one Recreate step: old ReplicaSets to 0, wait until none
// of their pods runs, then the new ReplicaSet at spec.replicas.
func (dc *Controller) recreate(ctx context.Context, d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds, rsList []*appsv1.ReplicaSet) error {
	var steps []Scale
	for _, rs := range active(olds) {
		steps = append(steps, Scale{RS: rs, To: 0})
	}
	all, scaled, err := dc.apply(ctx, d, withNew(olds, newRS), steps, "")
	if err != nil {
		return err
	}
	newRS, olds = split(all, newRS)
	if scaled {
		return dc.rolloutStatus(ctx, d, all, newRS)
	}
	running, err := dc.oldPodsRunning(d, newRS, olds)
	if err != nil {
		return err
	}
	if running {
		return dc.rolloutStatus(ctx, d, all, newRS)
	}
	if newRS == nil {
		if newRS, olds, err = dc.newAndOld(ctx, d, rsList, true); err != nil {
			return err
		}
	}
	if newRS, _, err = dc.scaleRS(ctx, d, newRS, replicasOf(d.Spec.Replicas), ""); err != nil {
		return err
	}
	if Complete(d, &d.Status) {
		if err := dc.cleanup(ctx, d, olds); err != nil {
			return err
		}
	}
	return dc.rolloutStatus(ctx, d, withNew(olds, newRS), newRS)
}

// oldPodsRunning reports whether an old ReplicaSet still counts pods or
// controls a pod that is not terminal.
func (dc *Controller) oldPodsRunning(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, olds []*appsv1.ReplicaSet) (bool, error) {
	if sum(olds, func(rs *appsv1.ReplicaSet) int32 { return rs.Status.Replicas }) > 0 {
		return true, nil
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return false, controller.Permanent(err)
	}
	pods, err := dc.podLister.Pods(d.Namespace).List(sel)
	if err != nil {
		return false, err
	}
	old := map[types.UID]bool{}
	for _, rs := range olds {
		old[rs.UID] = true
	}
	for _, p := range pods {
		ref := metav1.GetControllerOfNoCopy(p)
		if ref == nil || !old[ref.UID] || (newRS != nil && ref.UID == newRS.UID) {
			continue
		}
		if p.Status.Phase != v1.PodFailed && p.Status.Phase != v1.PodSucceeded {
			return true, nil
		}
	}
	return false, nil
}

// cleanup deletes the old ReplicaSets past revisionHistoryLimit.
func (dc *Controller) cleanup(ctx context.Context, d *appsv1.Deployment, olds []*appsv1.ReplicaSet) error {
	for _, rs := range ToCleanUp(d, olds) {
		err := dc.client.AppsV1().ReplicaSets(rs.Namespace).Delete(ctx, rs.Name, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("clean up replicaset %s/%s: %w", rs.Namespace, rs.Name, err)
		}
	}
	return nil
}

// rolloutStatus writes RolloutStatus; when nothing changed and the
// rollout could still time out, it looks again at the deadline.
func (dc *Controller) rolloutStatus(ctx context.Context, d *appsv1.Deployment, all []*appsv1.ReplicaSet, newRS *appsv1.ReplicaSet) error {
	now := dc.clock.Now()
	st := RolloutStatus(d, all, newRS, now)
	if equality.Semantic.DeepEqual(d.Status, st) {
		if after, ok := RecheckAfter(d, st, now); ok {
			return controller.RequeueAfter(after)
		}
		return nil
	}
	return dc.putStatus(ctx, d, st)
}
