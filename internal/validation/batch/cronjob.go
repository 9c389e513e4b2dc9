package batch

import (
	"fmt"
	"strings"
	"time"
	// Embedded IANA data so time zones validate the same on every machine.
	_ "time/tzdata"

	batchv1 "k8s.io/api/batch/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// MaxCronJobNameLength is the longest CronJob name: the controller appends
// an 11-character "-<timestamp>" suffix to name jobs, which must fit in 63.
const MaxCronJobNameLength = utilvalidation.DNS1035LabelMaxLength - 11

// ValidateCronJob validates a CronJob on creation.
//
// metadata is namespaced with a DNS-subdomain name of at most 52
// characters. In spec: schedule is required and must parse (see
// ParseCronSchedule) without a TZ= or CRON_TZ= prefix (use timeZone);
// timeZone, when set, must be a loadable IANA name other than "Local";
// startingDeadlineSeconds and the job history limits are >= 0;
// concurrencyPolicy is Allow, Forbid or Replace; the job template must be a
// valid job spec without selector or manualSelector (the job's selector is
// generated), and its metadata labels and annotations must be valid.
func ValidateCronJob(cj *batchv1.CronJob) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMeta(&cj.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateCronJobSpec(&cj.Spec, nil, field.NewPath("spec"))...)
	if len(cj.Name) > MaxCronJobNameLength {
		allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), cj.Name, fmt.Sprintf("must be no more than %d characters", MaxCronJobNameLength)))
	}
	return allErrs
}

// ValidateCronJobUpdate validates an update of oldCJ to newCJ. metadata
// follows the generic update rules and the spec is revalidated as on
// creation, except that the name length limit is not enforced, a TZ= prefix
// stays allowed if the stored schedule already used one (but not together
// with timeZone), and timeZone is only rechecked when it changed.
func ValidateCronJobUpdate(newCJ, oldCJ *batchv1.CronJob) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newCJ.ObjectMeta, &oldCJ.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateCronJobSpec(&newCJ.Spec, &oldCJ.Spec, field.NewPath("spec"))...)
	return allErrs
}

// ValidateCronJobStatusUpdate validates a status update. As upstream, the
// status itself is not checked; metadata follows the generic update rules.
func ValidateCronJobStatusUpdate(newCJ, oldCJ *batchv1.CronJob) field.ErrorList {
	return corevalidation.ValidateObjectMetaUpdate(&newCJ.ObjectMeta, &oldCJ.ObjectMeta, field.NewPath("metadata"))
}

func validateCronJobSpec(spec, oldSpec *batchv1.CronJobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if spec.Schedule == "" {
		allErrs = append(allErrs, field.Required(fldPath.Child("schedule"), ""))
	} else {
		allowTZ := oldSpec != nil && strings.Contains(oldSpec.Schedule, "TZ")
		allErrs = append(allErrs, validateSchedule(spec.Schedule, allowTZ, spec.TimeZone, fldPath.Child("schedule"))...)
	}
	if spec.StartingDeadlineSeconds != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(*spec.StartingDeadlineSeconds, fldPath.Child("startingDeadlineSeconds"))...)
	}
	if oldSpec == nil || !equalPtr(oldSpec.TimeZone, spec.TimeZone) {
		allErrs = append(allErrs, validateTimeZone(spec.TimeZone, fldPath.Child("timeZone"))...)
	}
	allErrs = append(allErrs, validateConcurrencyPolicy(spec.ConcurrencyPolicy, fldPath.Child("concurrencyPolicy"))...)
	allErrs = append(allErrs, validateJobTemplateSpec(&spec.JobTemplate, fldPath.Child("jobTemplate"))...)
	if spec.SuccessfulJobsHistoryLimit != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*spec.SuccessfulJobsHistoryLimit), fldPath.Child("successfulJobsHistoryLimit"))...)
	}
	if spec.FailedJobsHistoryLimit != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*spec.FailedJobsHistoryLimit), fldPath.Child("failedJobsHistoryLimit"))...)
	}
	return allErrs
}

func validateSchedule(schedule string, allowTZ bool, timeZone *string, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if _, err := ParseCronSchedule(schedule); err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath, schedule, err.Error()))
	}
	hasTZ := strings.Contains(schedule, "TZ")
	switch {
	case allowTZ && hasTZ && timeZone != nil:
		allErrs = append(allErrs, field.Invalid(fldPath, schedule, "cannot use both timeZone field and TZ or CRON_TZ in schedule"))
	case !allowTZ && hasTZ:
		allErrs = append(allErrs, field.Invalid(fldPath, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
	}
	return allErrs
}

// validTimeZonePart reports whether one "/"-separated component of a time
// zone name follows the IANA naming rules (1-14 of A-Za-z0-9 . - _ +, not
// "." or "..", not starting with "-").
func validTimeZonePart(part string) bool {
	if part == "." || part == ".." || strings.HasPrefix(part, "-") || len(part) < 1 || len(part) > 14 {
		return false
	}
	for _, r := range part {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', strings.ContainsRune(".-_+", r):
		default:
			return false
		}
	}
	return true
}

func validateTimeZone(timeZone *string, fldPath *field.Path) field.ErrorList {
	if timeZone == nil {
		return nil
	}
	tz := *timeZone
	if tz == "" {
		return field.ErrorList{field.Invalid(fldPath, tz, "timeZone must be nil or non-empty string")}
	}
	for _, part := range strings.Split(tz, "/") {
		if !validTimeZonePart(part) {
			return field.ErrorList{field.Invalid(fldPath, tz, fmt.Sprintf("unknown time zone %s", tz))}
		}
	}
	var allErrs field.ErrorList
	if strings.EqualFold(tz, "Local") {
		allErrs = append(allErrs, field.Invalid(fldPath, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones"))
	}
	if _, err := time.LoadLocation(tz); err != nil {
		allErrs = append(allErrs, field.Invalid(fldPath, tz, err.Error()))
	}
	return allErrs
}

func validateConcurrencyPolicy(p batchv1.ConcurrencyPolicy, fldPath *field.Path) field.ErrorList {
	switch p {
	case batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent:
		return nil
	case "":
		return field.ErrorList{field.Required(fldPath, "")}
	default:
		return field.ErrorList{field.NotSupported(fldPath, p,
			[]batchv1.ConcurrencyPolicy{batchv1.AllowConcurrent, batchv1.ForbidConcurrent, batchv1.ReplaceConcurrent})}
	}
}

// validateJobTemplateSpec validates a CronJob's job template: valid labels
// and annotations, the JobSpec rules, and no selector or manualSelector.
func validateJobTemplateSpec(t *batchv1.JobTemplateSpec, fldPath *field.Path) field.ErrorList {
	metaPath := fldPath.Child("metadata")
	allErrs := metavalidation.ValidateLabels(t.Labels, metaPath.Child("labels"))
	allErrs = append(allErrs, apimachineryvalidation.ValidateAnnotations(t.Annotations, metaPath.Child("annotations"))...)
	specPath := fldPath.Child("spec")
	allErrs = append(allErrs, validateJobSpec(&t.Spec, specPath)...)
	if t.Spec.Selector != nil {
		allErrs = append(allErrs, field.Invalid(specPath.Child("selector"), t.Spec.Selector, "`selector` will be auto-generated"))
	}
	if ptrDeref(t.Spec.ManualSelector, false) {
		allErrs = append(allErrs, field.NotSupported(specPath.Child("manualSelector"), "true", []string{"nil", "false"}))
	}
	return allErrs
}
