// Package batch validates batch/v1 objects (Job, CronJob) and parses
// CronJob schedules.
//
// All validation functions are pure: they take versioned, already-defaulted
// objects and return a field.ErrorList whose paths are rooted at the object
// (for example "spec.template.spec.restartPolicy"). An empty list means the
// object is valid. Rules and user-visible messages follow upstream
// Kubernetes (pkg/apis/batch/validation and the Job/CronJob registry
// strategies, with GA features on and alpha features off) where practical.
// Pod templates are checked with the sibling package internal/validation.
package batch

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	metavalidation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/sets"
	utilvalidation "k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	corevalidation "github.com/skiff-sh/skiff/internal/validation"
)

// Limits on Job specs, as upstream.
const (
	// MaxParallelismForIndexedJob caps parallelism of Indexed jobs.
	MaxParallelismForIndexedJob = 100000
	// MaxFailedIndexesForIndexedJob caps maxFailedIndexes.
	MaxFailedIndexesForIndexedJob = 100_000
	// completionsSoftLimit is the completions count above which jobs using
	// backoffLimitPerIndex get tighter limits.
	completionsSoftLimit                    = 100_000
	parallelismLimitForHighCompletions      = 10_000
	maxFailedIndexesLimitForHighCompletions = 10_000
	maxPodFailurePolicyRules                = 20
	maxPodFailurePolicyOnExitCodesValues    = 255
	maxPodFailurePolicyOnPodConditions      = 20
	maxManagedByLength                      = 63
	maxSuccessPolicySucceededIndexesLength  = 64 * 1024
	maxSuccessPolicyRules                   = 20
)

// Labels the Job registry puts on pod templates of jobs with generated
// selectors.
const (
	legacyControllerUIDLabel = "controller-uid"
	legacyJobNameLabel       = "job-name"
)

// jobOptions are the context-dependent knobs of Job spec validation.
type jobOptions struct {
	// allowInvalidLabelValueInSelector tolerates label values the stored
	// selector already had.
	allowInvalidLabelValueInSelector bool
	// allowMutableSchedulingDirectives lets a suspended job that never
	// started change its template's node affinity, node selector,
	// tolerations, scheduling gates, labels and annotations.
	allowMutableSchedulingDirectives bool
	// requirePrefixedLabels requires the batch.kubernetes.io/ selector
	// labels on generated-selector templates.
	requirePrefixedLabels bool
}

// ValidateJob validates a Job on creation.
//
// metadata is namespaced with a DNS-subdomain name; unless manualSelector
// is true the job must carry a uid and its generated selector and template
// labels (controller-uid, job-name and their batch.kubernetes.io/
// counterparts) must match it, so selector generation and uid assignment
// must happen before validation. An Indexed job's name must leave room for
// "-<index>" in pod hostnames. The spec rules are those of a JobSpec:
// selector required and matching the template labels; parallelism,
// completions, activeDeadlineSeconds, backoffLimit, backoffLimitPerIndex,
// maxFailedIndexes and ttlSecondsAfterFinished >= 0; completionMode
// NonIndexed or Indexed (Indexed requires completions); podFailurePolicy,
// successPolicy, podReplacementPolicy and managedBy rules; a valid pod
// template whose restartPolicy is OnFailure or Never (Never when a
// podFailurePolicy is set).
func ValidateJob(job *batchv1.Job) field.ErrorList {
	opts := jobOptions{requirePrefixedLabels: true}
	allErrs := corevalidation.ValidateObjectMeta(&job.ObjectMeta, true, apimachineryvalidation.NameIsDNSSubdomain, field.NewPath("metadata"))
	allErrs = append(allErrs, validateGeneratedSelector(job, opts.requirePrefixedLabels)...)
	allErrs = append(allErrs, validateJobSpecWithSelector(&job.Spec, field.NewPath("spec"), opts)...)
	if ptrDeref(job.Spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion &&
		job.Spec.Completions != nil && *job.Spec.Completions > 0 {
		// Pods of Indexed jobs get hostnames "<job name>-<index>".
		longest := fmt.Sprintf("%s-%d", job.Name, *job.Spec.Completions-1)
		if len(utilvalidation.IsDNS1123Label(longest)) > 0 {
			allErrs = append(allErrs, field.Invalid(field.NewPath("metadata", "name"), job.Name,
				fmt.Sprintf("will not able to create pod with invalid DNS label: %s", longest)))
		}
	}
	return allErrs
}

// ValidateJobUpdate validates an update of oldJob to newJob.
//
// metadata follows the generic update rules and newJob's spec is validated
// as on creation. selector, completionMode, podFailurePolicy,
// backoffLimitPerIndex, managedBy and successPolicy are immutable;
// completions is immutable except for Indexed jobs, where it may change
// together with parallelism (kept equal); the pod template is immutable,
// except that a suspended job that never started may change its node
// affinity, node selector, tolerations, scheduling gates, labels and
// annotations.
func ValidateJobUpdate(newJob, oldJob *batchv1.Job) field.ErrorList {
	opts := updateJobOptions(oldJob)
	specPath := field.NewPath("spec")
	newSpec, oldSpec := &newJob.Spec, &oldJob.Spec
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newJob.ObjectMeta, &oldJob.ObjectMeta, field.NewPath("metadata"))
	allErrs = append(allErrs, validateJobSpecWithSelector(newSpec, specPath, opts)...)
	allErrs = append(allErrs, validateCompletionsUpdate(newSpec, oldSpec, specPath.Child("completions"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newSpec.Selector, oldSpec.Selector, specPath.Child("selector"))...)
	allErrs = append(allErrs, validatePodTemplateUpdate(newSpec, oldSpec, specPath.Child("template"), opts)...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newSpec.CompletionMode, oldSpec.CompletionMode, specPath.Child("completionMode"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newSpec.PodFailurePolicy, oldSpec.PodFailurePolicy, specPath.Child("podFailurePolicy"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newSpec.BackoffLimitPerIndex, oldSpec.BackoffLimitPerIndex, specPath.Child("backoffLimitPerIndex"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newSpec.ManagedBy, oldSpec.ManagedBy, specPath.Child("managedBy"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateImmutableField(newSpec.SuccessPolicy, oldSpec.SuccessPolicy, specPath.Child("successPolicy"))...)
	return allErrs
}

func updateJobOptions(oldJob *batchv1.Job) jobOptions {
	_, hadJobName := oldJob.Spec.Template.Labels[batchv1.JobNameLabel]
	_, hadControllerUID := oldJob.Spec.Template.Labels[batchv1.ControllerUidLabel]
	return jobOptions{
		allowInvalidLabelValueInSelector: metavalidation.LabelSelectorHasInvalidLabelValue(oldJob.Spec.Selector),
		allowMutableSchedulingDirectives: ptrDeref(oldJob.Spec.Suspend, false) && oldJob.Status.StartTime == nil,
		requirePrefixedLabels:            hadJobName && hadControllerUID,
	}
}

func ptrDeref[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

// validateGeneratedSelector checks, for jobs whose selector the server
// generated (manualSelector not true), that the uid is set and that the
// template carries, and the selector matches, the generated labels.
func validateGeneratedSelector(job *batchv1.Job, requirePrefixedLabels bool) field.ErrorList {
	if ptrDeref(job.Spec.ManualSelector, false) || job.Spec.Selector == nil {
		return nil
	}
	var allErrs field.ErrorList
	if job.UID == "" {
		allErrs = append(allErrs, field.Required(field.NewPath("metadata", "uid"), ""))
	}
	metaPath := field.NewPath("spec", "template", "metadata")
	uid, name := string(job.UID), job.Name
	expected := map[string]string{legacyControllerUIDLabel: uid, legacyJobNameLabel: name}
	allErrs = append(allErrs, validateHasLabel(job.Spec.Template.Labels, metaPath, legacyControllerUIDLabel, uid)...)
	allErrs = append(allErrs, validateHasLabel(job.Spec.Template.Labels, metaPath, legacyJobNameLabel, name)...)
	if requirePrefixedLabels {
		allErrs = append(allErrs, validateHasLabel(job.Spec.Template.Labels, metaPath, batchv1.ControllerUidLabel, uid)...)
		allErrs = append(allErrs, validateHasLabel(job.Spec.Template.Labels, metaPath, batchv1.JobNameLabel, name)...)
		expected[batchv1.ControllerUidLabel] = uid
		expected[batchv1.JobNameLabel] = name
	}
	if selector, err := metav1.LabelSelectorAsSelector(job.Spec.Selector); err == nil && !selector.Matches(labels.Set(expected)) {
		allErrs = append(allErrs, field.Invalid(field.NewPath("spec", "selector"), job.Spec.Selector, "`selector` not auto-generated"))
	}
	return allErrs
}

// validateHasLabel requires labels[key] == want, reported at
// metaPath.labels[key].
func validateHasLabel(lbls map[string]string, metaPath *field.Path, key, want string) field.ErrorList {
	p := metaPath.Child("labels").Key(key)
	got, ok := lbls[key]
	if !ok {
		return field.ErrorList{field.Required(p, want)}
	}
	if got != want {
		return field.ErrorList{field.Invalid(p, got, fmt.Sprintf("must be '%s'", want))}
	}
	return nil
}

// validateJobSpecWithSelector validates a Job's spec: the JobSpec rules
// plus a required selector that matches the template labels.
func validateJobSpecWithSelector(spec *batchv1.JobSpec, fldPath *field.Path, opts jobOptions) field.ErrorList {
	allErrs := validateJobSpec(spec, fldPath)
	selPath := fldPath.Child("selector")
	if spec.Selector == nil {
		return append(allErrs, field.Required(selPath, ""))
	}
	selOpts := metavalidation.LabelSelectorValidationOptions{AllowInvalidLabelValueInSelector: opts.allowInvalidLabelValueInSelector}
	allErrs = append(allErrs, metavalidation.ValidateLabelSelector(spec.Selector, selOpts, selPath)...)
	if selector, err := metav1.LabelSelectorAsSelector(spec.Selector); err == nil && !selector.Matches(labels.Set(spec.Template.Labels)) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("template", "metadata", "labels"), spec.Template.Labels, "`selector` does not match template `labels`"))
	}
	return allErrs
}

// validateJobSpec holds the JobSpec rules shared by Jobs and CronJob job
// templates (everything but the selector).
func validateJobSpec(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	nonNeg := func(v *int32, name string) {
		if v != nil {
			allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*v), fldPath.Child(name))...)
		}
	}
	nonNeg(spec.Parallelism, "parallelism")
	nonNeg(spec.Completions, "completions")
	if spec.ActiveDeadlineSeconds != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(*spec.ActiveDeadlineSeconds, fldPath.Child("activeDeadlineSeconds"))...)
	}
	nonNeg(spec.BackoffLimit, "backoffLimit")
	nonNeg(spec.TTLSecondsAfterFinished, "ttlSecondsAfterFinished")
	nonNeg(spec.BackoffLimitPerIndex, "backoffLimitPerIndex")
	if spec.MaxFailedIndexes != nil {
		nonNeg(spec.MaxFailedIndexes, "maxFailedIndexes")
		if spec.BackoffLimitPerIndex == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("backoffLimitPerIndex"), "when maxFailedIndexes is specified"))
		}
	}
	if spec.ManagedBy != nil {
		p := fldPath.Child("managedBy")
		allErrs = append(allErrs, utilvalidation.IsDomainPrefixedPath(p, *spec.ManagedBy)...)
		if len(*spec.ManagedBy) > maxManagedByLength {
			allErrs = append(allErrs, field.TooLong(p, "", maxManagedByLength))
		}
	}
	allErrs = append(allErrs, validateCompletionMode(spec, fldPath)...)
	if spec.PodFailurePolicy != nil {
		allErrs = append(allErrs, validatePodFailurePolicy(spec, fldPath.Child("podFailurePolicy"))...)
	}
	if spec.SuccessPolicy != nil {
		if ptrDeref(spec.CompletionMode, batchv1.NonIndexedCompletion) != batchv1.IndexedCompletion {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("successPolicy"), *spec.SuccessPolicy, "requires indexed completion mode"))
		} else {
			allErrs = append(allErrs, validateSuccessPolicy(spec, fldPath.Child("successPolicy"))...)
		}
	}
	allErrs = append(allErrs, validatePodReplacementPolicy(spec, fldPath.Child("podReplacementPolicy"))...)

	templatePath := fldPath.Child("template")
	allErrs = append(allErrs, corevalidation.ValidatePodTemplateSpec(&spec.Template, templatePath)...)
	rp := spec.Template.Spec.RestartPolicy
	rpPath := templatePath.Child("spec", "restartPolicy")
	switch {
	case rp == corev1.RestartPolicyAlways || rp == "":
		allErrs = append(allErrs, field.Required(rpPath, fmt.Sprintf("valid values: %q, %q", corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever)))
	case rp != corev1.RestartPolicyOnFailure && rp != corev1.RestartPolicyNever:
		allErrs = append(allErrs, field.NotSupported(rpPath, rp, []corev1.RestartPolicy{corev1.RestartPolicyOnFailure, corev1.RestartPolicyNever}))
	case spec.PodFailurePolicy != nil && rp != corev1.RestartPolicyNever:
		allErrs = append(allErrs, field.Invalid(rpPath, rp, fmt.Sprintf("only %q is supported when podFailurePolicy is specified", corev1.RestartPolicyNever)))
	}
	return allErrs
}

func validateCompletionMode(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	mode := ptrDeref(spec.CompletionMode, batchv1.NonIndexedCompletion)
	if mode != batchv1.NonIndexedCompletion && mode != batchv1.IndexedCompletion {
		allErrs = append(allErrs, field.NotSupported(fldPath.Child("completionMode"), mode,
			[]batchv1.CompletionMode{batchv1.NonIndexedCompletion, batchv1.IndexedCompletion}))
	}
	if mode == batchv1.IndexedCompletion {
		if spec.Completions == nil {
			allErrs = append(allErrs, field.Required(fldPath.Child("completions"), fmt.Sprintf("when completion mode is %s", batchv1.IndexedCompletion)))
		}
		if spec.Parallelism != nil && *spec.Parallelism > MaxParallelismForIndexedJob {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("parallelism"), *spec.Parallelism,
				fmt.Sprintf("must be less than or equal to %d when completion mode is %s", MaxParallelismForIndexedJob, batchv1.IndexedCompletion)))
		}
		if spec.Completions != nil && spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > *spec.Completions {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "must be less than or equal to completions"))
		}
		if spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > MaxFailedIndexesForIndexedJob {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes,
				fmt.Sprintf("must be less than or equal to %d", MaxFailedIndexesForIndexedJob)))
		}
		if spec.Completions != nil && *spec.Completions > completionsSoftLimit && spec.BackoffLimitPerIndex != nil {
			if spec.MaxFailedIndexes == nil {
				allErrs = append(allErrs, field.Required(fldPath.Child("maxFailedIndexes"),
					fmt.Sprintf("must be specified when completions is above %d", completionsSoftLimit)))
			}
			if spec.Parallelism != nil && *spec.Parallelism > parallelismLimitForHighCompletions {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("parallelism"), *spec.Parallelism,
					fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", parallelismLimitForHighCompletions, completionsSoftLimit)))
			}
			if spec.MaxFailedIndexes != nil && *spec.MaxFailedIndexes > maxFailedIndexesLimitForHighCompletions {
				allErrs = append(allErrs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes,
					fmt.Sprintf("must be less than or equal to %d when completions are above %d and used with backoff limit per index", maxFailedIndexesLimitForHighCompletions, completionsSoftLimit)))
			}
		}
	}
	if mode == batchv1.NonIndexedCompletion {
		if spec.BackoffLimitPerIndex != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("backoffLimitPerIndex"), *spec.BackoffLimitPerIndex, "requires indexed completion mode"))
		}
		if spec.MaxFailedIndexes != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("maxFailedIndexes"), *spec.MaxFailedIndexes, "requires indexed completion mode"))
		}
	}
	return allErrs
}

func podFailurePolicyActions() []batchv1.PodFailurePolicyAction {
	return []batchv1.PodFailurePolicyAction{
		batchv1.PodFailurePolicyActionCount, batchv1.PodFailurePolicyActionFailIndex,
		batchv1.PodFailurePolicyActionFailJob, batchv1.PodFailurePolicyActionIgnore,
	}
}

func validatePodFailurePolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	rulesPath := fldPath.Child("rules")
	rules := spec.PodFailurePolicy.Rules
	if len(rules) > maxPodFailurePolicyRules {
		allErrs = append(allErrs, field.TooMany(rulesPath, len(rules), maxPodFailurePolicyRules))
	}
	containerNames := sets.New[string]()
	for _, c := range spec.Template.Spec.Containers {
		containerNames.Insert(c.Name)
	}
	for _, c := range spec.Template.Spec.InitContainers {
		containerNames.Insert(c.Name)
	}
	for i := range rules {
		allErrs = append(allErrs, validatePodFailurePolicyRule(spec, &rules[i], rulesPath.Index(i), containerNames)...)
	}
	return allErrs
}

func validatePodFailurePolicyRule(spec *batchv1.JobSpec, rule *batchv1.PodFailurePolicyRule, rulePath *field.Path, containerNames sets.Set[string]) field.ErrorList {
	var allErrs field.ErrorList
	actionPath := rulePath.Child("action")
	switch {
	case rule.Action == "":
		allErrs = append(allErrs, field.Required(actionPath, fmt.Sprintf("valid values: %q", podFailurePolicyActions())))
	case rule.Action == batchv1.PodFailurePolicyActionFailIndex:
		if spec.BackoffLimitPerIndex == nil {
			allErrs = append(allErrs, field.Invalid(actionPath, rule.Action, "requires the backoffLimitPerIndex to be set"))
		}
	case !slices.Contains(podFailurePolicyActions(), rule.Action):
		allErrs = append(allErrs, field.NotSupported(actionPath, rule.Action, podFailurePolicyActions()))
	}
	if rule.OnExitCodes != nil {
		allErrs = append(allErrs, validateOnExitCodes(rule.OnExitCodes, rulePath.Child("onExitCodes"), containerNames)...)
	}
	if len(rule.OnPodConditions) > 0 {
		allErrs = append(allErrs, validateOnPodConditions(rule.OnPodConditions, rulePath.Child("onPodConditions"))...)
	}
	if rule.OnExitCodes != nil && len(rule.OnPodConditions) > 0 {
		allErrs = append(allErrs, field.Invalid(rulePath, field.OmitValueType{}, "specifying both OnExitCodes and OnPodConditions is not supported"))
	}
	if rule.OnExitCodes == nil && len(rule.OnPodConditions) == 0 {
		allErrs = append(allErrs, field.Invalid(rulePath, field.OmitValueType{}, "specifying one of OnExitCodes and OnPodConditions is required"))
	}
	return allErrs
}

func validateOnExitCodes(req *batchv1.PodFailurePolicyOnExitCodesRequirement, fldPath *field.Path, containerNames sets.Set[string]) field.ErrorList {
	var allErrs field.ErrorList
	ops := []batchv1.PodFailurePolicyOnExitCodesOperator{batchv1.PodFailurePolicyOnExitCodesOpIn, batchv1.PodFailurePolicyOnExitCodesOpNotIn}
	opPath := fldPath.Child("operator")
	switch {
	case req.Operator == "":
		allErrs = append(allErrs, field.Required(opPath, fmt.Sprintf("valid values: %q", ops)))
	case !slices.Contains(ops, req.Operator):
		allErrs = append(allErrs, field.NotSupported(opPath, req.Operator, ops))
	}
	if req.ContainerName != nil && !containerNames.Has(*req.ContainerName) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("containerName"), *req.ContainerName, "must be one of the container or initContainer names in the pod template"))
	}
	valuesPath := fldPath.Child("values")
	if len(req.Values) == 0 {
		allErrs = append(allErrs, field.Invalid(valuesPath, req.Values, "at least one value is required"))
	} else if len(req.Values) > maxPodFailurePolicyOnExitCodesValues {
		allErrs = append(allErrs, field.TooMany(valuesPath, len(req.Values), maxPodFailurePolicyOnExitCodesValues))
	}
	ordered := true
	seen := sets.New[int32]()
	for j, v := range req.Values {
		vp := valuesPath.Index(j)
		if req.Operator == batchv1.PodFailurePolicyOnExitCodesOpIn && v == 0 {
			allErrs = append(allErrs, field.Invalid(vp, v, "must not be 0 for the In operator"))
		}
		if seen.Has(v) {
			allErrs = append(allErrs, field.Duplicate(vp, v))
		} else {
			seen.Insert(v)
		}
		if j > 0 && req.Values[j-1] > v {
			ordered = false
		}
	}
	if !ordered {
		allErrs = append(allErrs, field.Invalid(valuesPath, req.Values, "must be ordered"))
	}
	return allErrs
}

func validateOnPodConditions(patterns []batchv1.PodFailurePolicyOnPodConditionsPattern, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	if len(patterns) > maxPodFailurePolicyOnPodConditions {
		allErrs = append(allErrs, field.TooMany(fldPath, len(patterns), maxPodFailurePolicyOnPodConditions))
	}
	statuses := []corev1.ConditionStatus{corev1.ConditionFalse, corev1.ConditionTrue, corev1.ConditionUnknown}
	for j, p := range patterns {
		pp := fldPath.Index(j)
		for _, msg := range utilvalidation.IsQualifiedName(string(p.Type)) {
			allErrs = append(allErrs, field.Invalid(pp.Child("type"), p.Type, msg))
		}
		switch {
		case p.Status == "":
			allErrs = append(allErrs, field.Required(pp.Child("status"), fmt.Sprintf("valid values: %q", statuses)))
		case !slices.Contains(statuses, p.Status):
			allErrs = append(allErrs, field.NotSupported(pp.Child("status"), p.Status, statuses))
		}
	}
	return allErrs
}

func validatePodReplacementPolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	if spec.PodReplacementPolicy == nil {
		return nil
	}
	p := *spec.PodReplacementPolicy
	if spec.PodFailurePolicy != nil {
		if p != batchv1.Failed {
			return field.ErrorList{field.NotSupported(fldPath, p, []batchv1.PodReplacementPolicy{batchv1.Failed})}
		}
		return nil
	}
	valid := []batchv1.PodReplacementPolicy{batchv1.Failed, batchv1.TerminatingOrFailed}
	if !slices.Contains(valid, p) {
		return field.ErrorList{field.NotSupported(fldPath, p, valid)}
	}
	return nil
}

func validateSuccessPolicy(spec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	var allErrs field.ErrorList
	rulesPath := fldPath.Child("rules")
	rules := spec.SuccessPolicy.Rules
	if len(rules) == 0 {
		allErrs = append(allErrs, field.Required(rulesPath, "at least one rules must be specified when the successPolicy is specified"))
	}
	if len(rules) > maxSuccessPolicyRules {
		allErrs = append(allErrs, field.TooMany(rulesPath, len(rules), maxSuccessPolicyRules))
	}
	completions := ptrDeref(spec.Completions, 0)
	for i, rule := range rules {
		rp := rulesPath.Index(i)
		if rule.SucceededCount == nil && rule.SucceededIndexes == nil {
			allErrs = append(allErrs, field.Required(rp, "at least one of succeededCount or succeededIndexes must be specified"))
		}
		var total int32
		if rule.SucceededIndexes != nil {
			ip := rp.Child("succeededIndexes")
			if len(*rule.SucceededIndexes) > maxSuccessPolicySucceededIndexesLength {
				allErrs = append(allErrs, field.TooLong(ip, "", maxSuccessPolicySucceededIndexesLength))
			}
			var err error
			if total, err = parseIndexes(*rule.SucceededIndexes, completions); err != nil {
				allErrs = append(allErrs, field.Invalid(ip, *rule.SucceededIndexes, fmt.Sprintf("error parsing succeededIndexes: %s", err.Error())))
			}
		}
		if rule.SucceededCount != nil {
			cp := rp.Child("succeededCount")
			allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*rule.SucceededCount), cp)...)
			if *rule.SucceededCount > completions {
				allErrs = append(allErrs, field.Invalid(cp, *rule.SucceededCount,
					fmt.Sprintf("must be less than or equal to %d (the number of specified completions)", completions)))
			}
			if rule.SucceededIndexes != nil && *rule.SucceededCount > total {
				allErrs = append(allErrs, field.Invalid(cp, *rule.SucceededCount,
					fmt.Sprintf("must be less than or equal to %d (the number of indexes in the specified succeededIndexes field)", total)))
			}
		}
	}
	return allErrs
}

// parseIndexes parses a comma-separated list of increasing indexes and
// index ranges ("1,3-5,7") below completions and returns how many indexes
// it names.
func parseIndexes(s string, completions int32) (int32, error) {
	if s == "" {
		return 0, nil
	}
	var total int32
	last := int32(-1)
	for _, interval := range strings.Split(s, ",") {
		lo, hi, err := parseIndexInterval(interval, completions)
		if err != nil {
			return 0, err
		}
		if last >= lo {
			return 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", last, lo)
		}
		total += hi - lo + 1
		last = hi
	}
	return total, nil
}

// parseIndexInterval parses "N" or "N-M" (N < M) with both ends below
// completions.
func parseIndexInterval(s string, completions int32) (int32, int32, error) {
	parts := strings.Split(s, "-")
	if len(parts) > 2 {
		return 0, 0, fmt.Errorf("the fragment %q violates the requirement that an index interval can have at most two parts separated by '-'", s)
	}
	bounds := make([]int32, len(parts))
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil {
			return 0, 0, fmt.Errorf("cannot convert string to integer for index: %q", p)
		}
		if n >= int(completions) {
			return 0, 0, fmt.Errorf("too large index: %q", p)
		}
		bounds[i] = int32(n)
	}
	if len(bounds) == 1 {
		return bounds[0], bounds[0], nil
	}
	if bounds[0] >= bounds[1] {
		return 0, 0, fmt.Errorf("non-increasing order, previous: %d, current: %d", bounds[0], bounds[1])
	}
	return bounds[0], bounds[1], nil
}

// validateCompletionsUpdate keeps completions immutable, except that an
// Indexed job may scale completions together with parallelism.
func validateCompletionsUpdate(newSpec, oldSpec *batchv1.JobSpec, fldPath *field.Path) field.ErrorList {
	if ptrDeref(newSpec.CompletionMode, batchv1.NonIndexedCompletion) != batchv1.IndexedCompletion {
		return apimachineryvalidation.ValidateImmutableField(newSpec.Completions, oldSpec.Completions, fldPath)
	}
	if apiequality.Semantic.DeepEqual(newSpec.Completions, oldSpec.Completions) || newSpec.Completions == nil {
		// A nil completions is already reported by the spec validation.
		return nil
	}
	if newSpec.Parallelism == nil || *newSpec.Completions != *newSpec.Parallelism {
		return field.ErrorList{field.Invalid(fldPath, *newSpec.Completions,
			fmt.Sprintf("can only be modified in tandem with %s", fldPath.Root().Child("parallelism").String()))}
	}
	return nil
}

// validatePodTemplateUpdate keeps the template immutable, optionally
// excepting the scheduling directives of suspended, never-started jobs.
func validatePodTemplateUpdate(newSpec, oldSpec *batchv1.JobSpec, fldPath *field.Path, opts jobOptions) field.ErrorList {
	tmpl, oldTmpl := &newSpec.Template, &oldSpec.Template
	if opts.allowMutableSchedulingDirectives {
		oldTmpl = oldTmpl.DeepCopy()
		switch {
		case tmpl.Spec.Affinity == nil && oldTmpl.Spec.Affinity != nil:
			// The affinity may be cleared if it held nothing but node affinity.
			oldTmpl.Spec.Affinity.NodeAffinity = nil
			if *oldTmpl.Spec.Affinity == (corev1.Affinity{}) {
				oldTmpl.Spec.Affinity = nil
			}
		case tmpl.Spec.Affinity != nil && oldTmpl.Spec.Affinity == nil:
			oldTmpl.Spec.Affinity = &corev1.Affinity{NodeAffinity: tmpl.Spec.Affinity.NodeAffinity}
		case tmpl.Spec.Affinity != nil && oldTmpl.Spec.Affinity != nil:
			oldTmpl.Spec.Affinity.NodeAffinity = tmpl.Spec.Affinity.NodeAffinity
		}
		oldTmpl.Spec.NodeSelector = tmpl.Spec.NodeSelector
		oldTmpl.Spec.Tolerations = tmpl.Spec.Tolerations
		oldTmpl.Annotations = tmpl.Annotations
		oldTmpl.Labels = tmpl.Labels
		oldTmpl.Spec.SchedulingGates = tmpl.Spec.SchedulingGates
	}
	return apimachineryvalidation.ValidateImmutableField(tmpl, oldTmpl, fldPath)
}

// ValidateJobStatusUpdate validates a status update of oldJob to newJob.
//
// metadata follows the generic update rules; counters are non-negative and
// uncountedTerminatedPods holds distinct, non-empty uids. Because external
// controllers may manage jobs (spec.managedBy), status transitions are
// checked as upstream does, each rule only when the fields it involves
// changed: terminal conditions (Complete, Failed, FailureTarget,
// SuccessCriteriaMet) cannot be removed and must be consistent with each
// other, with startTime/completionTime and with active, terminating and
// uncounted pods; failed (and, unless the job is an elastic Indexed job,
// succeeded) counters cannot decrease; completedIndexes and failedIndexes
// must be well-formed, disjoint and only used by Indexed jobs (failedIndexes
// only with backoffLimitPerIndex); ready cannot exceed active.
func ValidateJobStatusUpdate(newJob, oldJob *batchv1.Job) field.ErrorList {
	allErrs := corevalidation.ValidateObjectMetaUpdate(&newJob.ObjectMeta, &oldJob.ObjectMeta, field.NewPath("metadata"))
	return append(allErrs, validateJobStatusUpdate(newJob, oldJob, statusOptionsFor(newJob, oldJob))...)
}

// jobStatusOptions selects which status transition rules apply.
type jobStatusOptions struct {
	rejectDecreasingSucceeded            bool
	rejectInvalidCompletedIndexes        bool
	rejectInvalidFailedIndexes           bool
	rejectCompletedIndexesForNonIndexed  bool
	rejectFailedIndexesWithoutBackoff    bool
	rejectFailedIndexesOverlapCompleted  bool
	rejectFailedWithoutFailureTarget     bool
	rejectCompleteWithoutSuccessCriteria bool
	rejectFinishedWithActivePods         bool
	rejectFinishedWithoutStartTime       bool
	rejectFinishedWithUncountedPods      bool
	rejectStartTimeUpdateForUnsuspended  bool
	rejectCompletionTimeBeforeStartTime  bool
	rejectNotCompleteWithCompletionTime  bool
	rejectCompleteWithoutCompletionTime  bool
	rejectCompleteWithFailed             bool
	rejectCompleteWithFailureTarget      bool
	rejectMoreReadyThanActive            bool
	rejectFinishedWithTerminatingPods    bool
}

func statusOptionsFor(newJob, oldJob *batchv1.Job) jobStatusOptions {
	ns, os := &newJob.Status, &oldJob.Status
	isIndexed := ptrDeref(newJob.Spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	finishedChanged := isJobFinished(oldJob) != isJobFinished(newJob)
	completeChanged := isJobComplete(oldJob) != isJobComplete(newJob)
	failedChanged := isJobFailed(oldJob) != isJobFailed(newJob)
	failureTargetChanged := isConditionTrue(os.Conditions, batchv1.JobFailureTarget) != isConditionTrue(ns.Conditions, batchv1.JobFailureTarget)
	completedIndexesChanged := os.CompletedIndexes != ns.CompletedIndexes
	failedIndexesChanged := !equalPtr(os.FailedIndexes, ns.FailedIndexes)
	activeChanged := os.Active != ns.Active
	startTimeChanged := !equalTimePtr(os.StartTime, ns.StartTime)
	completionTimeChanged := !equalTimePtr(os.CompletionTime, ns.CompletionTime)
	uncountedChanged := !apiequality.Semantic.DeepEqual(os.UncountedTerminatedPods, ns.UncountedTerminatedPods)
	readyChanged := !equalPtr(os.Ready, ns.Ready)
	terminatingChanged := !equalPtr(os.Terminating, ns.Terminating)
	return jobStatusOptions{
		// Elastic Indexed jobs (completions == parallelism) may scale down.
		rejectDecreasingSucceeded:            !isIndexed || !equalPtr(newJob.Spec.Completions, newJob.Spec.Parallelism),
		rejectInvalidCompletedIndexes:        completedIndexesChanged,
		rejectInvalidFailedIndexes:           failedIndexesChanged,
		rejectCompletedIndexesForNonIndexed:  completedIndexesChanged,
		rejectFailedIndexesWithoutBackoff:    failedIndexesChanged,
		rejectFailedIndexesOverlapCompleted:  failedIndexesChanged || completedIndexesChanged,
		rejectFailedWithoutFailureTarget:     failedChanged || failedIndexesChanged,
		rejectCompleteWithoutSuccessCriteria: completeChanged,
		rejectFinishedWithActivePods:         finishedChanged || activeChanged,
		rejectFinishedWithoutStartTime:       finishedChanged || startTimeChanged,
		rejectFinishedWithUncountedPods:      finishedChanged || uncountedChanged,
		rejectStartTimeUpdateForUnsuspended:  startTimeChanged,
		rejectCompletionTimeBeforeStartTime:  startTimeChanged || completionTimeChanged,
		rejectNotCompleteWithCompletionTime:  completeChanged || completionTimeChanged,
		rejectCompleteWithoutCompletionTime:  completeChanged || completionTimeChanged,
		rejectCompleteWithFailed:             completeChanged || failedChanged,
		rejectCompleteWithFailureTarget:      completeChanged || failureTargetChanged,
		rejectMoreReadyThanActive:            readyChanged || activeChanged,
		rejectFinishedWithTerminatingPods:    finishedChanged || terminatingChanged,
	}
}

func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

func equalTimePtr(a, b *metav1.Time) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Equal(b)
}

func isConditionTrue(conds []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range conds {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func isJobComplete(job *batchv1.Job) bool {
	return isConditionTrue(job.Status.Conditions, batchv1.JobComplete)
}
func isJobFailed(job *batchv1.Job) bool {
	return isConditionTrue(job.Status.Conditions, batchv1.JobFailed)
}
func isJobFinished(job *batchv1.Job) bool { return isJobComplete(job) || isJobFailed(job) }
func isSuccessCriteriaMet(job *batchv1.Job) bool {
	return isConditionTrue(job.Status.Conditions, batchv1.JobSuccessCriteriaMet)
}
func isFailureTarget(job *batchv1.Job) bool {
	return isConditionTrue(job.Status.Conditions, batchv1.JobFailureTarget)
}

func validateJobStatusUpdate(job, oldJob *batchv1.Job, opts jobStatusOptions) field.ErrorList {
	var allErrs field.ErrorList
	fldPath := field.NewPath("status")
	condPath := fldPath.Child("conditions")
	status, oldStatus := &job.Status, &oldJob.Status
	invalidConditions := func(msg string) {
		allErrs = append(allErrs, field.Invalid(condPath, field.OmitValueType{}, msg))
	}

	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(status.Active), fldPath.Child("active"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(status.Succeeded), fldPath.Child("succeeded"))...)
	allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(status.Failed), fldPath.Child("failed"))...)
	if status.Ready != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*status.Ready), fldPath.Child("ready"))...)
	}
	if status.Terminating != nil {
		allErrs = append(allErrs, apimachineryvalidation.ValidateNonnegativeField(int64(*status.Terminating), fldPath.Child("terminating"))...)
	}
	if u := status.UncountedTerminatedPods; u != nil {
		p := fldPath.Child("uncountedTerminatedPods")
		seen := sets.New[types.UID]()
		for _, list := range []struct {
			name string
			uids []types.UID
		}{{"succeeded", u.Succeeded}, {"failed", u.Failed}} {
			for i, uid := range list.uids {
				ip := p.Child(list.name).Index(i)
				switch {
				case uid == "":
					allErrs = append(allErrs, field.Invalid(ip, uid, "must not be empty"))
				case seen.Has(uid):
					allErrs = append(allErrs, field.Duplicate(ip, uid))
				default:
					seen.Insert(uid)
				}
			}
		}
	}

	complete, failed, finished := isJobComplete(job), isJobFailed(job), isJobFinished(job)
	if opts.rejectCompleteWithFailed && complete && failed {
		invalidConditions("cannot set Complete=True and Failed=true conditions")
	}
	if opts.rejectCompleteWithFailureTarget && complete && isFailureTarget(job) {
		invalidConditions("cannot set Complete=True and FailureTarget=true conditions")
	}
	if opts.rejectNotCompleteWithCompletionTime && status.CompletionTime != nil && !complete {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("completionTime"), status.CompletionTime, "cannot set completionTime when there is no Complete=True condition"))
	}
	if opts.rejectCompleteWithoutCompletionTime && status.CompletionTime == nil && complete {
		allErrs = append(allErrs, field.Required(fldPath.Child("completionTime"), "completionTime is required for Complete jobs"))
	}
	if opts.rejectCompletionTimeBeforeStartTime && status.StartTime != nil && status.CompletionTime != nil && status.CompletionTime.Before(status.StartTime) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("completionTime"), status.CompletionTime, "completionTime cannot be set before startTime"))
	}
	if opts.rejectFailedWithoutFailureTarget && failed && !isFailureTarget(job) {
		invalidConditions("cannot set Failed=True condition without the FailureTarget=true condition")
	}
	if opts.rejectCompleteWithoutSuccessCriteria && complete && !isSuccessCriteriaMet(job) {
		invalidConditions("cannot set Complete=True condition without the SuccessCriteriaMet=true condition")
	}
	if opts.rejectFinishedWithActivePods && status.Active > 0 && finished {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("active"), status.Active, "active>0 is invalid for finished job"))
	}
	if opts.rejectFinishedWithoutStartTime && status.StartTime == nil && finished {
		allErrs = append(allErrs, field.Required(fldPath.Child("startTime"), "startTime is required for finished job"))
	}
	if opts.rejectFinishedWithUncountedPods && finished && status.UncountedTerminatedPods != nil &&
		len(status.UncountedTerminatedPods.Failed)+len(status.UncountedTerminatedPods.Succeeded) > 0 {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("uncountedTerminatedPods"), status.UncountedTerminatedPods, "uncountedTerminatedPods needs to be empty for finished job"))
	}
	if opts.rejectInvalidCompletedIndexes && job.Spec.Completions != nil {
		if _, err := parseIndexes(status.CompletedIndexes, *job.Spec.Completions); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("completedIndexes"), status.CompletedIndexes, fmt.Sprintf("error parsing completedIndexes: %s", err.Error())))
		}
	}
	if opts.rejectInvalidFailedIndexes && job.Spec.Completions != nil && job.Spec.BackoffLimitPerIndex != nil && status.FailedIndexes != nil {
		if _, err := parseIndexes(*status.FailedIndexes, *job.Spec.Completions); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("failedIndexes"), *status.FailedIndexes, fmt.Sprintf("error parsing failedIndexes: %s", err.Error())))
		}
	}
	isIndexed := ptrDeref(job.Spec.CompletionMode, batchv1.NonIndexedCompletion) == batchv1.IndexedCompletion
	if opts.rejectCompletedIndexesForNonIndexed && status.CompletedIndexes != "" && !isIndexed {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("completedIndexes"), status.CompletedIndexes, "cannot set non-empty completedIndexes when non-indexed completion mode"))
	}
	if opts.rejectFailedIndexesWithoutBackoff && job.Spec.BackoffLimitPerIndex == nil && status.FailedIndexes != nil {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("failedIndexes"), *status.FailedIndexes, "cannot set non-null failedIndexes when backoffLimitPerIndex is null"))
	}
	if opts.rejectFailedIndexesOverlapCompleted && job.Spec.Completions != nil && status.FailedIndexes != nil {
		if err := indexesOverlap(status.CompletedIndexes, *status.FailedIndexes, *job.Spec.Completions); err != nil {
			allErrs = append(allErrs, field.Invalid(fldPath.Child("failedIndexes"), *status.FailedIndexes, err.Error()))
		}
	}
	if opts.rejectFinishedWithTerminatingPods && status.Terminating != nil && *status.Terminating > 0 && finished {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("terminating"), *status.Terminating, "terminating>0 is invalid for finished job"))
	}
	if opts.rejectMoreReadyThanActive && status.Ready != nil && *status.Ready > status.Active {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("ready"), *status.Ready, "cannot set more ready pods than active"))
	}
	if isSuccessCriteriaMet(job) && failed {
		invalidConditions("cannot set SuccessCriteriaMet=True and Failed=true conditions")
	}
	if isSuccessCriteriaMet(job) && isFailureTarget(job) {
		invalidConditions("cannot set SuccessCriteriaMet=True and FailureTarget=true conditions")
	}
	if job.Spec.SuccessPolicy != nil && !isSuccessCriteriaMet(job) && complete {
		invalidConditions("cannot set Complete=True for Job with SuccessPolicy unless SuccessCriteriaMet=True")
	}

	// Transitions relative to the stored status.
	for _, t := range []batchv1.JobConditionType{batchv1.JobFailed, batchv1.JobComplete, batchv1.JobFailureTarget} {
		if isConditionTrue(oldStatus.Conditions, t) && !isConditionTrue(status.Conditions, t) {
			invalidConditions(fmt.Sprintf("cannot disable the terminal %s=True condition", t))
		}
	}
	if status.Failed < oldStatus.Failed {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("failed"), status.Failed, "cannot decrease the failed counter"))
	}
	if opts.rejectDecreasingSucceeded && status.Succeeded < oldStatus.Succeeded {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("succeeded"), status.Succeeded, "cannot decrease the succeeded counter"))
	}
	if status.CompletionTime != nil && oldStatus.CompletionTime != nil && !status.CompletionTime.Equal(oldStatus.CompletionTime) {
		allErrs = append(allErrs, field.Invalid(fldPath.Child("completionTime"), status.CompletionTime, "completionTime cannot be mutated"))
	}
	if opts.rejectStartTimeUpdateForUnsuspended && oldStatus.StartTime != nil && !equalTimePtr(oldStatus.StartTime, status.StartTime) && !ptrDeref(job.Spec.Suspend, false) {
		allErrs = append(allErrs, field.Required(fldPath.Child("startTime"), "startTime cannot be removed for unsuspended job"))
	}
	if isSuccessCriteriaMet(oldJob) && !isSuccessCriteriaMet(job) {
		invalidConditions("cannot disable the SuccessCriteriaMet=True condition")
	}
	if isJobComplete(oldJob) && !isSuccessCriteriaMet(oldJob) && isSuccessCriteriaMet(job) {
		invalidConditions("cannot set SuccessCriteriaMet=True for Job already has Complete=true conditions")
	}
	return allErrs
}

// indexesOverlap reports the first index named by both completed and
// failed; malformed intervals are skipped (they are reported elsewhere).
func indexesOverlap(completed, failed string, completions int32) error {
	type interval struct{ lo, hi int32 }
	parse := func(s string) []interval {
		if s == "" {
			return nil
		}
		var out []interval
		for _, part := range strings.Split(s, ",") {
			if lo, hi, err := parseIndexInterval(part, completions); err == nil {
				out = append(out, interval{lo, hi})
			}
		}
		return out
	}
	cs, fs := parse(completed), parse(failed)
	for i, j := 0, 0; i < len(cs) && j < len(fs); {
		c, f := cs[i], fs[j]
		if c.lo <= f.hi && f.lo <= c.hi {
			return fmt.Errorf("failedIndexes and completedIndexes overlap at index: %d", max(c.lo, f.lo))
		}
		if c.lo <= f.lo {
			i++
		} else {
			j++
		}
	}
	return nil
}
