package apps

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func claimTemplate(name string) corev1.PersistentVolumeClaim {
	return corev1.PersistentVolumeClaim{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			VolumeMode:  ptr(corev1.PersistentVolumeFilesystem),
		},
	}
}

func validStatefulSet() *appsv1.StatefulSet {
	tmpl := podTemplate()
	tmpl.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{{Name: "data", MountPath: "/var/lib/data"}}
	return &appsv1.StatefulSet{
		ObjectMeta: objectMeta("db"),
		Spec: appsv1.StatefulSetSpec{
			Replicas:             ptr(int32(3)),
			Selector:             webSelector(),
			Template:             tmpl,
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{claimTemplate("data")},
			ServiceName:          "db",
			PodManagementPolicy:  appsv1.OrderedReadyPodManagement,
			UpdateStrategy: appsv1.StatefulSetUpdateStrategy{
				Type:          appsv1.RollingUpdateStatefulSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(0))},
			},
			RevisionHistoryLimit: ptr(int32(10)),
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
				WhenScaled:  appsv1.RetainPersistentVolumeClaimRetentionPolicyType,
			},
		},
	}
}

type statefulSetCase struct {
	name   string
	mutate func(*appsv1.StatefulSet)
	want   []string
}

// statefulSetSpecCases only touch fields that may change on update.
func statefulSetSpecCases() []statefulSetCase {
	ru := "spec.updateStrategy.rollingUpdate"
	return []statefulSetCase{
		{name: "valid", mutate: func(*appsv1.StatefulSet) {}},
		{name: "on delete", mutate: func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
		}},
		{name: "max unavailable percent", mutate: func(s *appsv1.StatefulSet) {
			s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = intOrStr("50%")
		}},
		{name: "ordinals", mutate: func(s *appsv1.StatefulSet) { s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 5} }},
		{
			name:   "missing strategy type",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = "" },
			want:   []string{key(field.ErrorTypeRequired, "spec.updateStrategy")},
		},
		{
			name:   "unknown strategy type",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = "Canary" },
			want:   []string{key(field.ErrorTypeInvalid, "spec.updateStrategy")},
		},
		{
			name:   "on delete with rolling update",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.Type = appsv1.OnDeleteStatefulSetStrategyType },
			want:   []string{key(field.ErrorTypeInvalid, ru)},
		},
		{
			name: "bad rolling update",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: ptr(int32(-1)), MaxUnavailable: intOrStr("0")}
			},
			want: []string{key(field.ErrorTypeInvalid, ru+".partition"), key(field.ErrorTypeInvalid, ru+".maxUnavailable")},
		},
		{
			name:   "max unavailable over 100 percent",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.UpdateStrategy.RollingUpdate.MaxUnavailable = intOrStr("120%") },
			want:   []string{key(field.ErrorTypeInvalid, ru+".maxUnavailable")},
		},
		{
			name: "bad retention policy",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.PersistentVolumeClaimRetentionPolicy.WhenScaled = "Archive"
			},
			want: []string{key(field.ErrorTypeNotSupported, "spec.persistentVolumeClaimRetentionPolicy.whenScaled")},
		},
		{
			name: "negative counters",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.Replicas = ptr(int32(-1))
				s.Spec.MinReadySeconds = -1
				s.Spec.RevisionHistoryLimit = ptr(int32(-1))
				s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: -1}
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.replicas"),
				key(field.ErrorTypeInvalid, "spec.minReadySeconds"),
				key(field.ErrorTypeInvalid, "spec.revisionHistoryLimit"),
				key(field.ErrorTypeInvalid, "spec.ordinals.start"),
			},
		},
		{
			name:   "template mismatch",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.Template.Labels = map[string]string{"x": "y"} },
			want:   []string{key(field.ErrorTypeInvalid, "spec.template.metadata.labels")},
		},
		{
			name:   "mount of unknown volume",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.Containers[0].VolumeMounts[0].Name = "logs" },
			want:   []string{key(field.ErrorTypeNotFound, "spec.template.spec.containers[0].volumeMounts[0].name")},
		},
		{
			name:   "restart policy",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want:   []string{key(field.ErrorTypeNotSupported, "spec.template.spec.restartPolicy")},
		},
		{
			name:   "active deadline",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(1)) },
			want:   []string{key(field.ErrorTypeForbidden, "spec.template.spec.activeDeadlineSeconds")},
		},
	}
}

// statefulSetCreateOnlyCases touch fields that are immutable after creation.
func statefulSetCreateOnlyCases() []statefulSetCase {
	return []statefulSetCase{
		{name: "parallel", mutate: func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement }},
		{name: "no service name", mutate: func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "" }},
		{name: "claim template already a volume", mutate: func(s *appsv1.StatefulSet) {
			s.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
		}},
		{
			name:   "missing pod management policy",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "" },
			want:   []string{key(field.ErrorTypeRequired, "spec.podManagementPolicy")},
		},
		{
			name:   "unknown pod management policy",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = "Random" },
			want:   []string{key(field.ErrorTypeInvalid, "spec.podManagementPolicy")},
		},
		{
			name:   "bad service name",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "db.svc" },
			want:   []string{key(field.ErrorTypeInvalid, "spec.serviceName")},
		},
		{
			name:   "missing selector",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.Selector = nil },
			want:   []string{key(field.ErrorTypeRequired, "spec.selector")},
		},
		{
			name:   "empty selector",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.Selector = &metav1.LabelSelector{} },
			want:   []string{key(field.ErrorTypeInvalid, "spec.selector")},
		},
		{
			name: "bad claim templates",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.VolumeClaimTemplates = append(s.Spec.VolumeClaimTemplates, claimTemplate(""), claimTemplate("data"), claimTemplate("Data"))
			},
			want: []string{
				key(field.ErrorTypeRequired, "spec.volumeClaimTemplates[1].metadata.name"),
				key(field.ErrorTypeDuplicate, "spec.volumeClaimTemplates[2].metadata.name"),
				key(field.ErrorTypeInvalid, "spec.volumeClaimTemplates[3].metadata.name"),
			},
		},
	}
}

func TestValidateStatefulSet(t *testing.T) {
	cases := append(statefulSetSpecCases(), statefulSetCreateOnlyCases()...)
	cases = append(cases, statefulSetCase{
		name:   "name must be a DNS label",
		mutate: func(s *appsv1.StatefulSet) { s.Name = "db.primary" },
		want:   []string{key(field.ErrorTypeInvalid, "metadata.name")},
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := validStatefulSet()
			tc.mutate(s)
			checkErrs(t, ValidateStatefulSet(s), tc.want...)
		})
	}
}

func TestValidateStatefulSetUpdate(t *testing.T) {
	for _, tc := range statefulSetSpecCases() {
		t.Run(tc.name, func(t *testing.T) {
			old := validStatefulSet()
			s := validStatefulSet()
			tc.mutate(s)
			checkErrs(t, ValidateStatefulSetUpdate(s, old), tc.want...)
		})
	}
	forbidden := key(field.ErrorTypeForbidden, "spec")
	immutable := []statefulSetCase{
		{
			name:   "service name",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.ServiceName = "db2" },
			want:   []string{forbidden},
		},
		{
			name:   "pod management policy",
			mutate: func(s *appsv1.StatefulSet) { s.Spec.PodManagementPolicy = appsv1.ParallelPodManagement },
			want:   []string{forbidden},
		},
		{
			name: "volume claim templates",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.VolumeClaimTemplates[0].Spec.Resources.Requests[corev1.ResourceStorage] = resource.MustParse("2Gi")
			},
			want: []string{forbidden},
		},
		{
			name: "selector",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "frontend"}}
			},
			want: []string{forbidden, key(field.ErrorTypeInvalid, "spec.selector")},
		},
		{
			name: "all mutable fields at once",
			mutate: func(s *appsv1.StatefulSet) {
				s.Spec.Replicas = ptr(int32(5))
				s.Spec.Ordinals = &appsv1.StatefulSetOrdinals{Start: 1}
				s.Spec.Template.Spec.Containers[0].Image = "postgres:18"
				s.Spec.UpdateStrategy = appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType}
				s.Spec.RevisionHistoryLimit = ptr(int32(3))
				s.Spec.PersistentVolumeClaimRetentionPolicy.WhenDeleted = appsv1.DeletePersistentVolumeClaimRetentionPolicyType
				s.Spec.MinReadySeconds = 10
			},
		},
	}
	for _, tc := range immutable {
		t.Run("immutable "+tc.name, func(t *testing.T) {
			old := validStatefulSet()
			s := validStatefulSet()
			tc.mutate(s)
			checkErrs(t, ValidateStatefulSetUpdate(s, old), tc.want...)
		})
	}
	t.Run("forbidden message", func(t *testing.T) {
		old := validStatefulSet()
		s := validStatefulSet()
		s.Spec.ServiceName = "other"
		errs := ValidateStatefulSetUpdate(s, old)
		if len(errs) != 1 || errs[0].Detail != StatefulSetSpecUpdateForbiddenMessage {
			t.Fatalf("got %v", errs)
		}
	})
	t.Run("inputs not mutated", func(t *testing.T) {
		old := validStatefulSet()
		s := validStatefulSet()
		s.Spec.Replicas = ptr(int32(9))
		_ = ValidateStatefulSetUpdate(s, old)
		if *s.Spec.Replicas != 9 || *old.Spec.Replicas != 3 || len(s.Spec.Template.Spec.Volumes) != 0 {
			t.Fatalf("inputs were modified")
		}
	})
}

func TestValidateStatefulSetStatusUpdate(t *testing.T) {
	cases := []struct {
		name   string
		status appsv1.StatefulSetStatus
		old    appsv1.StatefulSetStatus
		want   []string
	}{
		{name: "valid", status: appsv1.StatefulSetStatus{
			ObservedGeneration: 2, Replicas: 3, ReadyReplicas: 3, CurrentReplicas: 3, UpdatedReplicas: 1, AvailableReplicas: 2,
			CollisionCount: ptr(int32(0)),
		}},
		{
			name:   "negative",
			status: appsv1.StatefulSetStatus{ObservedGeneration: -1, CollisionCount: ptr(int32(-1))},
			want:   []string{key(field.ErrorTypeInvalid, "status.observedGeneration"), key(field.ErrorTypeInvalid, "status.collisionCount")},
		},
		{
			name:   "exceeding",
			status: appsv1.StatefulSetStatus{Replicas: 1, ReadyReplicas: 2, CurrentReplicas: 2, UpdatedReplicas: 2, AvailableReplicas: 3},
			want: []string{
				key(field.ErrorTypeInvalid, "status.readyReplicas"),
				key(field.ErrorTypeInvalid, "status.currentReplicas"),
				key(field.ErrorTypeInvalid, "status.updatedReplicas"),
				key(field.ErrorTypeInvalid, "status.availableReplicas"),
				key(field.ErrorTypeInvalid, "status.availableReplicas"),
			},
		},
		{
			name:   "collision count decremented",
			status: appsv1.StatefulSetStatus{CollisionCount: ptr(int32(0))},
			old:    appsv1.StatefulSetStatus{CollisionCount: ptr(int32(1))},
			want:   []string{key(field.ErrorTypeInvalid, "status.collisionCount")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := validStatefulSet()
			old.Status = tc.old
			s := validStatefulSet()
			s.Status = tc.status
			checkErrs(t, ValidateStatefulSetStatusUpdate(s, old), tc.want...)
		})
	}
}
