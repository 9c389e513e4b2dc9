package scheduler

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	v1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/apimachinery/pkg/util/strategicpatch"

	"github.com/skiff-sh/skiff/internal/scheduler/core"
	"github.com/skiff-sh/skiff/internal/scheduler/framework"
	"github.com/skiff-sh/skiff/internal/scheduler/queue"
)

// noteLengthLimit is the longest note an events.k8s.io Event may carry;
// longer FailedScheduling messages are cut, as upstream does.
const noteLengthLimit = 1024

// nomination says what a failed attempt does to the pod's
// status.nominatedNodeName.
type nomination struct {
	set  bool   // false: leave it as it is
	node string // with set: the new value, "" to clear it
}

// outcome is a failed attempt, as the failure handler needs it.
type outcome struct {
	// unschedulable: no node fits (reason Unschedulable); otherwise the
	// attempt failed with an error (reason SchedulerError).
	unschedulable bool
	// plugins rejected the pod; the queue retries it on their events.
	plugins  sets.Set[string]
	message  string
	nominate nomination
}

// scheduleOne makes one attempt for a popped pod: decide, then assume and
// bind in the background, or handle the failure.
func (s *Scheduler) scheduleOne(ctx context.Context, pi *queue.QueuedPodInfo) {
	pod := pi.Pod
	if pod.DeletionTimestamp != nil {
		s.recorder.Eventf(pod, nil, v1.EventTypeWarning, "FailedScheduling", "Scheduling", "skip schedule deleting pod: %v/%v", pod.Namespace, pod.Name)
		s.queue.Done(pi.Key())
		return
	}
	// A pod updated while it was being decided comes back once more; it
	// is already placed.
	if s.cache.IsAssumedPod(pod) {
		s.queue.Done(pi.Key())
		return
	}
	start := s.cfg.Clock.Now()
	if err := s.cache.UpdateSnapshot(s.snapshot); err != nil {
		s.fail(ctx, pi, start, outcome{message: err.Error(), nominate: nomination{set: true}})
		return
	}
	in := core.PreemptionInput{PDBs: s.pdbs(), Now: start}
	if s.queue.HasNominatedPods() {
		// Without nominations a decision need not look for them node by
		// node.
		in.Nominated = s.queue
	}
	d, err := s.core.Decide(pi.PodInfo, s.snapshot, in)
	switch {
	case errors.Is(err, core.ErrNoNodesAvailable):
		s.fail(ctx, pi, start, outcome{unschedulable: true, message: err.Error(), nominate: nomination{set: true}})
		return
	case err != nil:
		s.logger.Error("scheduling failed", "pod", podRef(pod), "err", err)
		s.fail(ctx, pi, start, outcome{message: err.Error(), nominate: nomination{set: true}})
		return
	case d.Node == "":
		s.metrics.preemptAttempts.Inc()
		o := outcome{unschedulable: true, plugins: d.FitError.Diagnosis.UnschedulablePlugins, message: d.Message}
		switch {
		case d.Nominate != nil:
			if err := s.preempt(ctx, pod, d.Nominate); err != nil {
				// The pod keeps its nomination and tries again later.
				s.logger.Error("preemption failed", "pod", podRef(pod), "node", d.Nominate.Node, "err", err)
				break
			}
			o.nominate = nomination{set: true, node: d.Nominate.Node}
		case d.ClearNomination:
			o.nominate = nomination{set: true}
		}
		s.logger.Debug("unschedulable", "pod", podRef(pod), "message", d.Message)
		s.fail(ctx, pi, start, o)
		return
	}

	// The assumed pod shares the informer's maps and slices; neither side
	// changes them.
	assumed := *pod
	assumed.Spec.NodeName = d.Node
	if err := s.cache.AssumePod(&assumed); err != nil {
		s.fail(ctx, pi, start, outcome{message: err.Error(), nominate: nomination{set: true}})
		return
	}
	s.queue.DeleteNominatedPodIfExists(pod)
	s.binding.Add(1)
	go func() {
		defer s.binding.Done()
		s.bind(ctx, pi, &assumed, start)
	}()
}

// bind writes the decision through pods/binding. On failure the pod's
// room is given back and the pod retried after its back-off.
func (s *Scheduler) bind(ctx context.Context, pi *queue.QueuedPodInfo, assumed *v1.Pod, start time.Time) {
	// Events that happen from now on cannot make this attempt fail as
	// unschedulable; the queue need not keep them for it.
	s.queue.Done(pi.Key())
	node := assumed.Spec.NodeName
	err := s.client.CoreV1().Pods(assumed.Namespace).Bind(ctx, &v1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: assumed.Namespace, Name: assumed.Name, UID: assumed.UID},
		Target:     v1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err != nil {
		s.logger.Info("binding failed", "pod", podRef(assumed), "node", node, "err", err)
		if ferr := s.cache.ForgetPod(assumed); ferr != nil {
			s.logger.Error("cache: forgetting a pod whose binding failed", "pod", podRef(assumed), "err", ferr)
		} else {
			s.queue.AssignedPodDeleted(assumed)
		}
		s.fail(ctx, pi, start, outcome{message: err.Error(), nominate: nomination{set: true}})
		return
	}
	if err := s.cache.FinishBinding(assumed); err != nil {
		s.logger.Error("cache: finishing a binding", "pod", podRef(assumed), "err", err)
	}
	now := s.cfg.Clock.Now()
	s.metrics.observeAttempt(resultScheduled, now.Sub(start))
	if pi.InitialAttemptTimestamp != nil {
		s.metrics.sliDuration.WithLabelValues(attemptsLabel(pi.Attempts)).Observe(now.Sub(*pi.InitialAttemptTimestamp).Seconds())
	}
	s.recorder.Eventf(assumed, nil, v1.EventTypeNormal, "Scheduled", "Binding", "Successfully assigned %v/%v to %v", assumed.Namespace, assumed.Name, node)
	s.logger.Debug("bound", "pod", podRef(assumed), "node", node)
}

func attemptsLabel(n int) string {
	if n >= 15 {
		return "15+"
	}
	return fmt.Sprint(n)
}

// fail handles a failed attempt: the pod goes back to the queue (parked
// until an event its rejecting plugins care about, or after back-off for
// errors), its nomination is recorded, and the user sees why in a
// FailedScheduling event and the PodScheduled condition.
func (s *Scheduler) fail(ctx context.Context, pi *queue.QueuedPodInfo, start time.Time, o outcome) {
	result, reason := resultError, v1.PodReasonSchedulerError
	if o.unschedulable {
		result, reason = resultUnschedulable, v1.PodReasonUnschedulable
	}
	s.metrics.observeAttempt(result, s.cfg.Clock.Since(start))

	pod := pi.Pod
	current, err := s.podLister.Pods(pod.Namespace).Get(pod.Name)
	switch {
	case err != nil || current.UID != pod.UID || terminal(current):
		// Deleted, replaced or finished meanwhile: nothing to retry or
		// report.
		s.queue.Done(pi.Key())
		return
	case assigned(current):
		// Bound meanwhile (by another scheduler, or a binding whose answer
		// was lost).
		s.queue.Done(pi.Key())
		return
	}
	pi.PodInfo = framework.NewPodInfo(current)
	pi.UnschedulablePlugins = o.plugins
	if err := s.queue.AddUnschedulableIfNotPresent(pi); err != nil {
		s.logger.Debug("requeue", "pod", podRef(pod), "err", err)
	}
	if o.nominate.set {
		if o.nominate.node != "" {
			s.queue.AddNominatedPod(pi.PodInfo, o.nominate.node)
		} else {
			s.queue.DeleteNominatedPodIfExists(current)
		}
	}

	s.recorder.Eventf(current, nil, v1.EventTypeWarning, "FailedScheduling", "Scheduling", "%s", truncate(o.message))
	cond := &v1.PodCondition{
		Type:               v1.PodScheduled,
		Status:             v1.ConditionFalse,
		Reason:             reason,
		Message:            o.message,
		ObservedGeneration: current.Generation,
	}
	if err := s.patchPodStatus(ctx, current, cond, o.nominate); err != nil {
		s.logger.Info("updating the status of an unscheduled pod", "pod", podRef(pod), "err", err)
	}
}

func truncate(msg string) string {
	if len(msg) <= noteLengthLimit {
		return msg
	}
	const suffix = " ..."
	return msg[:noteLengthLimit-len(suffix)] + suffix
}

// patchPodStatus sets cond (if not nil) and the nomination on pod's
// status with a strategic merge patch of the difference; it writes
// nothing when nothing changes.
func (s *Scheduler) patchPodStatus(ctx context.Context, pod *v1.Pod, cond *v1.PodCondition, nom nomination) error {
	next := pod.Status.DeepCopy()
	changed := false
	if cond != nil {
		changed = setPodCondition(next, *cond, metav1.NewTime(s.cfg.Clock.Now()))
	}
	if nom.set && next.NominatedNodeName != nom.node {
		next.NominatedNodeName = nom.node
		changed = true
	}
	if !changed {
		return nil
	}
	oldJSON, err := json.Marshal(v1.Pod{Status: pod.Status})
	if err != nil {
		return err
	}
	newJSON, err := json.Marshal(v1.Pod{Status: *next})
	if err != nil {
		return err
	}
	patch, err := strategicpatch.CreateTwoWayMergePatch(oldJSON, newJSON, &v1.Pod{})
	if err != nil {
		return fmt.Errorf("status patch for %s: %w", podRef(pod), err)
	}
	_, err = s.client.CoreV1().Pods(pod.Namespace).Patch(ctx, pod.Name, types.StrategicMergePatchType, patch, metav1.PatchOptions{}, "status")
	return err
}

// setPodCondition puts c into status and reports whether anything
// changed. The transition time moves only when the condition's status
// does.
func setPodCondition(status *v1.PodStatus, c v1.PodCondition, now metav1.Time) bool {
	c.LastTransitionTime = now
	for i := range status.Conditions {
		old := &status.Conditions[i]
		if old.Type != c.Type {
			continue
		}
		if old.Status == c.Status {
			c.LastTransitionTime = old.LastTransitionTime
		}
		same := old.Status == c.Status && old.Reason == c.Reason && old.Message == c.Message &&
			old.ObservedGeneration == c.ObservedGeneration && old.LastProbeTime.Equal(&c.LastProbeTime)
		*old = c
		return !same
	}
	status.Conditions = append(status.Conditions, c)
	return true
}

// preempt carries out a preemption plan: each victim is marked
// DisruptionTarget and deleted gracefully (its kubelet stops it), and pods
// of lower priority nominated to the same node lose their nomination,
// since the room they counted on is now promised to preemptor.
func (s *Scheduler) preempt(ctx context.Context, preemptor *v1.Pod, c *core.Candidate) error {
	s.metrics.preemptVictims.Observe(float64(len(c.Victims)))
	errs := make(chan error, len(c.Victims))
	for _, victim := range c.Victims {
		go func() { errs <- s.evict(ctx, preemptor, victim, c.Node) }()
	}
	var all []error
	for range c.Victims {
		if err := <-errs; err != nil {
			all = append(all, err)
		}
	}
	if err := errors.Join(all...); err != nil {
		return err
	}
	prio := framework.PodPriority(preemptor)
	for _, np := range s.queue.NominatedPodsForNode(c.Node) {
		if np.Priority() >= prio || np.Pod.UID == preemptor.UID {
			continue
		}
		current, err := s.podLister.Pods(np.Pod.Namespace).Get(np.Pod.Name)
		if err != nil {
			continue
		}
		if err := s.patchPodStatus(ctx, current, nil, nomination{set: true}); err != nil && !apierrors.IsNotFound(err) {
			s.logger.Info("clearing the nomination of a lower-priority pod", "pod", podRef(current), "err", err)
		}
	}
	return nil
}

func (s *Scheduler) evict(ctx context.Context, preemptor, victim *v1.Pod, node string) error {
	if victim.DeletionTimestamp != nil {
		return nil
	}
	cond := &v1.PodCondition{
		Type:               v1.DisruptionTarget,
		Status:             v1.ConditionTrue,
		Reason:             v1.PodReasonPreemptionByScheduler,
		Message:            fmt.Sprintf("%s: preempting to accommodate a higher priority pod", preemptor.Spec.SchedulerName),
		ObservedGeneration: victim.Generation,
	}
	if err := s.patchPodStatus(ctx, victim, cond, nomination{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("marking victim %s: %w", podRef(victim), err)
	}
	if err := s.client.CoreV1().Pods(victim.Namespace).Delete(ctx, victim.Name, metav1.DeleteOptions{}); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("deleting victim %s: %w", podRef(victim), err)
	}
	s.logger.Info("preempted", "pod", podRef(victim), "preemptor", podRef(preemptor), "node", node)
	s.recorder.Eventf(victim, preemptor, v1.EventTypeNormal, "Preempted", "Preempting", "Preempted by pod %v on node %v", preemptor.UID, node)
	return nil
}
