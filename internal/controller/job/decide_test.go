package job

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
)

var now = time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)

func newJob(completions, parallelism *int32, mutate ...func(*batchv1.Job)) *batchv1.Job {
	j := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "pi", Namespace: "ns", UID: "job-uid"},
		Spec: batchv1.JobSpec{
			Completions: completions, Parallelism: parallelism, BackoffLimit: ptr.To[int32](6),
			CompletionMode: ptr.To(batchv1.NonIndexedCompletion), Suspend: ptr.To(false),
			Template: v1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{batchv1.JobNameLabel: "pi"}},
				Spec:       v1.PodSpec{RestartPolicy: v1.RestartPolicyNever, Containers: []v1.Container{{Name: "c", Image: "busybox"}}},
			},
		},
		Status: batchv1.JobStatus{StartTime: &metav1.Time{Time: now.Add(-time.Minute)}},
	}
	for _, m := range mutate {
		m(j)
	}
	return j
}

// pod is a pod of the job named by its UID; spec is a comma-separated
// list of a phase, fin (has the tracking finalizer), del (being deleted),
// removing, ready, ix=N (completion index), failedAgo=D, exit=N (Failed
// with container c exited N).
func pod(uid string, spec string) *v1.Pod {
	p := &v1.Pod{ObjectMeta: metav1.ObjectMeta{Name: uid, Namespace: "ns", UID: types.UID(uid),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "Job", Name: "pi", UID: "job-uid", Controller: ptr.To(true)}}}}
	for _, f := range strings.Split(spec, ",") {
		switch {
		case f == "fin":
			p.Finalizers = []string{batchv1.JobTrackingFinalizer}
		case f == "del":
			p.DeletionTimestamp = &metav1.Time{Time: now}
		case f == "removing":
			// The controller has its finalizer removal in flight.
			p.Labels = map[string]string{"test/removing": "true"}
		case f == "ready":
			p.Status.Conditions = []v1.PodCondition{{Type: v1.PodReady, Status: v1.ConditionTrue}}
		case strings.HasPrefix(f, "ix="):
			p.Annotations = map[string]string{batchv1.JobCompletionIndexAnnotation: f[3:]}
		case strings.HasPrefix(f, "exit="):
			code, _ := strconv.Atoi(f[len("exit="):])
			p.Status.Phase = v1.PodFailed
			p.Status.ContainerStatuses = []v1.ContainerStatus{{Name: "c", State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{ExitCode: int32(code)}}}}
		case strings.HasPrefix(f, "failedAgo="):
			d, _ := time.ParseDuration(f[len("failedAgo="):])
			p.Status.Phase = v1.PodFailed
			p.Status.ContainerStatuses = []v1.ContainerStatus{{State: v1.ContainerState{Terminated: &v1.ContainerStateTerminated{
				ExitCode: 1, FinishedAt: metav1.NewTime(now.Add(-d))}}}}
		default:
			p.Status.Phase = v1.PodPhase(f)
		}
	}
	return p
}

func names(pods []*v1.Pod) string {
	var out []string
	for _, p := range pods {
		out = append(out, p.Name)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func conds(st batchv1.JobStatus) string {
	var out []string
	for _, c := range st.Conditions {
		if c.Status == v1.ConditionTrue {
			out = append(out, string(c.Type)+"/"+c.Reason)
		}
	}
	return strings.Join(out, " ")
}

func uncounted(st batchv1.JobStatus) string {
	if st.UncountedTerminatedPods == nil {
		return ""
	}
	return fmt.Sprintf("s%v f%v", st.UncountedTerminatedPods.Succeeded, st.UncountedTerminatedPods.Failed)
}

func withStatus(f func(*batchv1.JobStatus)) func(*batchv1.Job) {
	return func(j *batchv1.Job) { f(&j.Status) }
}

func withFailurePolicy(rules ...batchv1.PodFailurePolicyRule) func(*batchv1.Job) {
	return func(j *batchv1.Job) {
		j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: rules}
		j.Spec.PodReplacementPolicy = ptr.To(batchv1.Failed)
	}
}

func onExit(action batchv1.PodFailurePolicyAction, op batchv1.PodFailurePolicyOnExitCodesOperator, codes ...int32) batchv1.PodFailurePolicyRule {
	return batchv1.PodFailurePolicyRule{Action: action, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: op, Values: codes}}
}

func TestDecide(t *testing.T) {
	i32 := ptr.To[int32]
	cases := []struct {
		name  string
		job   *batchv1.Job
		pods  []*v1.Pod
		busy  bool // expectations outstanding
		check func(t *testing.T, p Plan)
	}{
		{
			name: "a new job starts parallelism pods and its clock",
			job:  newJob(i32(3), i32(2), withStatus(func(s *batchv1.JobStatus) { s.StartTime = nil })),
			check: func(t *testing.T, p Plan) {
				if !slices.Equal(p.Create, []int{-1, -1}) || p.Status.Active != 2 || p.Status.StartTime == nil {
					t.Errorf("create %v active %d start %v", p.Create, p.Status.Active, p.Status.StartTime)
				}
			},
		},
		{
			name: "no more pods than completions left",
			job:  newJob(i32(3), i32(2), withStatus(func(s *batchv1.JobStatus) { s.Succeeded = 2 })),
			pods: []*v1.Pod{pod("a", "Running,fin"), pod("b", "Running,fin")},
			check: func(t *testing.T, p Plan) {
				if len(p.Create) != 0 || len(p.Delete) != 1 || p.Status.Active != 1 || *p.Status.Terminating != 1 {
					t.Errorf("create %v delete %s active %d", p.Create, names(p.Delete), p.Status.Active)
				}
			},
		},
		{
			name: "in-flight creations: nothing created",
			job:  newJob(i32(3), i32(2)),
			busy: true,
			check: func(t *testing.T, p Plan) {
				if len(p.Create) != 0 {
					t.Errorf("create %v", p.Create)
				}
			},
		},
		{
			name: "a finished pod is recorded uncounted and let go",
			job:  newJob(i32(3), i32(2)),
			pods: []*v1.Pod{pod("a", "Succeeded,fin"), pod("b", "Running,fin,ready")},
			check: func(t *testing.T, p Plan) {
				if uncounted(p.Status) != "s[a] f[]" || p.Status.Succeeded != 0 || names(p.Finalize) != "a" ||
					!slices.Equal(p.Create, []int{-1}) || p.Status.Active != 2 || *p.Status.Ready != 1 {
					t.Errorf("uncounted %s succeeded %d finalize %q create %v active %d ready %d", uncounted(p.Status),
						p.Status.Succeeded, names(p.Finalize), p.Create, p.Status.Active, *p.Status.Ready)
				}
			},
		},
		{
			name: "an uncounted pod that let go is counted once",
			job: newJob(i32(3), i32(2), withStatus(func(s *batchv1.JobStatus) {
				s.Succeeded = 1
				s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a", "gone"}}
			})),
			pods: []*v1.Pod{pod("a", "Succeeded"), pod("old", "Succeeded"), pod("b", "Running,fin")},
			check: func(t *testing.T, p Plan) {
				if uncounted(p.Status) != "s[] f[]" || p.Status.Succeeded != 3 || len(p.Finalize) != 0 {
					t.Errorf("uncounted %s succeeded %d finalize %q", uncounted(p.Status), p.Status.Succeeded, names(p.Finalize))
				}
			},
		},
		{
			name: "a pod whose finalizer removal is in flight is not recorded twice",
			job: newJob(i32(3), i32(2), withStatus(func(s *batchv1.JobStatus) {
				s.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a"}}
			})),
			pods: []*v1.Pod{pod("a", "Succeeded,fin,removing")},
			check: func(t *testing.T, p Plan) {
				if uncounted(p.Status) != "s[] f[]" || p.Status.Succeeded != 1 {
					t.Errorf("uncounted %s succeeded %d", uncounted(p.Status), p.Status.Succeeded)
				}
			},
		},
		{
			name: "completions reached: success criteria met, then Complete when all is counted",
			job:  newJob(i32(2), i32(2), withStatus(func(s *batchv1.JobStatus) { s.Succeeded = 1 })),
			pods: []*v1.Pod{pod("a", "Succeeded,fin")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "SuccessCriteriaMet/CompletionsReached" || p.Status.CompletionTime != nil {
					t.Errorf("conditions %q", conds(p.Status))
				}
			},
		},
		{
			name: "success counted and nothing running: Complete",
			job: newJob(i32(2), i32(2), withStatus(func(s *batchv1.JobStatus) {
				s.Succeeded = 2
				s.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuccessCriteriaMet, Status: v1.ConditionTrue, Reason: "CompletionsReached"}}
			})),
			pods: []*v1.Pod{pod("a", "Succeeded"), pod("b", "Succeeded")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "SuccessCriteriaMet/CompletionsReached Complete/CompletionsReached" || p.Status.CompletionTime == nil ||
					len(p.Events) != 1 || p.Events[0].Reason != "Completed" || p.Events[0].Message != "Job completed" {
					t.Errorf("conditions %q events %v", conds(p.Status), p.Events)
				}
			},
		},
		{
			name: "a work queue job starts no pod once one succeeded",
			job:  newJob(nil, i32(2), withStatus(func(s *batchv1.JobStatus) { s.Succeeded = 1 })),
			pods: []*v1.Pod{pod("a", "Running,fin")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "" || len(p.Create)+len(p.Delete) != 0 || p.Status.Active != 1 {
					t.Errorf("conditions %q create %v delete %q", conds(p.Status), p.Create, names(p.Delete))
				}
			},
		},
		{
			name: "a work queue job completes once one pod succeeded and none runs",
			job:  newJob(nil, i32(2), withStatus(func(s *batchv1.JobStatus) { s.Succeeded = 1 })),
			pods: []*v1.Pod{pod("b", "Succeeded")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "SuccessCriteriaMet/CompletionsReached Complete/CompletionsReached" || len(p.Create) != 0 {
					t.Errorf("conditions %q create %v", conds(p.Status), p.Create)
				}
			},
		},
		{
			name: "failures past the backoff limit: failure target, running pods deleted",
			job:  newJob(i32(3), i32(2), func(j *batchv1.Job) { j.Spec.BackoffLimit = i32(1); j.Status.Failed = 1 }),
			pods: []*v1.Pod{pod("a", "Failed,fin"), pod("b", "Running,fin")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "FailureTarget/BackoffLimitExceeded" || names(p.Delete) != "b" || p.Status.Active != 0 || len(p.Create) != 0 {
					t.Errorf("conditions %q delete %q active %d", conds(p.Status), names(p.Delete), p.Status.Active)
				}
			},
		},
		{
			name: "failure target and nothing left: Failed with its reason, and an event",
			job: newJob(i32(3), i32(2), func(j *batchv1.Job) {
				j.Spec.BackoffLimit = i32(1)
				j.Status.Failed = 3
				j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{}
				j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobFailureTarget, Status: v1.ConditionTrue,
					Reason: batchv1.JobReasonBackoffLimitExceeded, Message: MessageBackoffLimitExceeded}}
			}),
			pods: []*v1.Pod{pod("a", "Failed"), pod("b", "Failed")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "FailureTarget/BackoffLimitExceeded Failed/BackoffLimitExceeded" ||
					len(p.Events) != 1 || p.Events[0].Message != MessageBackoffLimitExceeded || p.Events[0].Type != v1.EventTypeWarning {
					t.Errorf("conditions %q events %v", conds(p.Status), p.Events)
				}
			},
		},
		{
			name: "a deleted running pod counts as failed",
			job:  newJob(i32(3), i32(1)),
			pods: []*v1.Pod{pod("a", "Running,fin,del")},
			check: func(t *testing.T, p Plan) {
				if uncounted(p.Status) != "s[] f[a]" || *p.Status.Terminating != 1 {
					t.Errorf("uncounted %s", uncounted(p.Status))
				}
			},
		},
		{
			name: "past the active deadline",
			job:  newJob(i32(3), i32(1), func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](30) }),
			pods: []*v1.Pod{pod("a", "Running,fin")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "FailureTarget/DeadlineExceeded" || names(p.Delete) != "a" {
					t.Errorf("conditions %q delete %q", conds(p.Status), names(p.Delete))
				}
			},
		},
		{
			name: "before the active deadline: look again when it passes",
			job:  newJob(i32(3), i32(1), func(j *batchv1.Job) { j.Spec.ActiveDeadlineSeconds = ptr.To[int64](90) }),
			pods: []*v1.Pod{pod("a", "Running,fin")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "" || p.RequeueAfter != 30*time.Second {
					t.Errorf("conditions %q requeue %v", conds(p.Status), p.RequeueAfter)
				}
			},
		},
		{
			name: "a failed pod is replaced after the back-off",
			job:  newJob(i32(3), i32(1), withStatus(func(s *batchv1.JobStatus) { s.Failed = 1 })),
			pods: []*v1.Pod{pod("a", "failedAgo=4s")},
			check: func(t *testing.T, p Plan) {
				if len(p.Create) != 0 || p.RequeueAfter != 6*time.Second {
					t.Errorf("create %v requeue %v", p.Create, p.RequeueAfter)
				}
			},
		},
		{
			name: "two failures double the back-off",
			job:  newJob(i32(3), i32(1), withStatus(func(s *batchv1.JobStatus) { s.Failed = 2 })),
			pods: []*v1.Pod{pod("a", "failedAgo=30s"), pod("b", "failedAgo=15s")},
			check: func(t *testing.T, p Plan) {
				if len(p.Create) != 0 || p.RequeueAfter != 5*time.Second {
					t.Errorf("create %v requeue %v", p.Create, p.RequeueAfter)
				}
			},
		},
		{
			name: "suspended: pods deleted without counting, condition and event",
			job:  newJob(i32(3), i32(2), func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }),
			pods: []*v1.Pod{pod("a", "Running,fin"), pod("b", "Running,fin,del")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "Suspended/JobSuspended" || names(p.Delete) != "a" || names(p.Finalize) != "b" ||
					uncounted(p.Status) != "s[] f[]" || len(p.Events) != 1 || p.Events[0].Reason != "Suspended" {
					t.Errorf("conditions %q delete %q finalize %q events %v", conds(p.Status), names(p.Delete), names(p.Finalize), p.Events)
				}
			},
		},
		{
			name: "resumed: the clock restarts",
			job: newJob(i32(3), i32(2), withStatus(func(s *batchv1.JobStatus) {
				s.Conditions = []batchv1.JobCondition{{Type: batchv1.JobSuspended, Status: v1.ConditionTrue, Reason: ReasonJobSuspended}}
			})),
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "" || !p.Status.StartTime.Time.Equal(now) || len(p.Create) != 2 || p.Events[0].Reason != "Resumed" {
					t.Errorf("conditions %q start %v create %v", conds(p.Status), p.Status.StartTime, p.Create)
				}
			},
		},
		{
			name: "indexed: the lowest missing indexes start",
			job: newJob(i32(5), i32(3), func(j *batchv1.Job) {
				j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
				j.Status.CompletedIndexes = "0"
				j.Status.Succeeded = 1
			}),
			pods: []*v1.Pod{pod("a", "Running,fin,ix=2"), pod("b", "Succeeded,fin,ix=3"), pod("c", "Running,fin,ix=2")},
			check: func(t *testing.T, p Plan) {
				if !slices.Equal(p.Create, []int{1, 4}) || names(p.Delete) != "c" || p.Status.CompletedIndexes != "0,3" ||
					p.Status.Succeeded != 2 || names(p.Finalize) != "b" {
					t.Errorf("create %v delete %q completed %q succeeded %d finalize %q", p.Create, names(p.Delete),
						p.Status.CompletedIndexes, p.Status.Succeeded, names(p.Finalize))
				}
			},
		},
		{
			name: "pod failure policy FailJob: failure target at once",
			job: newJob(i32(3), i32(1), withFailurePolicy(
				onExit(batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyOnExitCodesOpIn, 3),
				onExit(batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyOnExitCodesOpIn, 42))),
			pods: []*v1.Pod{pod("a", "exit=42,fin")},
			check: func(t *testing.T, p Plan) {
				c := condition(&p.Status, batchv1.JobFailureTarget)
				if c == nil || c.Reason != "PodFailurePolicy" ||
					c.Message != "Container c for pod ns/a failed with exit code 42 matching FailJob rule at index 1" || uncounted(p.Status) != "s[] f[a]" {
					t.Errorf("condition %+v uncounted %s", c, uncounted(p.Status))
				}
			},
		},
		{
			name: "pod failure policy Ignore: not counted, replaced",
			job: newJob(i32(3), i32(1), withFailurePolicy(
				onExit(batchv1.PodFailurePolicyActionIgnore, batchv1.PodFailurePolicyOnExitCodesOpNotIn, 1, 2))),
			pods: []*v1.Pod{pod("a", "exit=3,fin")},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "" || uncounted(p.Status) != "s[] f[]" || names(p.Finalize) != "a" {
					t.Errorf("conditions %q uncounted %s finalize %q", conds(p.Status), uncounted(p.Status), names(p.Finalize))
				}
			},
		},
		{
			name: "podReplacementPolicy Failed: a terminating pod is neither counted nor replaced yet",
			job:  newJob(i32(3), i32(1), withFailurePolicy()),
			pods: []*v1.Pod{func() *v1.Pod { p := pod("a", "Running,fin,del"); p.Spec.NodeName = "n1"; return p }()},
			check: func(t *testing.T, p Plan) {
				if uncounted(p.Status) != "s[] f[]" || len(p.Create) != 0 || len(p.Finalize) != 0 {
					t.Errorf("uncounted %s create %v finalize %q", uncounted(p.Status), p.Create, names(p.Finalize))
				}
			},
		},
		{
			name: "finished: only finalizers are removed",
			job: newJob(i32(1), i32(1), withStatus(func(s *batchv1.JobStatus) {
				s.Conditions = []batchv1.JobCondition{{Type: batchv1.JobComplete, Status: v1.ConditionTrue}}
			})),
			pods: []*v1.Pod{pod("a", "Succeeded,fin"), pod("b", "Running")},
			check: func(t *testing.T, p Plan) {
				if names(p.Finalize) != "a" || len(p.Create)+len(p.Delete) != 0 {
					t.Errorf("finalize %q", names(p.Finalize))
				}
			},
		},
		{
			name: "restartPolicy OnFailure: restarts count against the limit",
			job: newJob(i32(1), i32(1), func(j *batchv1.Job) {
				j.Spec.BackoffLimit = i32(2)
				j.Spec.Template.Spec.RestartPolicy = v1.RestartPolicyOnFailure
			}),
			pods: []*v1.Pod{func() *v1.Pod {
				p := pod("a", "Running,fin")
				p.Status.ContainerStatuses = []v1.ContainerStatus{{RestartCount: 2}}
				return p
			}()},
			check: func(t *testing.T, p Plan) {
				if conds(p.Status) != "FailureTarget/BackoffLimitExceeded" {
					t.Errorf("conditions %q", conds(p.Status))
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			removing := map[types.UID]bool{}
			for _, p := range tc.pods {
				if p.Labels["test/removing"] == "true" {
					removing[p.UID] = true
				}
			}
			plan := Decide(Input{Job: tc.job, Pods: tc.pods, CanManage: !tc.busy, Now: now,
				Removing: func(uid types.UID) bool { return removing[uid] }})
			tc.check(t, plan)
		})
	}
}

func TestIndexes(t *testing.T) {
	for _, s := range []string{"", "0", "1,3-5,7", "0-9"} {
		if got := formatIndexes(parseIndexes(s, 10)); got != s {
			t.Errorf("%q → %q", s, got)
		}
	}
	if got := formatIndexes(parseIndexes("1,3-5,7", 4)); got != "1,3" {
		t.Errorf("bounded: %q", got)
	}
}

func TestPodFromTemplateIndexed(t *testing.T) {
	j := newJob(ptr.To[int32](3), ptr.To[int32](3), func(j *batchv1.Job) { j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion) })
	p := PodFromTemplate(j, 2)
	if p.GenerateName != "pi-2-" || p.Annotations[batchv1.JobCompletionIndexAnnotation] != "2" ||
		p.Labels[batchv1.JobCompletionIndexAnnotation] != "2" || p.Spec.Hostname != "pi-2" ||
		!slices.Contains(p.Finalizers, batchv1.JobTrackingFinalizer) || p.Spec.Containers[0].Env[0].Name != "JOB_COMPLETION_INDEX" ||
		metav1.GetControllerOf(p).UID != "job-uid" {
		t.Errorf("pod %+v", p)
	}
	if j.Spec.Template.Spec.Containers[0].Env != nil {
		t.Error("the template was changed")
	}
}
