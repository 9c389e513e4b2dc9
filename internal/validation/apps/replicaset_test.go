package apps

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validReplicaSet() *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{
		ObjectMeta: objectMeta("web-5d4f8"),
		Spec: appsv1.ReplicaSetSpec{
			Replicas: ptr(int32(2)),
			Selector: webSelector(),
			Template: podTemplate(),
		},
	}
}

func replicaSetSpecCases() []struct {
	name   string
	mutate func(*appsv1.ReplicaSet)
	want   []string
} {
	return []struct {
		name   string
		mutate func(*appsv1.ReplicaSet)
		want   []string
	}{
		{name: "valid", mutate: func(*appsv1.ReplicaSet) {}},
		{name: "unset replicas (defaulted elsewhere)", mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Replicas = nil }},
		{
			name: "negative replicas and min ready",
			mutate: func(rs *appsv1.ReplicaSet) {
				rs.Spec.Replicas = ptr(int32(-2))
				rs.Spec.MinReadySeconds = -1
			},
			want: []string{key(field.ErrorTypeInvalid, "spec.replicas"), key(field.ErrorTypeInvalid, "spec.minReadySeconds")},
		},
		{
			name:   "template mismatch",
			mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Labels = nil },
			want:   []string{key(field.ErrorTypeInvalid, "spec.template.metadata.labels")},
		},
		{
			name:   "restart policy on failure",
			mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure },
			want:   []string{key(field.ErrorTypeNotSupported, "spec.template.spec.restartPolicy")},
		},
	}
}

func TestValidateReplicaSet(t *testing.T) {
	cases := append(replicaSetSpecCases(),
		struct {
			name   string
			mutate func(*appsv1.ReplicaSet)
			want   []string
		}{
			name:   "missing selector",
			mutate: func(rs *appsv1.ReplicaSet) { rs.Spec.Selector = nil },
			want:   []string{key(field.ErrorTypeRequired, "spec.selector")},
		},
		struct {
			name   string
			mutate func(*appsv1.ReplicaSet)
			want   []string
		}{
			name: "empty selector",
			mutate: func(rs *appsv1.ReplicaSet) {
				rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{}}
			},
			want: []string{key(field.ErrorTypeInvalid, "spec.selector")},
		},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := validReplicaSet()
			tc.mutate(rs)
			checkErrs(t, ValidateReplicaSet(rs), tc.want...)
		})
	}
}

func TestValidateReplicaSetUpdate(t *testing.T) {
	for _, tc := range replicaSetSpecCases() {
		t.Run(tc.name, func(t *testing.T) {
			old := validReplicaSet()
			rs := validReplicaSet()
			tc.mutate(rs)
			checkErrs(t, ValidateReplicaSetUpdate(rs, old), tc.want...)
		})
	}
	t.Run("selector immutable", func(t *testing.T) {
		old := validReplicaSet()
		rs := validReplicaSet()
		rs.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web", "tier": "frontend"}}
		checkErrs(t, ValidateReplicaSetUpdate(rs, old), key(field.ErrorTypeInvalid, "spec.selector"))
	})
	t.Run("emptied selector", func(t *testing.T) {
		old := validReplicaSet()
		rs := validReplicaSet()
		rs.Spec.Selector = nil
		checkErrs(t, ValidateReplicaSetUpdate(rs, old),
			key(field.ErrorTypeRequired, "spec.selector"), key(field.ErrorTypeInvalid, "spec.selector"))
	})
}

func TestValidateReplicaSetStatusUpdate(t *testing.T) {
	cases := []struct {
		name   string
		status appsv1.ReplicaSetStatus
		want   []string
	}{
		{name: "valid", status: appsv1.ReplicaSetStatus{Replicas: 2, FullyLabeledReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 1, ObservedGeneration: 3}},
		{
			name:   "negative",
			status: appsv1.ReplicaSetStatus{ObservedGeneration: -1, TerminatingReplicas: ptr(int32(-1))},
			want:   []string{key(field.ErrorTypeInvalid, "status.terminatingReplicas"), key(field.ErrorTypeInvalid, "status.observedGeneration")},
		},
		{
			name:   "exceeding",
			status: appsv1.ReplicaSetStatus{Replicas: 1, FullyLabeledReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 2},
			want: []string{
				key(field.ErrorTypeInvalid, "status.fullyLabeledReplicas"),
				key(field.ErrorTypeInvalid, "status.availableReplicas"),
				key(field.ErrorTypeInvalid, "status.availableReplicas"),
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := validReplicaSet()
			rs := validReplicaSet()
			rs.Status = tc.status
			checkErrs(t, ValidateReplicaSetStatusUpdate(rs, old), tc.want...)
		})
	}
}
