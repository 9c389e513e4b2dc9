package cronjob

import (
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"

	batchvalidation "github.com/skiff-sh/skiff/internal/validation/batch"
)

// Times are UTC and schedules carry spec.timeZone Etc/UTC, so the
// tests do not depend on the machine's zone.
var (
	created = time.Date(2026, 12, 4, 10, 0, 30, 0, time.UTC)
	t1002   = time.Date(2026, 12, 4, 10, 2, 0, 0, time.UTC)
)

func newCronJob(schedule string, mutate ...func(*batchv1.CronJob)) *batchv1.CronJob {
	cj := &batchv1.CronJob{
		ObjectMeta: metav1.ObjectMeta{Name: "hello", Namespace: "ns", UID: "cj-uid", CreationTimestamp: metav1.NewTime(created)},
		Spec: batchv1.CronJobSpec{
			Schedule: schedule, TimeZone: ptr.To("Etc/UTC"), ConcurrencyPolicy: batchv1.AllowConcurrent, Suspend: ptr.To(false),
			SuccessfulJobsHistoryLimit: ptr.To[int32](3), FailedJobsHistoryLimit: ptr.To[int32](1),
			JobTemplate: batchv1.JobTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "hello"}},
				Spec: batchv1.JobSpec{Template: v1.PodTemplateSpec{Spec: v1.PodSpec{RestartPolicy: v1.RestartPolicyNever,
					Containers: []v1.Container{{Name: "c", Image: "busybox"}}}}},
			},
		},
	}
	for _, m := range mutate {
		m(cj)
	}
	return cj
}

// job is a Job of the CronJob; state is "", "Complete" or "Failed";
// started is minutes after 10:00.
func job(name, state string, started int) *batchv1.Job {
	j := &batchv1.Job{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "ns", UID: types.UID(name),
		OwnerReferences: []metav1.OwnerReference{{APIVersion: "batch/v1", Kind: "CronJob", Name: "hello", UID: "cj-uid", Controller: ptr.To(true)}}},
		Status: batchv1.JobStatus{StartTime: &metav1.Time{Time: time.Date(2026, 12, 4, 10, started, 0, 0, time.UTC)}}}
	if state != "" {
		j.Status.Conditions = []batchv1.JobCondition{{Type: batchv1.JobConditionType(state), Status: v1.ConditionTrue}}
		if state == "Complete" {
			j.Status.CompletionTime = &metav1.Time{Time: j.Status.StartTime.Add(30 * time.Second)}
		}
	}
	return j
}

func active(names ...string) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) {
		for _, n := range names {
			cj.Status.Active = append(cj.Status.Active, v1.ObjectReference{Kind: "Job", Name: n, Namespace: "ns", UID: types.UID(n)})
		}
	}
}

func lastScheduled(t time.Time) func(*batchv1.CronJob) {
	return func(cj *batchv1.CronJob) { cj.Status.LastScheduleTime = &metav1.Time{Time: t} }
}

func reasons(p Plan) string {
	var out []string
	for _, e := range p.Events {
		out = append(out, e.Reason)
	}
	return strings.Join(out, " ")
}

func jobNames(jobs []*batchv1.Job) string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.Name)
	}
	return strings.Join(out, " ")
}

func activeNames(st batchv1.CronJobStatus) string {
	var out []string
	for _, r := range st.Active {
		out = append(out, r.Name)
	}
	slices.Sort(out)
	return strings.Join(out, " ")
}

func TestMostRecentScheduleTime(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 12, 4, h, m, 0, 0, time.UTC) }
	cases := []struct {
		name     string
		schedule string
		cj       func(*batchv1.CronJob)
		now      time.Time
		want     time.Time // zero: none
		missed   int
	}{
		{"before the first time", "*/5 * * * *", nil, at(10, 4), time.Time{}, 0},
		{"one time come", "*/5 * * * *", nil, at(10, 7), at(10, 5), 1},
		{"exactly on time", "*/5 * * * *", nil, at(10, 5), at(10, 5), 1},
		{"three missed: the latest", "*/5 * * * *", nil, at(10, 17), at(10, 15), 3},
		{"after the last run", "*/5 * * * *", lastScheduled(at(10, 10)), at(10, 17), at(10, 15), 1},
		{"the last run is the latest", "*/5 * * * *", lastScheduled(at(10, 15)), at(10, 17), time.Time{}, 0},
		{"the starting deadline bounds the look back", "* * * * *", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](120) },
			at(12, 0), at(12, 0), 2},
		{"weeks of minutes missed: counted, not walked", "* * * * *", nil, at(10, 0).Add(21 * 24 * time.Hour),
			at(10, 0).Add(21 * 24 * time.Hour), 21 * 24 * 60},
		{"@hourly", "@hourly", nil, at(12, 30), at(12, 0), 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cj := newCronJob(tc.schedule)
			if tc.cj != nil {
				tc.cj(cj)
			}
			sched, err := batchvalidation.ParseCronSchedule("TZ=Etc/UTC " + tc.schedule)
			if err != nil {
				t.Fatal(err)
			}
			got, missed := MostRecentScheduleTime(cj, sched, tc.now)
			switch {
			case got == nil && !tc.want.IsZero(), got != nil && !got.Equal(tc.want), missed != tc.missed:
				t.Errorf("got %v, %d missed; want %v, %d", got, missed, tc.want, tc.missed)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		name  string
		cj    *batchv1.CronJob
		jobs  []*batchv1.Job
		gone  []types.UID
		now   time.Time
		check func(t *testing.T, p Plan)
	}{
		{
			name: "time come: a job named by the minute, annotated with the time",
			cj:   newCronJob("*/2 * * * *"),
			now:  t1002.Add(10 * time.Second),
			check: func(t *testing.T, p Plan) {
				if p.Create == nil || p.Create.Name != "hello-29939642" || !p.Scheduled.Equal(t1002) ||
					p.Create.Annotations[batchv1.CronJobScheduledTimestampAnnotation] != "2026-12-04T10:02:00Z" ||
					p.Create.Labels["app"] != "hello" || metav1.GetControllerOf(p.Create).UID != "cj-uid" ||
					p.RequeueAfter != 2*time.Minute-10*time.Second+nextScheduleDelta {
					t.Errorf("create %+v requeue %v", p.Create, p.RequeueAfter)
				}
			},
		},
		{
			name: "not yet: look again at the next time",
			cj:   newCronJob("*/2 * * * *"),
			now:  created.Add(time.Second),
			check: func(t *testing.T, p Plan) {
				if p.Create != nil || p.RequeueAfter != 89*time.Second+nextScheduleDelta {
					t.Errorf("create %v requeue %v", p.Create, p.RequeueAfter)
				}
			},
		},
		{
			name: "already run",
			cj:   newCronJob("*/2 * * * *", lastScheduled(t1002)),
			now:  t1002.Add(10 * time.Second),
			check: func(t *testing.T, p Plan) {
				if p.Create != nil {
					t.Errorf("create %v", p.Create.Name)
				}
			},
		},
		{
			name: "Forbid with a job running: not started",
			cj:   newCronJob("*/2 * * * *", active("a"), func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ForbidConcurrent }),
			jobs: []*batchv1.Job{job("a", "", 0)},
			now:  t1002,
			check: func(t *testing.T, p Plan) {
				if p.Create != nil || reasons(p) != ReasonJobAlreadyActive {
					t.Errorf("create %v events %q", p.Create, reasons(p))
				}
			},
		},
		{
			name: "Allow with a job running: started alongside",
			cj:   newCronJob("*/2 * * * *", active("a")),
			jobs: []*batchv1.Job{job("a", "", 0)},
			now:  t1002,
			check: func(t *testing.T, p Plan) {
				if p.Create == nil || len(p.DeleteActive) != 0 || activeNames(p.Status) != "a" {
					t.Errorf("create %v delete %q", p.Create, jobNames(p.DeleteActive))
				}
			},
		},
		{
			name: "Replace: the running job is deleted first",
			cj:   newCronJob("*/2 * * * *", active("a"), func(cj *batchv1.CronJob) { cj.Spec.ConcurrencyPolicy = batchv1.ReplaceConcurrent }),
			jobs: []*batchv1.Job{job("a", "", 0)},
			now:  t1002,
			check: func(t *testing.T, p Plan) {
				if p.Create == nil || jobNames(p.DeleteActive) != "a" || activeNames(p.Status) != "" {
					t.Errorf("create %v delete %q", p.Create, jobNames(p.DeleteActive))
				}
			},
		},
		{
			name: "suspended: nothing started, nothing requeued",
			cj:   newCronJob("*/2 * * * *", func(cj *batchv1.CronJob) { cj.Spec.Suspend = ptr.To(true) }),
			now:  t1002,
			check: func(t *testing.T, p Plan) {
				if p.Create != nil || p.RequeueAfter != 0 {
					t.Errorf("create %v requeue %v", p.Create, p.RequeueAfter)
				}
			},
		},
		{
			name: "past the starting deadline: missed",
			cj:   newCronJob("0 * * * *", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](3600) }),
			now:  time.Date(2026, 12, 4, 11, 10, 0, 0, time.UTC),
			check: func(t *testing.T, p Plan) {
				if p.Create == nil || !p.Scheduled.Equal(time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)) {
					t.Errorf("create %v", p.Create)
				}
			},
		},
		{
			name: "within a short starting deadline: started",
			cj:   newCronJob("*/2 * * * *", func(cj *batchv1.CronJob) { cj.Spec.StartingDeadlineSeconds = ptr.To[int64](10) }),
			now:  t1002.Add(5 * time.Second),
			check: func(t *testing.T, p Plan) {
				if p.Create == nil {
					t.Errorf("within the deadline: not created")
				}
			},
		},
		{
			name: "many missed start times: warned, the latest started",
			cj:   newCronJob("* * * * *"),
			now:  created.Add(3 * time.Hour),
			check: func(t *testing.T, p Plan) {
				if reasons(p) != ReasonTooManyMissedTimes || p.Create == nil || !p.Scheduled.Equal(time.Date(2026, 12, 4, 13, 0, 0, 0, time.UTC)) {
					t.Errorf("events %q create %v", reasons(p), p.Scheduled)
				}
			},
		},
		{
			name: "finished jobs leave the active list; the last success is kept",
			cj:   newCronJob("*/2 * * * *", active("a", "b", "c", "gone"), lastScheduled(t1002)),
			jobs: []*batchv1.Job{job("a", "Complete", 0), job("b", "Failed", 1), job("c", "", 2), job("d", "", 2)},
			gone: []types.UID{"gone"},
			now:  t1002.Add(time.Second),
			check: func(t *testing.T, p Plan) {
				if activeNames(p.Status) != "c d" || reasons(p) != "SawCompletedJob SawCompletedJob MissingJob" ||
					p.Status.LastSuccessfulTime == nil || !p.Status.LastSuccessfulTime.Time.Equal(time.Date(2026, 12, 4, 10, 0, 30, 0, time.UTC)) {
					t.Errorf("active %q events %q last success %v", activeNames(p.Status), reasons(p), p.Status.LastSuccessfulTime)
				}
				if p.Events[0].Message != "Saw completed job: a, condition: Complete" {
					t.Errorf("message %q", p.Events[0].Message)
				}
			},
		},
		{
			name: "history beyond the limits: the oldest go",
			cj:   newCronJob("*/2 * * * *", lastScheduled(t1002)),
			jobs: []*batchv1.Job{job("s1", "Complete", 1), job("s0", "Complete", 0), job("s3", "Complete", 3), job("s2", "Complete", 2),
				job("f0", "Failed", 0), job("f1", "Failed", 1), job("r", "", 0)},
			now: t1002.Add(time.Second),
			check: func(t *testing.T, p Plan) {
				if jobNames(p.Cleanup) != "s0 f0" {
					t.Errorf("cleanup %q", jobNames(p.Cleanup))
				}
			},
		},
		{
			name: "an unparseable schedule is reported",
			cj:   newCronJob("*/2 * * *"),
			now:  t1002,
			check: func(t *testing.T, p Plan) {
				if reasons(p) != ReasonUnparseableSchedule || p.Create != nil || p.RequeueAfter != 0 {
					t.Errorf("events %q", reasons(p))
				}
			},
		},
		{
			name: "an unknown time zone is reported",
			cj:   newCronJob("*/2 * * * *", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Mars/Olympus") }),
			now:  t1002,
			check: func(t *testing.T, p Plan) {
				if reasons(p) != ReasonUnknownTimeZone || p.Create != nil {
					t.Errorf("events %q", reasons(p))
				}
			},
		},
		{
			name: "a time zone shifts the schedule and the annotation",
			cj:   newCronJob("0 11 * * *", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Europe/Berlin") }),
			now:  time.Date(2026, 12, 4, 10, 0, 50, 0, time.UTC),
			check: func(t *testing.T, p Plan) {
				// 11:00 in Berlin (UTC+1 in December) is 10:00 UTC, before
				// the CronJob existed: the next is tomorrow.
				if p.Create != nil || p.RequeueAfter != 24*time.Hour-50*time.Second+nextScheduleDelta {
					t.Errorf("create %v requeue %v", p.Create, p.RequeueAfter)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			missing := map[types.UID]bool{}
			for _, u := range tc.gone {
				missing[u] = true
			}
			tc.check(t, Decide(Input{CronJob: tc.cj, Jobs: tc.jobs, Missing: missing, Now: tc.now}))
		})
	}
}

func TestJobFromTemplateInTimeZone(t *testing.T) {
	cj := newCronJob("0 11 * * *", func(cj *batchv1.CronJob) { cj.Spec.TimeZone = ptr.To("Europe/Berlin") })
	loc, _, _ := schedule(cj)
	j := JobFromTemplate(cj, time.Date(2026, 12, 5, 10, 0, 0, 0, time.UTC), loc)
	if got := j.Annotations[batchv1.CronJobScheduledTimestampAnnotation]; got != "2026-12-05T11:00:00+01:00" {
		t.Errorf("annotation %q", got)
	}
	if cj.Spec.JobTemplate.Annotations != nil {
		t.Error("the template was changed")
	}
}
