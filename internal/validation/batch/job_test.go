package batch

import (
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

type jobCase struct {
	name   string
	mutate func(*batchv1.Job)
	want   []string
}

// jobSpecCases exercise JobSpec rules; they change no immutable field
// relative to validJob unless the name says so.
func jobSpecCases() []jobCase {
	return []jobCase{
		{name: "valid", mutate: func(*batchv1.Job) {}},
		{name: "on failure", mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }},
		{name: "ttl and deadline", mutate: func(j *batchv1.Job) {
			j.Spec.TTLSecondsAfterFinished = ptr(int32(100))
			j.Spec.ActiveDeadlineSeconds = ptr(int64(600))
		}},
		{
			name: "negative counters",
			mutate: func(j *batchv1.Job) {
				j.Spec.Parallelism = ptr(int32(-1))
				j.Spec.ActiveDeadlineSeconds = ptr(int64(-1))
				j.Spec.BackoffLimit = ptr(int32(-1))
				j.Spec.TTLSecondsAfterFinished = ptr(int32(-1))
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.parallelism"),
				key(field.ErrorTypeInvalid, "spec.activeDeadlineSeconds"),
				key(field.ErrorTypeInvalid, "spec.backoffLimit"),
				key(field.ErrorTypeInvalid, "spec.ttlSecondsAfterFinished"),
			},
		},
		{
			name:   "restart policy always",
			mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways },
			want:   []string{key(field.ErrorTypeRequired, "spec.template.spec.restartPolicy")},
		},
		{
			name: "backoff per index without indexed mode",
			mutate: func(j *batchv1.Job) {
				j.Spec.MaxFailedIndexes = ptr(int32(1))
			},
			want: []string{
				key(field.ErrorTypeRequired, "spec.backoffLimitPerIndex"),
				key(field.ErrorTypeInvalid, "spec.maxFailedIndexes"),
			},
		},
		{
			name: "pod failure policy",
			mutate: func(j *batchv1.Job) {
				j.Spec.PodReplacementPolicy = ptr(batchv1.Failed)
				j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{
					{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
						ContainerName: ptr("pi"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1, 42},
					}},
					{Action: batchv1.PodFailurePolicyActionIgnore, OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{
						{Type: corev1.DisruptionTarget, Status: corev1.ConditionTrue},
					}},
				}}
			},
		},
		{
			name:   "bad managedBy",
			mutate: func(j *batchv1.Job) { j.Spec.ManagedBy = ptr("not-prefixed") },
			want:   []string{key(field.ErrorTypeInvalid, "spec.managedBy")},
		},
		{
			name:   "bad pod replacement policy",
			mutate: func(j *batchv1.Job) { j.Spec.PodReplacementPolicy = ptr(batchv1.PodReplacementPolicy("Never")) },
			want:   []string{key(field.ErrorTypeNotSupported, "spec.podReplacementPolicy")},
		},
		{
			name:   "template labels mismatch",
			mutate: func(j *batchv1.Job) { delete(j.Spec.Template.Labels, batchv1.ControllerUidLabel) },
			want: []string{
				key(field.ErrorTypeRequired, "spec.template.metadata.labels[batch.kubernetes.io/controller-uid]"),
				key(field.ErrorTypeInvalid, "spec.template.metadata.labels"),
			},
		},
		{
			name:   "invalid template",
			mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Name = "" },
			want:   []string{key(field.ErrorTypeRequired, "spec.template.spec.containers[0].name")},
		},
	}
}

// jobCreateOnlyCases change fields that are immutable on update.
func jobCreateOnlyCases() []jobCase {
	pfp := "spec.podFailurePolicy.rules[0]"
	return []jobCase{
		{name: "indexed", mutate: func(j *batchv1.Job) { indexed(j, 5) }},
		{name: "indexed with backoff per index", mutate: func(j *batchv1.Job) {
			indexed(j, 5)
			j.Spec.BackoffLimitPerIndex = ptr(int32(1))
			j.Spec.MaxFailedIndexes = ptr(int32(2))
		}},
		{name: "manual selector", mutate: func(j *batchv1.Job) {
			j.Spec.ManualSelector = ptr(true)
			j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "pi"}}
			j.Spec.Template.Labels = map[string]string{"app": "pi"}
		}},
		{name: "success policy", mutate: func(j *batchv1.Job) {
			indexed(j, 10)
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
				{SucceededIndexes: ptr("0-2,5"), SucceededCount: ptr(int32(3))},
				{SucceededCount: ptr(int32(10))},
			}}
		}},
		{
			name:   "missing selector",
			mutate: func(j *batchv1.Job) { j.Spec.Selector = nil },
			want:   []string{key(field.ErrorTypeRequired, "spec.selector")},
		},
		{
			name: "selector not generated",
			mutate: func(j *batchv1.Job) {
				j.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"job-name": "other"}}
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.selector"),
				key(field.ErrorTypeInvalid, "spec.template.metadata.labels"),
			},
		},
		{
			name:   "missing uid",
			mutate: func(j *batchv1.Job) { j.UID = "" },
			want: []string{
				key(field.ErrorTypeRequired, "metadata.uid"),
				key(field.ErrorTypeInvalid, "spec.template.metadata.labels[controller-uid]"),
				key(field.ErrorTypeInvalid, "spec.template.metadata.labels[batch.kubernetes.io/controller-uid]"),
				key(field.ErrorTypeInvalid, "spec.selector"),
			},
		},
		{
			name:   "indexed without completions",
			mutate: func(j *batchv1.Job) { indexed(j, 1); j.Spec.Completions = nil },
			want:   []string{key(field.ErrorTypeRequired, "spec.completions")},
		},
		{
			name:   "unknown completion mode",
			mutate: func(j *batchv1.Job) { j.Spec.CompletionMode = ptr(batchv1.CompletionMode("Sometimes")) },
			want:   []string{key(field.ErrorTypeNotSupported, "spec.completionMode")},
		},
		{
			name: "indexed limits",
			mutate: func(j *batchv1.Job) {
				indexed(j, 4)
				j.Spec.Parallelism = ptr(int32(MaxParallelismForIndexedJob + 1))
				j.Spec.BackoffLimitPerIndex = ptr(int32(1))
				j.Spec.MaxFailedIndexes = ptr(int32(5))
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.parallelism"),
				key(field.ErrorTypeInvalid, "spec.maxFailedIndexes"),
			},
		},
		{
			name: "high completions with backoff per index",
			mutate: func(j *batchv1.Job) {
				indexed(j, completionsSoftLimit+1)
				j.Spec.Parallelism = ptr(int32(parallelismLimitForHighCompletions + 1))
				j.Spec.BackoffLimitPerIndex = ptr(int32(1))
				j.Name = "p"
				j.Spec.Template.Labels["job-name"], j.Spec.Template.Labels[batchv1.JobNameLabel] = "p", "p"
			},
			want: []string{
				key(field.ErrorTypeRequired, "spec.maxFailedIndexes"),
				key(field.ErrorTypeInvalid, "spec.parallelism"),
			},
		},
		{
			name: "indexed name too long for hostnames",
			mutate: func(j *batchv1.Job) {
				name := strings.Repeat("a", 62)
				j.Name = name
				j.Spec.Template.Labels["job-name"], j.Spec.Template.Labels[batchv1.JobNameLabel] = name, name
				indexed(j, 10)
			},
			want: []string{key(field.ErrorTypeInvalid, "metadata.name")},
		},
		{
			name: "success policy on non-indexed job",
			mutate: func(j *batchv1.Job) {
				j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr(int32(1))}}}
			},
			want: []string{key(field.ErrorTypeInvalid, "spec.successPolicy")},
		},
		{
			name: "bad success policy",
			mutate: func(j *batchv1.Job) {
				indexed(j, 5)
				j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{
					{},
					{SucceededIndexes: ptr("3-1")},
					{SucceededIndexes: ptr("1,2"), SucceededCount: ptr(int32(3))},
					{SucceededCount: ptr(int32(6))},
				}}
			},
			want: []string{
				key(field.ErrorTypeRequired, "spec.successPolicy.rules[0]"),
				key(field.ErrorTypeInvalid, "spec.successPolicy.rules[1].succeededIndexes"),
				key(field.ErrorTypeInvalid, "spec.successPolicy.rules[2].succeededCount"),
				key(field.ErrorTypeInvalid, "spec.successPolicy.rules[3].succeededCount"),
			},
		},
		{
			name:   "empty success policy",
			mutate: func(j *batchv1.Job) { indexed(j, 5); j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{} },
			want:   []string{key(field.ErrorTypeRequired, "spec.successPolicy.rules")},
		},
		{
			name: "bad pod failure policy",
			mutate: func(j *batchv1.Job) {
				j.Spec.PodReplacementPolicy = ptr(batchv1.TerminatingOrFailed)
				j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure
				j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
					Action: batchv1.PodFailurePolicyActionFailIndex,
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{
						ContainerName: ptr("missing"), Operator: "Equals", Values: []int32{3, 0, 3},
					},
					OnPodConditions: []batchv1.PodFailurePolicyOnPodConditionsPattern{{Type: "bad type!", Status: "Maybe"}},
				}}}
			},
			want: []string{
				key(field.ErrorTypeInvalid, pfp+".action"),
				key(field.ErrorTypeNotSupported, pfp+".onExitCodes.operator"),
				key(field.ErrorTypeInvalid, pfp+".onExitCodes.containerName"),
				key(field.ErrorTypeDuplicate, pfp+".onExitCodes.values[2]"),
				key(field.ErrorTypeInvalid, pfp+".onExitCodes.values"),
				key(field.ErrorTypeInvalid, pfp+".onPodConditions[0].type"),
				key(field.ErrorTypeNotSupported, pfp+".onPodConditions[0].status"),
				key(field.ErrorTypeInvalid, pfp),
				key(field.ErrorTypeNotSupported, "spec.podReplacementPolicy"),
				key(field.ErrorTypeInvalid, "spec.template.spec.restartPolicy"),
			},
		},
		{
			name: "pod failure policy rule without requirement",
			mutate: func(j *batchv1.Job) {
				j.Spec.PodReplacementPolicy = ptr(batchv1.Failed)
				j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: ""}}}
			},
			want: []string{key(field.ErrorTypeRequired, pfp+".action"), key(field.ErrorTypeInvalid, pfp)},
		},
		{
			name: "zero exit code with In",
			mutate: func(j *batchv1.Job) {
				j.Spec.PodReplacementPolicy = ptr(batchv1.Failed)
				j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{
					Action:      batchv1.PodFailurePolicyActionCount,
					OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{0}},
				}}}
			},
			want: []string{key(field.ErrorTypeInvalid, pfp+".onExitCodes.values[0]")},
		},
	}
}

func TestValidateJob(t *testing.T) {
	cases := append(jobSpecCases(), jobCreateOnlyCases()...)
	cases = append(cases, jobCase{
		name:   "missing namespace",
		mutate: func(j *batchv1.Job) { j.Namespace = "" },
		want:   []string{key(field.ErrorTypeRequired, "metadata.namespace")},
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j := validJob()
			tc.mutate(j)
			checkErrs(t, ValidateJob(j), tc.want...)
		})
	}
}

func TestValidateJobUpdate(t *testing.T) {
	for _, tc := range jobSpecCases() {
		if strings.HasPrefix(tc.name, "on failure") || tc.name == "restart policy always" || tc.name == "pod failure policy" ||
			tc.name == "template labels mismatch" || tc.name == "invalid template" || tc.name == "bad managedBy" ||
			tc.name == "backoff per index without indexed mode" {
			continue // these also change immutable fields; covered below
		}
		t.Run(tc.name, func(t *testing.T) {
			old := validJob()
			j := validJob()
			tc.mutate(j)
			checkErrs(t, ValidateJobUpdate(j, old), tc.want...)
		})
	}
	imm := func(f string) string { return key(field.ErrorTypeInvalid, f) }
	cases := []struct {
		name     string
		setupOld func(*batchv1.Job)
		mutate   func(*batchv1.Job)
		want     []string
	}{
		{
			name:   "template immutable",
			mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "perl:5.40" },
			want:   []string{imm("spec.template")},
		},
		{
			name:   "selector immutable",
			mutate: func(j *batchv1.Job) { j.Spec.Selector.MatchLabels["job-name"] = "pi" },
			want:   []string{imm("spec.selector")},
		},
		{
			name:   "completions immutable for non-indexed",
			mutate: func(j *batchv1.Job) { j.Spec.Completions = ptr(int32(3)) },
			want:   []string{imm("spec.completions")},
		},
		{
			name:     "elastic indexed job",
			setupOld: func(j *batchv1.Job) { indexed(j, 3) },
			mutate:   func(j *batchv1.Job) { indexed(j, 5) },
		},
		{
			name:     "indexed completions without parallelism",
			setupOld: func(j *batchv1.Job) { indexed(j, 3) },
			mutate:   func(j *batchv1.Job) { indexed(j, 3); j.Spec.Completions = ptr(int32(4)) },
			want:     []string{imm("spec.completions")},
		},
		{
			name:   "completion mode immutable",
			mutate: func(j *batchv1.Job) { indexed(j, 1) },
			want:   []string{imm("spec.completionMode")},
		},
		{
			name:   "managedBy immutable",
			mutate: func(j *batchv1.Job) { j.Spec.ManagedBy = ptr("example.com/queue") },
			want:   []string{imm("spec.managedBy")},
		},
		{
			name:   "suspend and parallelism may change",
			mutate: func(j *batchv1.Job) { j.Spec.Suspend = ptr(true); j.Spec.Parallelism = ptr(int32(4)) },
		},
		{
			name:     "scheduling directives of suspended unstarted job",
			setupOld: func(j *batchv1.Job) { j.Spec.Suspend = ptr(true) },
			mutate: func(j *batchv1.Job) {
				j.Spec.Suspend = ptr(false)
				j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"}
				j.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "gpu", Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule}}
				j.Spec.Template.Annotations = map[string]string{"queue": "x"}
			},
		},
		{
			name: "scheduling directives of started job",
			setupOld: func(j *batchv1.Job) {
				j.Spec.Suspend = ptr(true)
				j.Status.StartTime = &metav1.Time{Time: time.Now()}
			},
			mutate: func(j *batchv1.Job) { j.Spec.Template.Spec.NodeSelector = map[string]string{"zone": "a"} },
			want:   []string{imm("spec.template")},
		},
		{
			name:     "legacy job without prefixed labels",
			setupOld: func(j *batchv1.Job) { delete(j.Spec.Template.Labels, batchv1.JobNameLabel) },
			mutate: func(j *batchv1.Job) {
				delete(j.Spec.Template.Labels, batchv1.JobNameLabel)
				j.Spec.ActiveDeadlineSeconds = ptr(int64(30))
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := validJob()
			if tc.setupOld != nil {
				tc.setupOld(old)
			}
			j := old.DeepCopy()
			tc.mutate(j)
			checkErrs(t, ValidateJobUpdate(j, old), tc.want...)
		})
	}
}

func TestValidateJobStatusUpdate(t *testing.T) {
	now := metav1.NewTime(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	later := metav1.NewTime(now.Add(time.Minute))
	cond := func(t batchv1.JobConditionType) batchv1.JobCondition {
		return batchv1.JobCondition{Type: t, Status: corev1.ConditionTrue}
	}
	complete := func(s *batchv1.JobStatus) {
		s.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobComplete)}
		s.StartTime, s.CompletionTime = &now, &later
		s.Succeeded, s.Active, s.Ready = 1, 0, ptr(int32(0))
	}
	cases := []struct {
		name     string
		setupOld func(*batchv1.Job)
		mutate   func(*batchv1.Job)
		want     []string
	}{
		{name: "running", mutate: func(j *batchv1.Job) {
			j.Status = batchv1.JobStatus{StartTime: &now, Active: 1, Ready: ptr(int32(1)), Terminating: ptr(int32(0))}
		}},
		{name: "completing", setupOld: func(j *batchv1.Job) {
			j.Status = batchv1.JobStatus{StartTime: &now, Active: 1}
		}, mutate: func(j *batchv1.Job) { complete(&j.Status) }},
		{name: "failing", setupOld: func(j *batchv1.Job) {
			j.Status = batchv1.JobStatus{StartTime: &now, Failed: 6}
		}, mutate: func(j *batchv1.Job) {
			j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobFailureTarget), cond(batchv1.JobFailed)}
		}},
		{
			name: "negative counters",
			mutate: func(j *batchv1.Job) {
				j.Status = batchv1.JobStatus{Active: -1, Ready: ptr(int32(-1)), Terminating: ptr(int32(-1))}
			},
			want: []string{
				key(field.ErrorTypeInvalid, "status.active"),
				key(field.ErrorTypeInvalid, "status.ready"),
				key(field.ErrorTypeInvalid, "status.terminating"),
			},
		},
		{
			name: "uncounted pods",
			mutate: func(j *batchv1.Job) {
				j.Status.UncountedTerminatedPods = &batchv1.UncountedTerminatedPods{Succeeded: []types.UID{"a", ""}, Failed: []types.UID{"a"}}
			},
			want: []string{
				key(field.ErrorTypeInvalid, "status.uncountedTerminatedPods.succeeded[1]"),
				key(field.ErrorTypeDuplicate, "status.uncountedTerminatedPods.failed[0]"),
			},
		},
		{
			name: "complete without prerequisites",
			mutate: func(j *batchv1.Job) {
				j.Status.Active = 1
				j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobComplete)}
			},
			want: []string{
				key(field.ErrorTypeRequired, "status.completionTime"),
				key(field.ErrorTypeInvalid, "status.conditions"),
				key(field.ErrorTypeInvalid, "status.active"),
				key(field.ErrorTypeRequired, "status.startTime"),
			},
		},
		{
			name:     "terminal condition removed and counters decreased",
			setupOld: func(j *batchv1.Job) { complete(&j.Status); j.Status.Failed = 2 },
			mutate:   func(j *batchv1.Job) { j.Status = batchv1.JobStatus{StartTime: &now} },
			want: []string{
				key(field.ErrorTypeInvalid, "status.conditions"),
				key(field.ErrorTypeInvalid, "status.failed"),
				key(field.ErrorTypeInvalid, "status.succeeded"),
				key(field.ErrorTypeInvalid, "status.conditions"),
			},
		},
		{
			name:     "completion time mutated",
			setupOld: func(j *batchv1.Job) { complete(&j.Status) },
			mutate:   func(j *batchv1.Job) { t := metav1.NewTime(later.Add(time.Hour)); j.Status.CompletionTime = &t },
			want:     []string{key(field.ErrorTypeInvalid, "status.completionTime")},
		},
		{
			name: "completion before start",
			mutate: func(j *batchv1.Job) {
				complete(&j.Status)
				j.Status.StartTime, j.Status.CompletionTime = &later, &now
			},
			want: []string{key(field.ErrorTypeInvalid, "status.completionTime")},
		},
		{
			name:   "more ready than active",
			mutate: func(j *batchv1.Job) { j.Status.Active, j.Status.Ready = 1, ptr(int32(2)) },
			want:   []string{key(field.ErrorTypeInvalid, "status.ready")},
		},
		{
			name:   "completed indexes on non-indexed job",
			mutate: func(j *batchv1.Job) { j.Status.CompletedIndexes = "0" },
			want:   []string{key(field.ErrorTypeInvalid, "status.completedIndexes")},
		},
		{
			name:     "indexes malformed and overlapping",
			setupOld: func(j *batchv1.Job) { indexed(j, 5); j.Spec.BackoffLimitPerIndex = ptr(int32(1)) },
			mutate: func(j *batchv1.Job) {
				j.Status.CompletedIndexes = "0-2,9"
				j.Status.FailedIndexes = ptr("2,4")
			},
			want: []string{
				key(field.ErrorTypeInvalid, "status.completedIndexes"),
				key(field.ErrorTypeInvalid, "status.failedIndexes"),
			},
		},
		{
			name:   "failed indexes without backoff per index",
			mutate: func(j *batchv1.Job) { j.Status.FailedIndexes = ptr("") },
			want:   []string{key(field.ErrorTypeInvalid, "status.failedIndexes")},
		},
		{
			name:     "start time removed for running job",
			setupOld: func(j *batchv1.Job) { j.Status.StartTime = &now },
			mutate:   func(j *batchv1.Job) { j.Status.StartTime = nil },
			want:     []string{key(field.ErrorTypeRequired, "status.startTime")},
		},
		{
			name: "success criteria with failure",
			mutate: func(j *batchv1.Job) {
				j.Status.StartTime = &now
				j.Status.Conditions = []batchv1.JobCondition{cond(batchv1.JobSuccessCriteriaMet), cond(batchv1.JobFailureTarget)}
			},
			want: []string{key(field.ErrorTypeInvalid, "status.conditions")},
		},
		{
			name:     "unchanged invalid fields are tolerated",
			setupOld: func(j *batchv1.Job) { j.Status.Active, j.Status.Ready = 1, ptr(int32(2)) },
			mutate:   func(j *batchv1.Job) { j.Status.Succeeded = 1 },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := validJob()
			if tc.setupOld != nil {
				tc.setupOld(old)
			}
			j := old.DeepCopy()
			tc.mutate(j)
			checkErrs(t, ValidateJobStatusUpdate(j, old), tc.want...)
		})
	}
}
