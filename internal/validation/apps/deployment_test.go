package apps

import (
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validDeployment() *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: objectMeta("web"),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr(int32(3)),
			Selector: webSelector(),
			Template: podTemplate(),
			Strategy: appsv1.DeploymentStrategy{
				Type:          appsv1.RollingUpdateDeploymentStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDeployment{MaxUnavailable: intOrStr("25%"), MaxSurge: intOrStr("25%")},
			},
			RevisionHistoryLimit:    ptr(int32(10)),
			ProgressDeadlineSeconds: ptr(int32(600)),
		},
	}
}

type deploymentCase struct {
	name   string
	mutate func(*appsv1.Deployment)
	want   []string
}

func deploymentSpecCases() []deploymentCase {
	return []deploymentCase{
		{name: "valid", mutate: func(*appsv1.Deployment) {}},
		{name: "recreate", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		}},
		{name: "zero replicas and integer surge", mutate: func(d *appsv1.Deployment) {
			d.Spec.Replicas = ptr(int32(0))
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: intOrStr("0"), MaxSurge: intOrStr("1")}
		}},
		{name: "surge above 100 percent is allowed", mutate: func(d *appsv1.Deployment) {
			d.Spec.Strategy.RollingUpdate.MaxSurge = intOrStr("200%")
		}},
		{name: "match expressions selector", mutate: func(d *appsv1.Deployment) {
			d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: "tier", Operator: metav1.LabelSelectorOpIn, Values: []string{"frontend", "backend"}},
			}}
		}},
		{
			name:   "negative replicas",
			mutate: func(d *appsv1.Deployment) { d.Spec.Replicas = ptr(int32(-1)) },
			want:   []string{key(field.ErrorTypeInvalid, "spec.replicas")},
		},
		{
			name:   "missing selector",
			mutate: func(d *appsv1.Deployment) { d.Spec.Selector = nil },
			want:   []string{key(field.ErrorTypeRequired, "spec.selector")},
		},
		{
			name:   "empty selector",
			mutate: func(d *appsv1.Deployment) { d.Spec.Selector = &metav1.LabelSelector{} },
			want:   []string{key(field.ErrorTypeInvalid, "spec.selector")},
		},
		{
			name: "invalid selector",
			mutate: func(d *appsv1.Deployment) {
				d.Spec.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
					{Key: "app", Operator: "Near", Values: []string{"web"}},
				}}
			},
			want: []string{key(field.ErrorTypeInvalid, "spec.selector.matchExpressions[0].operator")},
		},
		{
			name:   "selector does not match template",
			mutate: func(d *appsv1.Deployment) { d.Spec.Template.Labels = map[string]string{"app": "api"} },
			want:   []string{key(field.ErrorTypeInvalid, "spec.template.metadata.labels")},
		},
		{
			name:   "invalid template",
			mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.Containers[0].Image = "" },
			want:   []string{key(field.ErrorTypeRequired, "spec.template.spec.containers[0].image")},
		},
		{
			name:   "restart policy never",
			mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever },
			want:   []string{key(field.ErrorTypeNotSupported, "spec.template.spec.restartPolicy")},
		},
		{
			name:   "active deadline",
			mutate: func(d *appsv1.Deployment) { d.Spec.Template.Spec.ActiveDeadlineSeconds = ptr(int64(10)) },
			want:   []string{key(field.ErrorTypeForbidden, "spec.template.spec.activeDeadlineSeconds")},
		},
		{
			name:   "unknown strategy",
			mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "BlueGreen" },
			want:   []string{key(field.ErrorTypeNotSupported, "spec.strategy")},
		},
		{
			name:   "recreate with rolling update",
			mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType },
			want:   []string{key(field.ErrorTypeForbidden, "spec.strategy.rollingUpdate")},
		},
		{
			name:   "rolling update missing",
			mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate = nil },
			want:   []string{key(field.ErrorTypeRequired, "spec.strategy.rollingUpdate")},
		},
		{
			name: "both zero",
			mutate: func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: intOrStr("0%"), MaxSurge: intOrStr("0")}
			},
			want: []string{key(field.ErrorTypeInvalid, "spec.strategy.rollingUpdate.maxUnavailable")},
		},
		{
			name: "bad percentages",
			mutate: func(d *appsv1.Deployment) {
				d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxUnavailable: intOrStr("150%"), MaxSurge: intOrStr("abc")}
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.strategy.rollingUpdate.maxSurge"),
				key(field.ErrorTypeInvalid, "spec.strategy.rollingUpdate.maxUnavailable"),
			},
		},
		{
			name:   "negative max unavailable",
			mutate: func(d *appsv1.Deployment) { d.Spec.Strategy.RollingUpdate.MaxUnavailable = intOrStr("-1") },
			want:   []string{key(field.ErrorTypeInvalid, "spec.strategy.rollingUpdate.maxUnavailable")},
		},
		{
			name: "negative counters",
			mutate: func(d *appsv1.Deployment) {
				d.Spec.MinReadySeconds = -1
				d.Spec.RevisionHistoryLimit = ptr(int32(-1))
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.minReadySeconds"),
				key(field.ErrorTypeInvalid, "spec.revisionHistoryLimit"),
			},
		},
		{
			name: "progress deadline not above min ready",
			mutate: func(d *appsv1.Deployment) {
				d.Spec.MinReadySeconds = 600
			},
			want: []string{key(field.ErrorTypeInvalid, "spec.progressDeadlineSeconds")},
		},
	}
}

func TestValidateDeployment(t *testing.T) {
	cases := append(deploymentSpecCases(),
		deploymentCase{
			name:   "bad name",
			mutate: func(d *appsv1.Deployment) { d.Name = "Web" },
			want:   []string{key(field.ErrorTypeInvalid, "metadata.name")},
		},
		deploymentCase{
			name:   "missing namespace",
			mutate: func(d *appsv1.Deployment) { d.Namespace = "" },
			want:   []string{key(field.ErrorTypeRequired, "metadata.namespace")},
		},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := validDeployment()
			tc.mutate(d)
			checkErrs(t, ValidateDeployment(d), tc.want...)
		})
	}
}

func TestValidateDeploymentUpdate(t *testing.T) {
	for _, tc := range deploymentSpecCases() {
		if tc.name == "match expressions selector" || tc.name == "missing selector" || tc.name == "empty selector" || tc.name == "invalid selector" {
			continue // selector changes are covered below
		}
		t.Run(tc.name, func(t *testing.T) {
			old := validDeployment()
			d := validDeployment()
			tc.mutate(d)
			checkErrs(t, ValidateDeploymentUpdate(d, old), tc.want...)
		})
	}
	t.Run("template and replicas may change", func(t *testing.T) {
		old := validDeployment()
		d := validDeployment()
		d.Spec.Replicas = ptr(int32(5))
		d.Spec.Template.Spec.Containers[0].Image = "nginx:1.30"
		checkErrs(t, ValidateDeploymentUpdate(d, old))
	})
	t.Run("selector immutable", func(t *testing.T) {
		old := validDeployment()
		d := validDeployment()
		d.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "frontend"}}
		checkErrs(t, ValidateDeploymentUpdate(d, old), key(field.ErrorTypeInvalid, "spec.selector"))
		if errs := ValidateDeploymentUpdate(d, old); len(errs) == 1 && errs[0].Detail != "field is immutable" {
			t.Errorf("detail = %q", errs[0].Detail)
		}
	})
	t.Run("name immutable", func(t *testing.T) {
		old := validDeployment()
		d := validDeployment()
		d.Name = "other"
		checkErrs(t, ValidateDeploymentUpdate(d, old), key(field.ErrorTypeInvalid, "metadata.name"))
	})
}

func TestValidateDeploymentStatusUpdate(t *testing.T) {
	cases := []struct {
		name   string
		status appsv1.DeploymentStatus
		old    appsv1.DeploymentStatus
		want   []string
	}{
		{name: "valid", status: appsv1.DeploymentStatus{
			ObservedGeneration: 1, Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2,
			UnavailableReplicas: 1, TerminatingReplicas: ptr(int32(0)), CollisionCount: ptr(int32(1)),
		}},
		{
			name: "negatives",
			status: appsv1.DeploymentStatus{
				ObservedGeneration: -1, Replicas: -1, UnavailableReplicas: -1,
				TerminatingReplicas: ptr(int32(-1)), CollisionCount: ptr(int32(-1)),
			},
			want: []string{
				key(field.ErrorTypeInvalid, "status.observedGeneration"),
				key(field.ErrorTypeInvalid, "status.replicas"),
				key(field.ErrorTypeInvalid, "status.unavailableReplicas"),
				key(field.ErrorTypeInvalid, "status.terminatingReplicas"),
				key(field.ErrorTypeInvalid, "status.collisionCount"),
				// 0 updated/ready/available replicas exceed -1 replicas
				key(field.ErrorTypeInvalid, "status.updatedReplicas"),
				key(field.ErrorTypeInvalid, "status.readyReplicas"),
				key(field.ErrorTypeInvalid, "status.availableReplicas"),
			},
		},
		{
			name:   "more than replicas",
			status: appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 3},
			want: []string{
				key(field.ErrorTypeInvalid, "status.updatedReplicas"),
				key(field.ErrorTypeInvalid, "status.readyReplicas"),
				key(field.ErrorTypeInvalid, "status.availableReplicas"),
				key(field.ErrorTypeInvalid, "status.availableReplicas"),
			},
		},
		{
			name:   "collision count decremented",
			status: appsv1.DeploymentStatus{CollisionCount: ptr(int32(1))},
			old:    appsv1.DeploymentStatus{CollisionCount: ptr(int32(2))},
			want:   []string{key(field.ErrorTypeInvalid, "status.collisionCount")},
		},
		{
			name: "collision count cleared",
			old:  appsv1.DeploymentStatus{CollisionCount: ptr(int32(2))},
			want: []string{key(field.ErrorTypeInvalid, "status.collisionCount")},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			old := validDeployment()
			old.Status = tc.old
			d := validDeployment()
			d.Status = tc.status
			checkErrs(t, ValidateDeploymentStatusUpdate(d, old), tc.want...)
		})
	}
}

func TestValidateScale(t *testing.T) {
	s := &autoscalingv1.Scale{ObjectMeta: objectMeta("web"), Spec: autoscalingv1.ScaleSpec{Replicas: 0}}
	checkErrs(t, ValidateScale(s))
	s.Spec.Replicas = -1
	checkErrs(t, ValidateScale(s), key(field.ErrorTypeInvalid, "spec.replicas"))
	s.Spec.Replicas = 2
	s.Name = ""
	checkErrs(t, ValidateScale(s), key(field.ErrorTypeRequired, "metadata.name"))
}
