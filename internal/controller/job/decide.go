package job

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/skiff-sh/skiff/internal/controller/replicaset"
)

// Upstream's condition messages and pod back-off.
const (
	MessageBackoffLimitExceeded = "Job has reached the specified backoff limit"
	MessageDeadlineExceeded     = "Job was active longer than specified deadline"
	MessageCompletionsReached   = "Reached expected number of succeeded pods"
	ReasonJobSuspended          = "JobSuspended"
	ReasonJobResumed            = "JobResumed"

	// PodFailureBackoff is the delay before a failed pod is replaced,
	// doubling with each consecutive failure up to MaxPodFailureBackoff.
	PodFailureBackoff    = 10 * time.Second
	MaxPodFailureBackoff = 10 * time.Minute
)

// Input is what Decide needs: the cached Job, the pods it controls, and
// what the controller has in flight.
type Input struct {
	Job *batchv1.Job
	// Pods are the pods whose controller is Job.
	Pods []*v1.Pod
	// Removing reports pods whose tracking finalizer the controller has
	// removed but whose update the cache has not shown yet; they count
	// as finalizer-free. Nil: none.
	Removing func(types.UID) bool
	// CanManage is false while creations or deletions are in flight:
	// then no pods are created or deleted.
	CanManage bool
	Now       time.Time
}

// Event is an event to record on the Job.
type Event struct{ Type, Reason, Message string }

// Plan is what the sync must do, in order: delete Delete, create one
// pod per entry of Create (a completion index, or -1 for a NonIndexed
// Job), write Status (Status.Active already counts both), then remove
// the tracking finalizer from Finalize (only after Status is stored:
// it records the pods' outcomes), record Events, and look again after
// RequeueAfter when it is not zero.
type Plan struct {
	Status       batchv1.JobStatus
	Create       []int
	Delete       []*v1.Pod
	Finalize     []*v1.Pod
	Events       []Event
	RequeueAfter time.Duration
}

// Decide is one sync of a Job, as upstream's job controller: it counts
// the pods that finished through status.uncountedTerminatedPods (a pod's
// outcome is recorded there, then its tracking finalizer removed, then
// it moves to the succeeded/failed counters: each pod counts once even
// if it is deleted meanwhile), keeps min(parallelism, remaining) pods
// running, and finishes the Job: SuccessCriteriaMet or FailureTarget
// first, Complete or Failed once no pod is left running or uncounted.
func Decide(in Input) Plan {
	job := in.Job
	st := *job.Status.DeepCopy()
	var plan Plan
	if Finished(job) || job.DeletionTimestamp != nil {
		// Outcomes no longer matter: let every pod go.
		for _, p := range in.Pods {
			if hasFinalizer(p, in.Removing) {
				plan.Finalize = append(plan.Finalize, p)
			}
		}
		plan.Status = st
		return plan
	}
	indexed := isIndexed(job)
	suspended := job.Spec.Suspend != nil && *job.Spec.Suspend
	successTarget := hasCondition(&st, batchv1.JobSuccessCriteriaMet)
	failureTarget := hasCondition(&st, batchv1.JobFailureTarget)

	// Count: uncounted outcomes whose pods let go of their finalizer
	// move to the counters; newly finished pods become uncounted.
	byUID := make(map[types.UID]*v1.Pod, len(in.Pods))
	for _, p := range in.Pods {
		byUID[p.UID] = p
	}
	unc := batchv1.UncountedTerminatedPods{}
	if st.UncountedTerminatedPods != nil {
		unc = *st.UncountedTerminatedPods
	}
	pending := map[types.UID]bool{}
	var keepS, keepF []types.UID
	for _, uid := range unc.Succeeded {
		if p, ok := byUID[uid]; ok && hasFinalizer(p, in.Removing) {
			keepS, pending[uid] = append(keepS, uid), true
		} else {
			st.Succeeded++
		}
	}
	for _, uid := range unc.Failed {
		if p, ok := byUID[uid]; ok && hasFinalizer(p, in.Removing) {
			keepF, pending[uid] = append(keepF, uid), true
		} else {
			st.Failed++
		}
	}
	completed := parseIndexes(st.CompletedIndexes, completions(job))
	failJob := "" // the message of the first FailJob rule matched
	for _, p := range in.Pods {
		if !hasFinalizer(p, in.Removing) || pending[p.UID] {
			continue
		}
		switch {
		case p.Status.Phase == v1.PodSucceeded && indexed:
			// The completed index is the record: no UID to keep.
			if ix, ok := completionIndex(p); ok && ix < completions(job) {
				completed[ix] = true
			}
			plan.Finalize = append(plan.Finalize, p)
		case p.Status.Phase == v1.PodSucceeded:
			keepS = append(keepS, p.UID)
		case p.Status.Phase == v1.PodFailed:
			action, msg := matchFailurePolicy(job.Spec.PodFailurePolicy, p)
			switch action {
			case batchv1.PodFailurePolicyActionIgnore:
				// Not a failure: let it go uncounted.
				plan.Finalize = append(plan.Finalize, p)
				continue
			case batchv1.PodFailurePolicyActionFailJob:
				if failJob == "" {
					failJob = msg
				}
			}
			keepF = append(keepF, p.UID)
		case p.DeletionTimestamp != nil && !successTarget && !suspended && (!onlyFailed(job) || p.Spec.NodeName == ""):
			// A pod deleted before it ended failed, unless the Job
			// deleted it because it had succeeded or was suspended;
			// with podReplacementPolicy Failed it counts once it is
			// Failed (one no kubelet runs never will).
			keepF = append(keepF, p.UID)
		case p.DeletionTimestamp != nil && (successTarget || suspended):
			plan.Finalize = append(plan.Finalize, p)
		}
	}
	slices.Sort(keepS)
	slices.Sort(keepF)
	st.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: keepS, Failed: keepF}
	for _, uid := range append(slices.Clone(keepS), keepF...) {
		plan.Finalize = append(plan.Finalize, byUID[uid])
	}
	if indexed {
		st.CompletedIndexes = formatIndexes(completed)
		st.Succeeded = int32(len(completed))
	}
	succeeded := st.Succeeded + int32(len(keepS))
	failed := st.Failed + int32(len(keepF))

	var active, terminating []*v1.Pod
	var ready int32
	for _, p := range in.Pods {
		switch {
		case p.Status.Phase == v1.PodSucceeded || p.Status.Phase == v1.PodFailed:
		case p.DeletionTimestamp != nil:
			terminating = append(terminating, p)
		default:
			active = append(active, p)
			if replicaset.IsReady(p) {
				ready++
			}
		}
	}

	// Suspension and the start time.
	switch {
	case suspended && !hasCondition(&st, batchv1.JobSuspended):
		setCondition(&st, batchv1.JobSuspended, v1.ConditionTrue, ReasonJobSuspended, "Job suspended", in.Now)
		plan.Events = append(plan.Events, Event{v1.EventTypeNormal, "Suspended", "Job suspended"})
	case !suspended && hasCondition(&st, batchv1.JobSuspended):
		setCondition(&st, batchv1.JobSuspended, v1.ConditionFalse, ReasonJobResumed, "Job resumed", in.Now)
		plan.Events = append(plan.Events, Event{v1.EventTypeNormal, "Resumed", "Job resumed"})
		// The deadline counts from the resumption.
		st.StartTime = &metav1.Time{Time: in.Now}
	case !suspended && st.StartTime == nil:
		st.StartTime = &metav1.Time{Time: in.Now}
	}

	// Targets: failure first, as upstream.
	if !successTarget && !failureTarget {
		limit := backoffLimit(job)
		switch {
		case failJob != "":
			failureTarget = true
			setCondition(&st, batchv1.JobFailureTarget, v1.ConditionTrue, batchv1.JobReasonPodFailurePolicy, failJob, in.Now)
		case failed > limit || restartsPastLimit(job, active):
			failureTarget = true
			setCondition(&st, batchv1.JobFailureTarget, v1.ConditionTrue, batchv1.JobReasonBackoffLimitExceeded, MessageBackoffLimitExceeded, in.Now)
		case !suspended && pastDeadline(job, st.StartTime, in.Now):
			failureTarget = true
			setCondition(&st, batchv1.JobFailureTarget, v1.ConditionTrue, batchv1.JobReasonDeadlineExceeded, MessageDeadlineExceeded, in.Now)
		case succeededEnough(job, succeeded, len(active)):
			successTarget = true
			setCondition(&st, batchv1.JobSuccessCriteriaMet, v1.ConditionTrue, batchv1.JobReasonCompletionsReached, MessageCompletionsReached, in.Now)
		}
	}

	// Manage the active pods.
	want := 0
	if !successTarget && !failureTarget && !suspended {
		want = wantActive(job, succeeded, len(active))
	}
	created, deleted := 0, 0
	if in.CanManage {
		var excess []*v1.Pod
		if indexed {
			held := map[int]bool{}
			if onlyFailed(job) {
				// Their indexes wait until they are Failed.
				for _, p := range terminating {
					if ix, ok := completionIndex(p); ok {
						held[ix] = true
					}
				}
			}
			plan.Create, excess = manageIndexed(job, active, completed, held, want)
		} else if n := want - len(active); n < 0 {
			excess = replicaset.PodsToDelete(active, active, -n, in.Now)
		} else if onlyFailed(job) {
			// Terminating pods are replaced once they are Failed.
			plan.Create = nonIndexed(max(0, n-len(terminating)))
		} else {
			plan.Create = nonIndexed(n)
		}
		if len(plan.Create) > 0 {
			// Replacements of failed pods wait out the back-off.
			if wait := creationDelay(in.Pods, in.Now); wait > 0 {
				plan.Create, plan.RequeueAfter = nil, wait
			}
		}
		plan.Delete = excess
		created, deleted = len(plan.Create), len(excess)
	}
	st.Active = int32(len(active) + created - deleted)
	st.Ready = &ready
	st.Terminating = ptrInt32(int32(len(terminating) + deleted))

	// Finish once nothing runs and every outcome is counted.
	if (successTarget || failureTarget) && st.Active == 0 && *st.Terminating == 0 && len(keepS)+len(keepF) == 0 {
		if successTarget {
			setCondition(&st, batchv1.JobComplete, v1.ConditionTrue, batchv1.JobReasonCompletionsReached, MessageCompletionsReached, in.Now)
			st.CompletionTime = &metav1.Time{Time: in.Now}
			plan.Events = append(plan.Events, Event{v1.EventTypeNormal, "Completed", "Job completed"})
		} else {
			c := condition(&st, batchv1.JobFailureTarget)
			setCondition(&st, batchv1.JobFailed, v1.ConditionTrue, c.Reason, c.Message, in.Now)
			plan.Events = append(plan.Events, Event{v1.EventTypeWarning, c.Reason, c.Message})
		}
	}
	if !successTarget && !failureTarget && !suspended && job.Spec.ActiveDeadlineSeconds != nil && st.StartTime != nil {
		left := st.StartTime.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second).Sub(in.Now)
		if plan.RequeueAfter == 0 || left < plan.RequeueAfter {
			plan.RequeueAfter = left
		}
	}
	plan.Status = st
	return plan
}

// onlyFailed: podReplacementPolicy Failed (the default with a pod
// failure policy) replaces a pod only once it is Failed.
func onlyFailed(job *batchv1.Job) bool {
	return job.Spec.PodReplacementPolicy != nil && *job.Spec.PodReplacementPolicy == batchv1.Failed
}

// matchFailurePolicy returns the action of the first rule of policy
// that a failed pod matches ("" for none) and, for FailJob, upstream's
// message. Exit codes are those of terminated containers (init or not)
// that exited non-zero; conditions match by type and status.
func matchFailurePolicy(policy *batchv1.PodFailurePolicy, p *v1.Pod) (batchv1.PodFailurePolicyAction, string) {
	if policy == nil {
		return "", ""
	}
	statuses := append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...)
	for i, r := range policy.Rules {
		if req := r.OnExitCodes; req != nil {
			for _, cs := range statuses {
				t := cs.State.Terminated
				if t == nil || t.ExitCode == 0 || req.ContainerName != nil && *req.ContainerName != cs.Name {
					continue
				}
				if slices.Contains(req.Values, t.ExitCode) == (req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn) {
					return r.Action, fmt.Sprintf("Container %s for pod %s/%s failed with exit code %v matching %v rule at index %d",
						cs.Name, p.Namespace, p.Name, t.ExitCode, r.Action, i)
				}
			}
		}
		for _, pat := range r.OnPodConditions {
			for _, c := range p.Status.Conditions {
				if c.Type == pat.Type && c.Status == pat.Status {
					return r.Action, fmt.Sprintf("Pod %s/%s has condition %v matching %v rule at index %d",
						p.Namespace, p.Name, c.Type, r.Action, i)
				}
			}
		}
	}
	return "", ""
}

// Finished reports whether the Job has its Complete or Failed condition.
func Finished(job *batchv1.Job) bool {
	return hasCondition(&job.Status, batchv1.JobComplete) || hasCondition(&job.Status, batchv1.JobFailed)
}

func hasFinalizer(p *v1.Pod, removing func(types.UID) bool) bool {
	if removing != nil && removing(p.UID) {
		return false
	}
	return slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer)
}

func isIndexed(job *batchv1.Job) bool {
	return job.Spec.CompletionMode != nil && *job.Spec.CompletionMode == batchv1.IndexedCompletion
}

func completions(job *batchv1.Job) int {
	if job.Spec.Completions == nil {
		return 0
	}
	return int(*job.Spec.Completions)
}

func parallelism(job *batchv1.Job) int {
	if job.Spec.Parallelism == nil {
		return 1
	}
	return int(*job.Spec.Parallelism)
}

func backoffLimit(job *batchv1.Job) int32 {
	if job.Spec.BackoffLimit == nil {
		return 6
	}
	return *job.Spec.BackoffLimit
}

// wantActive is how many pods should run: parallelism, but no more than
// the completions left; a Job without completions starts no pod once
// one has succeeded.
func wantActive(job *batchv1.Job, succeeded int32, active int) int {
	p := parallelism(job)
	if job.Spec.Completions == nil {
		if succeeded > 0 {
			return min(active, p)
		}
		return p
	}
	return max(0, min(p, completions(job)-int(succeeded)))
}

// succeededEnough: completions reached, or for a Job without
// completions one pod succeeded and none is left running.
func succeededEnough(job *batchv1.Job, succeeded int32, active int) bool {
	if job.Spec.Completions == nil {
		return succeeded > 0 && active == 0
	}
	return int(succeeded) >= completions(job)
}

// restartsPastLimit: with restartPolicy OnFailure failures restart
// containers in place, and their restarts count against the limit.
func restartsPastLimit(job *batchv1.Job, active []*v1.Pod) bool {
	if job.Spec.Template.Spec.RestartPolicy != v1.RestartPolicyOnFailure {
		return false
	}
	var n int32
	for _, p := range active {
		if p.Status.Phase != v1.PodRunning && p.Status.Phase != v1.PodPending {
			continue
		}
		for _, s := range append(slices.Clone(p.Status.InitContainerStatuses), p.Status.ContainerStatuses...) {
			n += s.RestartCount
		}
	}
	if limit := backoffLimit(job); limit > 0 {
		return n >= limit
	}
	return n > 0
}

func pastDeadline(job *batchv1.Job, start *metav1.Time, now time.Time) bool {
	if job.Spec.ActiveDeadlineSeconds == nil || start == nil {
		return false
	}
	return !now.Before(start.Add(time.Duration(*job.Spec.ActiveDeadlineSeconds) * time.Second))
}

// creationDelay is how long new pods must wait after failures: 10 s
// doubling with each failure since the last success (as far as the
// remaining pods tell), counted from the last failure.
func creationDelay(pods []*v1.Pod, now time.Time) time.Duration {
	var lastSuccess, lastFailure time.Time
	for _, p := range pods {
		if p.Status.Phase != v1.PodSucceeded {
			continue
		}
		if t := finishedAt(p); t.After(lastSuccess) {
			lastSuccess = t
		}
	}
	n := 0
	for _, p := range pods {
		if p.Status.Phase != v1.PodFailed {
			continue
		}
		t := finishedAt(p)
		if t.IsZero() || !t.After(lastSuccess) {
			continue
		}
		n++
		if t.After(lastFailure) {
			lastFailure = t
		}
	}
	if n == 0 {
		return 0
	}
	d := PodFailureBackoff
	for i := 1; i < n && d < MaxPodFailureBackoff; i++ {
		d *= 2
	}
	d = min(d, MaxPodFailureBackoff)
	if left := lastFailure.Add(d).Sub(now); left > 0 {
		return left
	}
	return 0
}

// finishedAt is when the pod's last container ended, or when it last
// changed condition; zero when unknown.
func finishedAt(p *v1.Pod) time.Time {
	var t time.Time
	for _, s := range p.Status.ContainerStatuses {
		if s.State.Terminated != nil && s.State.Terminated.FinishedAt.After(t) {
			t = s.State.Terminated.FinishedAt.Time
		}
	}
	if t.IsZero() {
		for _, c := range p.Status.Conditions {
			if c.LastTransitionTime.After(t) {
				t = c.LastTransitionTime.Time
			}
		}
	}
	return t
}

// manageIndexed returns the indexes to start (the lowest neither
// completed, running nor held, up to want running) and the active pods to
// delete: duplicates of an index, pods of completed or invalid indexes,
// and the highest indexes beyond want.
func manageIndexed(job *batchv1.Job, active []*v1.Pod, completed, held map[int]bool, want int) (create []int, excess []*v1.Pod) {
	running := map[int]bool{}
	var keep []int
	for _, p := range active {
		ix, ok := completionIndex(p)
		if !ok || ix >= completions(job) || completed[ix] || running[ix] {
			excess = append(excess, p)
			continue
		}
		running[ix] = true
		keep = append(keep, ix)
	}
	if len(keep) > want {
		slices.Sort(keep)
		drop := map[int]bool{}
		for _, ix := range keep[want:] {
			drop[ix] = true
		}
		for _, p := range active {
			if ix, ok := completionIndex(p); ok && drop[ix] && !slices.Contains(excess, p) {
				excess = append(excess, p)
				delete(drop, ix)
			}
		}
		return nil, excess
	}
	for ix := 0; ix < completions(job) && len(keep)+len(create) < want; ix++ {
		if !completed[ix] && !running[ix] && !held[ix] {
			create = append(create, ix)
		}
	}
	return create, excess
}

// completionIndex reads the pod's completion index annotation.
func completionIndex(p *v1.Pod) (int, bool) {
	s, ok := p.Annotations[batchv1.JobCompletionIndexAnnotation]
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// parseIndexes reads a completedIndexes list ("1,3-5"), keeping the
// indexes below n.
func parseIndexes(s string, n int) map[int]bool {
	out := map[int]bool{}
	if s == "" {
		return out
	}
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		if err != nil {
			continue
		}
		b := a
		if isRange {
			if b, err = strconv.Atoi(hi); err != nil {
				continue
			}
		}
		for i := a; i <= b && i < n; i++ {
			out[i] = true
		}
	}
	return out
}

// formatIndexes writes indexes as upstream's completedIndexes: ascending,
// runs of consecutive indexes as "a-b".
func formatIndexes(set map[int]bool) string {
	ixs := make([]int, 0, len(set))
	for i := range set {
		ixs = append(ixs, i)
	}
	slices.Sort(ixs)
	var parts []string
	for i := 0; i < len(ixs); {
		j := i
		for j+1 < len(ixs) && ixs[j+1] == ixs[j]+1 {
			j++
		}
		if j == i {
			parts = append(parts, strconv.Itoa(ixs[i]))
		} else {
			parts = append(parts, strconv.Itoa(ixs[i])+"-"+strconv.Itoa(ixs[j]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

func condition(st *batchv1.JobStatus, t batchv1.JobConditionType) *batchv1.JobCondition {
	for i := range st.Conditions {
		if st.Conditions[i].Type == t {
			return &st.Conditions[i]
		}
	}
	return nil
}

func hasCondition(st *batchv1.JobStatus, t batchv1.JobConditionType) bool {
	c := condition(st, t)
	return c != nil && c.Status == v1.ConditionTrue
}

// setCondition sets a condition, keeping its transition time when the
// status does not change.
func setCondition(st *batchv1.JobStatus, t batchv1.JobConditionType, status v1.ConditionStatus, reason, msg string, now time.Time) {
	c := condition(st, t)
	if c == nil {
		st.Conditions = append(st.Conditions, batchv1.JobCondition{Type: t})
		c = &st.Conditions[len(st.Conditions)-1]
	}
	if c.Status != status {
		c.LastTransitionTime = metav1.NewTime(now)
	}
	c.Status, c.Reason, c.Message, c.LastProbeTime = status, reason, msg, metav1.NewTime(now)
}

// nonIndexed is n creations of NonIndexed pods.
func nonIndexed(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = -1
	}
	if n == 0 {
		return nil
	}
	return out
}

func ptrInt32(n int32) *int32 { return &n }

// PodFromTemplate is the pod the Job creates: its template with the
// tracking finalizer and the Job as controller; for an Indexed Job index
// also names it (<job>-<index>-), annotates and labels it, makes its
// hostname <job>-<index> and gives its containers JOB_COMPLETION_INDEX.
// index < 0: NonIndexed.
func PodFromTemplate(job *batchv1.Job, index int) *v1.Pod {
	t := job.Spec.Template.DeepCopy()
	pod := &v1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			GenerateName:    job.Name + "-",
			Namespace:       job.Namespace,
			Labels:          t.Labels,
			Annotations:     t.Annotations,
			Finalizers:      append(t.Finalizers, batchv1.JobTrackingFinalizer),
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(job, batchv1.SchemeGroupVersion.WithKind("Job"))},
		},
		Spec: t.Spec,
	}
	if index < 0 {
		return pod
	}
	ix := strconv.Itoa(index)
	pod.GenerateName = job.Name + "-" + ix + "-"
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[batchv1.JobCompletionIndexAnnotation] = ix
	if pod.Labels == nil {
		pod.Labels = map[string]string{}
	}
	pod.Labels[batchv1.JobCompletionIndexAnnotation] = ix
	if pod.Spec.Hostname == "" {
		pod.Spec.Hostname = job.Name + "-" + ix
	}
	env := v1.EnvVar{Name: "JOB_COMPLETION_INDEX", ValueFrom: &v1.EnvVarSource{FieldRef: &v1.ObjectFieldSelector{
		FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']",
	}}}
	for _, cs := range [][]v1.Container{pod.Spec.InitContainers, pod.Spec.Containers} {
		for i := range cs {
			if !slices.ContainsFunc(cs[i].Env, func(e v1.EnvVar) bool { return e.Name == env.Name }) {
				cs[i].Env = append(cs[i].Env, env)
			}
		}
	}
	return pod
}
