package printers

import (
	"fmt"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	batchv1beta1 "k8s.io/api/batch/v1beta1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/duration"
)

// jobPrinter prints jobs: NAME STATUS COMPLETIONS DURATION AGE, and with -o
// wide CONTAINERS IMAGES SELECTOR.
func jobPrinter() Printer {
	return typed[batchv1.Job, *batchv1.Job]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Status", "string", "Status of the job."),
			column("Completions", "string", batchv1.JobStatus{}.SwaggerDoc()["succeeded"]),
			column("Duration", "string", "Time required to complete the job."),
			ageColumn(),
			wide(containersColumn()),
			wide(imagesColumn()),
			wide(column("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"])),
		},
		cells: jobCells,
	}
}

// jobCells is one job's row. COMPLETIONS is succeeded/completions, or for a
// job without completions succeeded/1 (with " of P" when its parallelism P
// is above 1). DURATION runs from the start to the completion, or to now
// while running, and is empty before the job starts. STATUS is jobStatus's.
func jobCells(job *batchv1.Job, now time.Time) ([]interface{}, error) {
	var completions string
	switch parallelism := int32Value(job.Spec.Parallelism); {
	case job.Spec.Completions != nil:
		completions = fmt.Sprintf("%d/%d", job.Status.Succeeded, *job.Spec.Completions)
	case parallelism > 1:
		completions = fmt.Sprintf("%d/1 of %d", job.Status.Succeeded, parallelism)
	default:
		completions = fmt.Sprintf("%d/1", job.Status.Succeeded)
	}

	var took string
	switch {
	case job.Status.StartTime == nil:
	case job.Status.CompletionTime == nil:
		took = duration.HumanDuration(now.Sub(job.Status.StartTime.Time))
	default:
		took = duration.HumanDuration(job.Status.CompletionTime.Sub(job.Status.StartTime.Time))
	}

	names, images := containerCells(job.Spec.Template.Spec.Containers)
	return []interface{}{
		job.Name, jobStatus(job), completions, took, since(job.CreationTimestamp, now),
		names, images, metav1.FormatLabelSelector(job.Spec.Selector),
	}, nil
}

// jobStatus is the first that holds of: Complete, Failed (by their
// conditions), Terminating (being deleted), Suspended, FailureTarget,
// SuccessCriteriaMet (by their conditions), and otherwise Running.
func jobStatus(job *batchv1.Job) string {
	switch {
	case jobCondition(job, batchv1.JobComplete):
		return "Complete"
	case jobCondition(job, batchv1.JobFailed):
		return "Failed"
	case job.DeletionTimestamp != nil:
		return "Terminating"
	case jobCondition(job, batchv1.JobSuspended):
		return "Suspended"
	case jobCondition(job, batchv1.JobFailureTarget):
		return "FailureTarget"
	case jobCondition(job, batchv1.JobSuccessCriteriaMet):
		return "SuccessCriteriaMet"
	}
	return "Running"
}

// jobCondition reports whether job's first condition of type t is True.
func jobCondition(job *batchv1.Job, t batchv1.JobConditionType) bool {
	for _, c := range job.Status.Conditions {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// cronJobPrinter prints cron jobs: NAME SCHEDULE TIMEZONE SUSPEND ACTIVE LAST
// SCHEDULE AGE, and with -o wide CONTAINERS IMAGES SELECTOR.
func cronJobPrinter() Printer {
	spec, status := batchv1beta1.CronJobSpec{}.SwaggerDoc(), batchv1beta1.CronJobStatus{}.SwaggerDoc()
	return typed[batchv1.CronJob, *batchv1.CronJob]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Schedule", "string", spec["schedule"]),
			column("Timezone", "string", spec["timeZone"]),
			column("Suspend", "boolean", spec["suspend"]),
			column("Active", "integer", status["active"]),
			column("Last Schedule", "string", status["lastScheduleTime"]),
			ageColumn(),
			wide(containersColumn()),
			wide(imagesColumn()),
			wide(column("Selector", "string", batchv1.JobSpec{}.SwaggerDoc()["selector"])),
		},
		cells: func(cj *batchv1.CronJob, now time.Time) ([]interface{}, error) {
			last := "<none>"
			if cj.Status.LastScheduleTime != nil {
				last = since(*cj.Status.LastScheduleTime, now)
			}
			timeZone := "<none>"
			if cj.Spec.TimeZone != nil {
				timeZone = *cj.Spec.TimeZone
			}
			job := cj.Spec.JobTemplate.Spec
			names, images := containerCells(job.Template.Spec.Containers)
			return []interface{}{
				cj.Name, cj.Spec.Schedule, timeZone, boolPtr(cj.Spec.Suspend),
				int64(len(cj.Status.Active)), last, since(cj.CreationTimestamp, now),
				names, images, metav1.FormatLabelSelector(job.Selector),
			}, nil
		},
	}
}
