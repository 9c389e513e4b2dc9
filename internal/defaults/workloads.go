package defaults

import (
	"maps"
	"math"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Workload defaults, as upstream's apps/v1 and batch/v1 defaults.
const (
	defaultReplicas                     int32 = 1
	defaultRevisionHistoryLimit         int32 = 10
	defaultProgressDeadlineSeconds      int32 = 600
	defaultDeploymentMaxUnavailable           = "25%"
	defaultDeploymentMaxSurge                 = "25%"
	defaultDaemonSetMaxUnavailable      int32 = 1
	defaultDaemonSetMaxSurge            int32 = 0
	defaultStatefulSetMaxUnavailable    int32 = 1
	defaultJobBackoffLimit              int32 = 6
	defaultJobBackoffLimitPerIndexed    int32 = math.MaxInt32
	defaultCronJobSuccessfulJobsHistory int32 = 3
	defaultCronJobFailedJobsHistory     int32 = 1
)

// defaultDeployment gives a deployment one replica, a RollingUpdate
// strategy with 25% max unavailable and 25% max surge, a revision history
// of 10 and a 600s progress deadline when unset, and its pod template the
// PodSpec defaults.
func defaultDeployment(d *appsv1.Deployment) {
	spec := &d.Spec
	if spec.Replicas == nil {
		spec.Replicas = ptrTo(defaultReplicas)
	}
	s := &spec.Strategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDeploymentStrategyType
	}
	if s.Type == appsv1.RollingUpdateDeploymentStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromString(defaultDeploymentMaxUnavailable))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptrTo(intstr.FromString(defaultDeploymentMaxSurge))
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptrTo(defaultRevisionHistoryLimit)
	}
	if spec.ProgressDeadlineSeconds == nil {
		spec.ProgressDeadlineSeconds = ptrTo(defaultProgressDeadlineSeconds)
	}
	defaultPodSpec(&spec.Template.Spec)
}

// defaultReplicaSet gives a replica set one replica when unset and its pod
// template the PodSpec defaults.
func defaultReplicaSet(rs *appsv1.ReplicaSet) {
	if rs.Spec.Replicas == nil {
		rs.Spec.Replicas = ptrTo(defaultReplicas)
	}
	defaultPodSpec(&rs.Spec.Template.Spec)
}

// defaultDaemonSet gives a daemon set a RollingUpdate strategy with max
// unavailable 1 and max surge 0 and a revision history of 10 when unset,
// and its pod template the PodSpec defaults.
func defaultDaemonSet(ds *appsv1.DaemonSet) {
	spec := &ds.Spec
	s := &spec.UpdateStrategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateDaemonSetStrategyType
	}
	if s.Type == appsv1.RollingUpdateDaemonSetStrategyType {
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateDaemonSet{}
		}
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromInt32(defaultDaemonSetMaxUnavailable))
		}
		if s.RollingUpdate.MaxSurge == nil {
			s.RollingUpdate.MaxSurge = ptrTo(intstr.FromInt32(defaultDaemonSetMaxSurge))
		}
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptrTo(defaultRevisionHistoryLimit)
	}
	defaultPodSpec(&spec.Template.Spec)
}

// defaultStatefulSet gives a stateful set pod management OrderedReady, a
// RollingUpdate strategy (partition 0, max unavailable 1) when it names
// none, claim retention Retain on delete and on scale, one replica and a
// revision history of 10 when unset; its pod template the PodSpec defaults
// and its volume claim templates the PersistentVolumeClaim defaults.
func defaultStatefulSet(ss *appsv1.StatefulSet) {
	spec := &ss.Spec
	if spec.PodManagementPolicy == "" {
		spec.PodManagementPolicy = appsv1.OrderedReadyPodManagement
	}
	s := &spec.UpdateStrategy
	if s.Type == "" {
		s.Type = appsv1.RollingUpdateStatefulSetStrategyType
		if s.RollingUpdate == nil {
			s.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{}
		}
	}
	// An explicit RollingUpdate type without parameters stays without
	// them; upstream fills the parameters only when they are present.
	if s.Type == appsv1.RollingUpdateStatefulSetStrategyType && s.RollingUpdate != nil {
		if s.RollingUpdate.Partition == nil {
			s.RollingUpdate.Partition = ptrTo(int32(0))
		}
		// MaxUnavailableStatefulSet is beta and on by default.
		if s.RollingUpdate.MaxUnavailable == nil {
			s.RollingUpdate.MaxUnavailable = ptrTo(intstr.FromInt32(defaultStatefulSetMaxUnavailable))
		}
	}
	if spec.PersistentVolumeClaimRetentionPolicy == nil {
		spec.PersistentVolumeClaimRetentionPolicy = &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{}
	}
	rp := spec.PersistentVolumeClaimRetentionPolicy
	if rp.WhenDeleted == "" {
		rp.WhenDeleted = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if rp.WhenScaled == "" {
		rp.WhenScaled = appsv1.RetainPersistentVolumeClaimRetentionPolicyType
	}
	if spec.Replicas == nil {
		spec.Replicas = ptrTo(defaultReplicas)
	}
	if spec.RevisionHistoryLimit == nil {
		spec.RevisionHistoryLimit = ptrTo(defaultRevisionHistoryLimit)
	}
	defaultPodSpec(&spec.Template.Spec)
	for i := range spec.VolumeClaimTemplates {
		defaultPersistentVolumeClaim(&spec.VolumeClaimTemplates[i])
	}
}

// defaultJob applies upstream's Job defaults: parallelism and completions
// 1 when both are unset (parallelism 1 when only it is), a backoff limit
// of 6 (unlimited when a per-index limit is set), the template's labels as
// the job's when it has none, NonIndexed completion, not suspended, pod
// replacement TerminatingOrFailed (Failed with a pod failure policy), no
// manual selector; then its pod template's PodSpec defaults (restartPolicy
// is defaulted to Always there as everywhere; validation, not defaulting,
// requires Never or OnFailure) and its failure policy's defaults.
func defaultJob(job *batchv1.Job) {
	spec := &job.Spec
	if spec.Completions == nil && spec.Parallelism == nil {
		spec.Completions = ptrTo(int32(1))
		spec.Parallelism = ptrTo(int32(1))
	}
	if spec.Parallelism == nil {
		spec.Parallelism = ptrTo(int32(1))
	}
	if spec.BackoffLimit == nil {
		if spec.BackoffLimitPerIndex != nil {
			spec.BackoffLimit = ptrTo(defaultJobBackoffLimitPerIndexed)
		} else {
			spec.BackoffLimit = ptrTo(defaultJobBackoffLimit)
		}
	}
	if labels := spec.Template.Labels; labels != nil && len(job.Labels) == 0 {
		job.Labels = maps.Clone(labels)
	}
	if spec.CompletionMode == nil {
		spec.CompletionMode = ptrTo(batchv1.NonIndexedCompletion)
	}
	if spec.Suspend == nil {
		spec.Suspend = ptrTo(false)
	}
	if spec.PodReplacementPolicy == nil {
		if spec.PodFailurePolicy != nil {
			spec.PodReplacementPolicy = ptrTo(batchv1.Failed)
		} else {
			spec.PodReplacementPolicy = ptrTo(batchv1.TerminatingOrFailed)
		}
	}
	if spec.ManualSelector == nil {
		spec.ManualSelector = ptrTo(false)
	}
	defaultJobSpecNested(spec)
}

// defaultJobSpecNested applies the defaults of a job spec's nested
// structures: its pod template's and its pod failure policy's. A CronJob's
// job template gets only these, not the Job-level defaults.
func defaultJobSpecNested(spec *batchv1.JobSpec) {
	defaultPodSpec(&spec.Template.Spec)
	if p := spec.PodFailurePolicy; p != nil {
		for i := range p.Rules {
			conds := p.Rules[i].OnPodConditions
			for j := range conds {
				if conds[j].Status == "" {
					conds[j].Status = corev1.ConditionTrue
				}
			}
		}
	}
}

// defaultCronJob gives a cron job concurrency policy Allow, not suspended,
// and histories of 3 successful and 1 failed job when unset, and its job
// template's pod template and failure policy their defaults.
func defaultCronJob(cj *batchv1.CronJob) {
	spec := &cj.Spec
	if spec.ConcurrencyPolicy == "" {
		spec.ConcurrencyPolicy = batchv1.AllowConcurrent
	}
	if spec.Suspend == nil {
		spec.Suspend = ptrTo(false)
	}
	if spec.SuccessfulJobsHistoryLimit == nil {
		spec.SuccessfulJobsHistoryLimit = ptrTo(defaultCronJobSuccessfulJobsHistory)
	}
	if spec.FailedJobsHistoryLimit == nil {
		spec.FailedJobsHistoryLimit = ptrTo(defaultCronJobFailedJobsHistory)
	}
	defaultJobSpecNested(&spec.JobTemplate.Spec)
}
