package cronjob

import (
	"fmt"
	"slices"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	v1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	batchvalidation "github.com/skiff-sh/skiff/internal/validation/batch"
)

// Upstream's event reasons.
const (
	ReasonSuccessfulCreate    = "SuccessfulCreate"
	ReasonFailedCreate        = "FailedCreate"
	ReasonSuccessfulDelete    = "SuccessfulDelete"
	ReasonFailedDelete        = "FailedDelete"
	ReasonSawCompletedJob     = "SawCompletedJob"
	ReasonMissingJob          = "MissingJob"
	ReasonMissSchedule        = "MissSchedule"
	ReasonTooManyMissedTimes  = "TooManyMissedTimes"
	ReasonJobAlreadyActive    = "JobAlreadyActive"
	ReasonUnparseableSchedule = "UnparseableSchedule"
	ReasonUnknownTimeZone     = "UnknownTimeZone"
)

const (
	// tooManyMissed is upstream's limit on missed start times before it
	// warns.
	tooManyMissed = 100
	// nextScheduleDelta is added to the requeue so that the next sync
	// comes after the scheduled time, not just before it.
	nextScheduleDelta = 100 * time.Millisecond
)

// Event is an event to record on the CronJob.
type Event struct{ Type, Reason, Message string }

// Input is what Decide needs.
type Input struct {
	CronJob *batchv1.CronJob
	// Jobs are the Jobs whose controller is CronJob.
	Jobs []*batchv1.Job
	// Missing are Jobs of status.active that the API server says are
	// gone (not merely missing from the cache).
	Missing map[types.UID]bool
	Now     time.Time
}

// Plan is what the sync must do, in order: delete DeleteActive (the
// Replace policy), create Create (if not nil; on success add it to
// Status.Active and set Status.LastScheduleTime to Scheduled), write
// Status, delete Cleanup (history beyond the limits), record Events, and
// look again after RequeueAfter when it is not zero.
type Plan struct {
	Status       batchv1.CronJobStatus
	DeleteActive []*batchv1.Job
	Create       *batchv1.Job
	Scheduled    time.Time
	Cleanup      []*batchv1.Job
	Events       []Event
	RequeueAfter time.Duration
}

// Decide is one sync of a CronJob, as upstream's cronjob controller (v2):
// it drops finished and vanished Jobs from status.active, then, unless
// suspended, finds the most recent schedule time not yet run and starts
// its Job as the concurrency policy allows, and trims the finished Jobs
// to the history limits.
func Decide(in Input) Plan {
	cj := in.CronJob
	st := *cj.Status.DeepCopy()
	var plan Plan
	byUID := map[types.UID]*batchv1.Job{}
	for _, j := range in.Jobs {
		byUID[j.UID] = j
	}
	for _, j := range in.Jobs {
		active := inActive(&st, j.UID)
		cond, finished := finishedCondition(j)
		switch {
		case !finished && !active && j.DeletionTimestamp == nil:
			// Ours but not listed (a status write was lost): adopt it.
			st.Active = append(st.Active, jobRef(j))
		case finished && active:
			st.Active = slices.DeleteFunc(st.Active, func(r v1.ObjectReference) bool { return r.UID == j.UID })
			plan.Events = append(plan.Events, Event{v1.EventTypeNormal, ReasonSawCompletedJob,
				fmt.Sprintf("Saw completed job: %s, condition: %v", j.Name, cond)})
		}
		if cond == batchv1.JobComplete && j.Status.CompletionTime != nil &&
			(st.LastSuccessfulTime == nil || j.Status.CompletionTime.After(st.LastSuccessfulTime.Time)) {
			st.LastSuccessfulTime = j.Status.CompletionTime.DeepCopy()
		}
	}
	st.Active = slices.DeleteFunc(st.Active, func(r v1.ObjectReference) bool {
		if _, ok := byUID[r.UID]; !ok && in.Missing[r.UID] {
			plan.Events = append(plan.Events, Event{v1.EventTypeNormal, ReasonMissingJob, "Active job went missing: " + r.Name})
			return true
		}
		return false
	})
	plan.Cleanup = Cleanup(cj, in.Jobs, &st)
	plan.Status = st
	if cj.DeletionTimestamp != nil {
		return plan
	}

	loc, sched, ev := schedule(cj)
	if ev != nil {
		plan.Events = append(plan.Events, *ev)
		return plan
	}
	if cj.Spec.Suspend != nil && *cj.Spec.Suspend {
		return plan
	}
	next := func() time.Duration {
		t := sched.Next(in.Now)
		if t.IsZero() {
			return 0
		}
		return t.Add(nextScheduleDelta).Sub(in.Now)
	}
	plan.RequeueAfter = next()
	scheduled, missed := MostRecentScheduleTime(cj, sched, in.Now)
	if scheduled == nil {
		return plan
	}
	if missed > tooManyMissed {
		plan.Events = append(plan.Events, Event{v1.EventTypeWarning, ReasonTooManyMissedTimes,
			fmt.Sprintf("too many missed start times: %d. Set or decrease .spec.startingDeadlineSeconds or check clock skew", missed)})
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil && scheduled.Add(time.Duration(*d)*time.Second).Before(in.Now) {
		plan.Events = append(plan.Events, Event{v1.EventTypeWarning, ReasonMissSchedule,
			"Missed scheduled time to start a job: " + scheduled.UTC().Format(time.RFC1123Z)})
		return plan
	}
	name := JobName(cj, *scheduled)
	if st.LastScheduleTime != nil && st.LastScheduleTime.Time.Equal(*scheduled) ||
		slices.ContainsFunc(in.Jobs, func(j *batchv1.Job) bool { return j.Name == name }) {
		return plan
	}
	switch cj.Spec.ConcurrencyPolicy {
	case batchv1.ForbidConcurrent:
		if len(st.Active) > 0 {
			plan.Events = append(plan.Events, Event{v1.EventTypeNormal, ReasonJobAlreadyActive,
				"Not starting job because prior execution is running and concurrency policy is Forbid"})
			return plan
		}
	case batchv1.ReplaceConcurrent:
		for _, r := range st.Active {
			if j, ok := byUID[r.UID]; ok {
				plan.DeleteActive = append(plan.DeleteActive, j)
			}
		}
		plan.Status.Active = nil
	}
	plan.Create = JobFromTemplate(cj, *scheduled, loc)
	plan.Scheduled = *scheduled
	return plan
}

// schedule parses the CronJob's schedule in its time zone (the
// controller's local zone without spec.timeZone); on failure it returns
// the warning to record.
func schedule(cj *batchv1.CronJob) (*time.Location, batchvalidation.CronSchedule, *Event) {
	spec := cj.Spec.Schedule
	loc := time.UTC
	if tz := cj.Spec.TimeZone; tz != nil {
		l, err := time.LoadLocation(*tz)
		if err != nil {
			return nil, nil, &Event{v1.EventTypeWarning, ReasonUnknownTimeZone, fmt.Sprintf("invalid timeZone: %q: %s", *tz, err)}
		}
		loc = l
		spec = "TZ=" + *tz + " " + spec
	}
	sched, err := batchvalidation.ParseCronSchedule(spec)
	if err != nil {
		return nil, nil, &Event{v1.EventTypeWarning, ReasonUnparseableSchedule, fmt.Sprintf("unparseable schedule: %q : %s", cj.Spec.Schedule, err)}
	}
	return loc, sched, nil
}

// MostRecentScheduleTime is the latest schedule time at or before now
// that is after the last one run (or the CronJob's creation), and how
// many such times there are; nil when none has come. With
// startingDeadlineSeconds, times older than the deadline are not looked
// at (they are missed for good).
func MostRecentScheduleTime(cj *batchv1.CronJob, sched batchvalidation.CronSchedule, now time.Time) (*time.Time, int) {
	earliest := cj.CreationTimestamp.Time
	if cj.Status.LastScheduleTime != nil {
		earliest = cj.Status.LastScheduleTime.Time
	}
	if d := cj.Spec.StartingDeadlineSeconds; d != nil {
		if limit := now.Add(-time.Duration(*d) * time.Second); limit.After(earliest) {
			earliest = limit
		}
	}
	t1 := sched.Next(earliest)
	if t1.IsZero() || t1.After(now) {
		return nil, 0
	}
	t2 := sched.Next(t1)
	if t2.IsZero() || t2.After(now) {
		return &t1, 1
	}
	// Many missed: walk, but not through years of minutes; past a
	// thousand steps, estimate the count and start near now.
	most, missed := t1, 1
	for t := t2; !t.IsZero() && !t.After(now); t = sched.Next(t) {
		most, missed = t, missed+1
		if missed == 1000 {
			interval := t2.Sub(t1)
			missed = int(now.Sub(t1)/interval) + 1
			from := now.Add(-2 * interval)
			for u := sched.Next(from); !u.IsZero() && !u.After(now); u = sched.Next(u) {
				most = u
			}
			break
		}
	}
	return &most, missed
}

// JobName is the Job started for scheduled: <cronjob>-<minutes since
// the epoch>, as upstream.
func JobName(cj *batchv1.CronJob, scheduled time.Time) string {
	return fmt.Sprintf("%s-%d", cj.Name, scheduled.Unix()/60)
}

// JobFromTemplate is the Job the CronJob starts for scheduled: its job
// template, named by JobName, annotated with the scheduled time (RFC
// 3339 in loc), controlled by the CronJob.
func JobFromTemplate(cj *batchv1.CronJob, scheduled time.Time, loc *time.Location) *batchv1.Job {
	t := cj.Spec.JobTemplate.DeepCopy()
	annotations := t.Annotations
	if annotations == nil {
		annotations = map[string]string{}
	}
	annotations[batchv1.CronJobScheduledTimestampAnnotation] = scheduled.In(loc).Format(time.RFC3339)
	return &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            JobName(cj, scheduled),
			Namespace:       cj.Namespace,
			Labels:          t.Labels,
			Annotations:     annotations,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Spec: t.Spec,
	}
}

// Cleanup returns the finished Jobs beyond the history limits, oldest
// (by start time) first; Jobs still listed in status.active are kept.
func Cleanup(cj *batchv1.CronJob, jobs []*batchv1.Job, st *batchv1.CronJobStatus) []*batchv1.Job {
	var succeeded, failed []*batchv1.Job
	for _, j := range jobs {
		if inActive(st, j.UID) || j.DeletionTimestamp != nil {
			continue
		}
		switch cond, _ := finishedCondition(j); cond {
		case batchv1.JobComplete:
			succeeded = append(succeeded, j)
		case batchv1.JobFailed:
			failed = append(failed, j)
		}
	}
	var out []*batchv1.Job
	for _, g := range []struct {
		jobs  []*batchv1.Job
		limit *int32
	}{{succeeded, cj.Spec.SuccessfulJobsHistoryLimit}, {failed, cj.Spec.FailedJobsHistoryLimit}} {
		if g.limit == nil || len(g.jobs) <= int(*g.limit) {
			continue
		}
		slices.SortStableFunc(g.jobs, byStartTime)
		out = append(out, g.jobs[:len(g.jobs)-int(*g.limit)]...)
	}
	return out
}

// byStartTime orders Jobs by start time, those not started last, then
// by name.
func byStartTime(a, b *batchv1.Job) int {
	sa, sb := a.Status.StartTime, b.Status.StartTime
	switch {
	case sa == nil && sb != nil:
		return 1
	case sa != nil && sb == nil:
		return -1
	case sa != nil && !sa.Equal(sb):
		return sa.Compare(sb.Time)
	}
	switch {
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}

// finishedCondition is the Job's Complete or Failed condition type, if
// it has one.
func finishedCondition(j *batchv1.Job) (batchv1.JobConditionType, bool) {
	for _, c := range j.Status.Conditions {
		if (c.Type == batchv1.JobComplete || c.Type == batchv1.JobFailed) && c.Status == v1.ConditionTrue {
			return c.Type, true
		}
	}
	return "", false
}

func inActive(st *batchv1.CronJobStatus, uid types.UID) bool {
	return slices.ContainsFunc(st.Active, func(r v1.ObjectReference) bool { return r.UID == uid })
}

func jobRef(j *batchv1.Job) v1.ObjectReference {
	return v1.ObjectReference{Kind: "Job", APIVersion: "batch/v1", Namespace: j.Namespace, Name: j.Name, UID: j.UID, ResourceVersion: j.ResourceVersion}
}
