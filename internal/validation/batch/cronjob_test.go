package batch

import (
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validCronJob() *batchv1.CronJob {
	return &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "default", UID: testUID, ResourceVersion: "1"},
		Spec: batchv1.CronJobSpec{
			Schedule:          "*/5 * * * *",
			ConcurrencyPolicy: batchv1.AllowConcurrent,
			Suspend:           ptr(false),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
				Spec: batchv1.JobSpec{
					BackoffLimit: ptr(int32(2)),
					Template:     podTemplate(),
				},
			},
			SuccessfulJobsHistoryLimit: ptr(int32(3)),
			FailedJobsHistoryLimit:     ptr(int32(1)),
		},
	}
}

type cronJobCase struct {
	name   string
	mutate func(*batchv1.CronJob)
	want   []string
}

func cronJobSpecCases() []cronJobCase {
	return []cronJobCase{
		{name: "valid", mutate: func(*batchv1.CronJob) {}},
		{name: "descriptor", mutate: func(c *batchv1.CronJob) { c.Spec.Schedule = "@hourly" }},
		{name: "time zone", mutate: func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("America/New_York") }},
		{name: "utc", mutate: func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("Etc/UTC") }},
		{name: "forbid and replace", mutate: func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }},
		{
			name:   "missing schedule",
			mutate: func(c *batchv1.CronJob) { c.Spec.Schedule = "" },
			want:   []string{key(field.ErrorTypeRequired, "spec.schedule")},
		},
		{
			name:   "bad schedule",
			mutate: func(c *batchv1.CronJob) { c.Spec.Schedule = "61 * * * *" },
			want:   []string{key(field.ErrorTypeInvalid, "spec.schedule")},
		},
		{
			name:   "TZ in schedule",
			mutate: func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 * * * *" },
			want:   []string{key(field.ErrorTypeInvalid, "spec.schedule")},
		},
		{
			name:   "empty time zone",
			mutate: func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("") },
			want:   []string{key(field.ErrorTypeInvalid, "spec.timeZone")},
		},
		{
			name:   "malformed time zone",
			mutate: func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("../etc/passwd") },
			want:   []string{key(field.ErrorTypeInvalid, "spec.timeZone")},
		},
		{
			name:   "unknown time zone",
			mutate: func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("Mars/Olympus_Mons") },
			want:   []string{key(field.ErrorTypeInvalid, "spec.timeZone")},
		},
		{
			name:   "local time zone",
			mutate: func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("Local") },
			want:   []string{key(field.ErrorTypeInvalid, "spec.timeZone")},
		},
		{
			name:   "missing concurrency policy",
			mutate: func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "" },
			want:   []string{key(field.ErrorTypeRequired, "spec.concurrencyPolicy")},
		},
		{
			name:   "unknown concurrency policy",
			mutate: func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "Queue" },
			want:   []string{key(field.ErrorTypeNotSupported, "spec.concurrencyPolicy")},
		},
		{
			name: "negative limits",
			mutate: func(c *batchv1.CronJob) {
				c.Spec.StartingDeadlineSeconds = ptr(int64(-1))
				c.Spec.SuccessfulJobsHistoryLimit = ptr(int32(-1))
				c.Spec.FailedJobsHistoryLimit = ptr(int32(-1))
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.startingDeadlineSeconds"),
				key(field.ErrorTypeInvalid, "spec.successfulJobsHistoryLimit"),
				key(field.ErrorTypeInvalid, "spec.failedJobsHistoryLimit"),
			},
		},
		{
			name: "job template with selector",
			mutate: func(c *batchv1.CronJob) {
				c.Spec.JobTemplate.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"a": "b"}}
				c.Spec.JobTemplate.Spec.ManualSelector = ptr(true)
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.jobTemplate.spec.selector"),
				key(field.ErrorTypeNotSupported, "spec.jobTemplate.spec.manualSelector"),
			},
		},
		{
			name: "job template spec errors",
			mutate: func(c *batchv1.CronJob) {
				c.Spec.JobTemplate.Spec.BackoffLimit = ptr(int32(-1))
				c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.jobTemplate.spec.backoffLimit"),
				key(field.ErrorTypeRequired, "spec.jobTemplate.spec.template.spec.restartPolicy"),
			},
		},
		{
			name:   "job template bad labels",
			mutate: func(c *batchv1.CronJob) { c.Spec.JobTemplate.Labels = map[string]string{"a": "not valid"} },
			want:   []string{key(field.ErrorTypeInvalid, "spec.jobTemplate.metadata.labels")},
		},
	}
}

func TestValidateCronJob(t *testing.T) {
	cases := append(cronJobSpecCases(),
		cronJobCase{
			name:   "name too long",
			mutate: func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", MaxCronJobNameLength+1) },
			want:   []string{key(field.ErrorTypeInvalid, "metadata.name")},
		},
		cronJobCase{
			name:   "name at limit",
			mutate: func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", MaxCronJobNameLength) },
		},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validCronJob()
			tc.mutate(c)
			checkErrs(t, ValidateCronJob(c), tc.want...)
		})
	}
}

func TestValidateCronJobUpdate(t *testing.T) {
	for _, tc := range cronJobSpecCases() {
		t.Run(tc.name, func(t *testing.T) {
			old := validCronJob()
			c := validCronJob()
			tc.mutate(c)
			checkErrs(t, ValidateCronJobUpdate(c, old), tc.want...)
		})
	}
	cases := []struct {
		name     string
		setupOld func(*batchv1.CronJob)
		mutate   func(*batchv1.CronJob)
		want     []string
	}{
		{
			name:     "long name kept",
			setupOld: func(c *batchv1.CronJob) { c.Name = strings.Repeat("a", 60) },
			mutate:   func(c *batchv1.CronJob) { c.Spec.Suspend = ptr(true) },
		},
		{
			name:     "stored TZ schedule may be kept",
			setupOld: func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC */5 * * * *" },
			mutate:   func(c *batchv1.CronJob) { c.Spec.Schedule = "CRON_TZ=UTC */10 * * * *" },
		},
		{
			name:     "TZ schedule with timeZone",
			setupOld: func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC */5 * * * *" },
			mutate:   func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("UTC") },
			want:     []string{key(field.ErrorTypeInvalid, "spec.schedule")},
		},
		{
			name:     "unchanged stored time zone not rechecked",
			setupOld: func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr("Local") },
			mutate:   func(c *batchv1.CronJob) { c.Spec.Schedule = "@daily" },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := validCronJob()
			tc.setupOld(old)
			c := old.DeepCopy()
			tc.mutate(c)
			checkErrs(t, ValidateCronJobUpdate(c, old), tc.want...)
		})
	}
}

func TestValidateCronJobStatusUpdate(t *testing.T) {
	old := validCronJob()
	c := validCronJob()
	now := metav1.Now()
	c.Status.LastScheduleTime = &now
	checkErrs(t, ValidateCronJobStatusUpdate(c, old))
	c.Namespace = "other"
	checkErrs(t, ValidateCronJobStatusUpdate(c, old), key(field.ErrorTypeInvalid, "metadata.namespace"))
}
