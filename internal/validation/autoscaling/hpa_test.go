package autoscaling

import (
	"fmt"
	"slices"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func errKeys(errs field.ErrorList) []string {
	out := make([]string, 0, len(errs))
	for _, e := range errs {
		out = append(out, fmt.Sprintf("%s %s", e.Type, e.Field))
	}
	return out
}

func key(t field.ErrorType, f string) string { return fmt.Sprintf("%s %s", t, f) }

func checkErrs(t *testing.T, got field.ErrorList, want ...string) {
	t.Helper()
	if g := errKeys(got); !slices.Equal(g, want) {
		t.Errorf("errors mismatch\n got: %q\nwant: %q\nfull: %v", g, want, got)
	}
}

func ptr[T any](v T) *T { return &v }

func qty(s string) *resource.Quantity { q := resource.MustParse(s); return &q }

func defaultRules(window int32) *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptr(window),
		SelectPolicy:               ptr(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15},
			{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15},
		},
	}
}

func validHPA() *autoscalingv2.HorizontalPodAutoscaler {
	return &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "default", ResourceVersion: "1"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MinReplicas:    ptr(int32(1)),
			MaxReplicas:    10,
			Metrics: []autoscalingv2.MetricSpec{{
				Type: autoscalingv2.ResourceMetricSourceType,
				Resource: &autoscalingv2.ResourceMetricSource{
					Name:   corev1.ResourceCPU,
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(80))},
				},
			}},
			Behavior: &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleUp: defaultRules(0), ScaleDown: defaultRules(300)},
		},
	}
}

func objectMetric(apiVersion string) autoscalingv2.MetricSpec {
	return autoscalingv2.MetricSpec{
		Type: autoscalingv2.ObjectMetricSourceType,
		Object: &autoscalingv2.ObjectMetricSource{
			DescribedObject: autoscalingv2.CrossVersionObjectReference{APIVersion: apiVersion, Kind: "Service", Name: "web"},
			Metric:          autoscalingv2.MetricIdentifier{Name: "requests-per-second"},
			Target:          autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: qty("10k")},
		},
	}
}

type hpaCase struct {
	name   string
	mutate func(*autoscalingv2.HorizontalPodAutoscaler)
	want   []string
}

func specCases() []hpaCase {
	m0 := "spec.metrics[0]"
	return []hpaCase{
		{name: "valid", mutate: func(*autoscalingv2.HorizontalPodAutoscaler) {}},
		{name: "no metrics, behavior or min", mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics, h.Spec.Behavior, h.Spec.MinReplicas = nil, nil, nil
		}},
		{name: "replication controller in core group", mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.ScaleTargetRef = autoscalingv2.CrossVersionObjectReference{APIVersion: "v1", Kind: "ReplicationController", Name: "rc"}
		}},
		{name: "all metric kinds", mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
			h.Spec.Metrics = append(h.Spec.Metrics,
				objectMetric("v1"),
				autoscalingv2.MetricSpec{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "packets"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: qty("1k")},
				}},
				autoscalingv2.MetricSpec{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "queue_depth"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: qty("30")},
				}},
				autoscalingv2.MetricSpec{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
					Name: corev1.ResourceMemory, Container: "app",
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: qty("500Mi")},
				}},
			)
		}},
		{name: "tolerance", mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.Behavior.ScaleUp.Tolerance = qty("0.05") }},
		{
			name:   "min replicas zero",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MinReplicas = ptr(int32(0)) },
			want:   []string{key(field.ErrorTypeInvalid, "spec.minReplicas"), key(field.ErrorTypeForbidden, "spec.metrics")},
		},
		{
			name:   "max replicas zero",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.MaxReplicas = 0 },
			want:   []string{key(field.ErrorTypeInvalid, "spec.maxReplicas"), key(field.ErrorTypeInvalid, "spec.maxReplicas")},
		},
		{
			name: "max below min",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.MinReplicas = ptr(int32(5))
				h.Spec.MaxReplicas = 3
			},
			want: []string{key(field.ErrorTypeInvalid, "spec.maxReplicas")},
		},
		{
			name: "missing target kind and name",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.ScaleTargetRef.Kind, h.Spec.ScaleTargetRef.Name = "", ""
			},
			want: []string{key(field.ErrorTypeRequired, "spec.scaleTargetRef.kind"), key(field.ErrorTypeRequired, "spec.scaleTargetRef.name")},
		},
		{
			name:   "bad target name",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.Name = "a/b" },
			want:   []string{key(field.ErrorTypeInvalid, "spec.scaleTargetRef.name")},
		},
		{
			name:   "target without group",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.APIVersion = "v1" },
			want:   []string{key(field.ErrorTypeInvalid, "spec.scaleTargetRef.apiVersion")},
		},
		{
			name:   "target malformed apiVersion",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.ScaleTargetRef.APIVersion = "apps/v1/extra" },
			want:   []string{key(field.ErrorTypeInvalid, "spec.scaleTargetRef.apiVersion")},
		},
		{
			name:   "missing metric type",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.Metrics[0].Type = "" },
			want:   []string{key(field.ErrorTypeRequired, m0+".type")},
		},
		{
			name:   "unknown metric type",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Spec.Metrics[0].Type = "Magic" },
			want:   []string{key(field.ErrorTypeNotSupported, m0+".type")},
		},
		{
			name: "type without source",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics[0].Type = autoscalingv2.PodsMetricSourceType
			},
			want: []string{key(field.ErrorTypeRequired, m0+".pods")},
		},
		{
			name: "two sources",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics[0].Pods = &autoscalingv2.PodsMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "x"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType, AverageValue: qty("1")},
				}
			},
			want: []string{key(field.ErrorTypeForbidden, m0+".pods")},
		},
		{
			name: "resource without target value",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics[0].Resource.Target = autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType}
			},
			want: []string{key(field.ErrorTypeRequired, m0+".resource.target.averageUtilization")},
		},
		{
			name: "resource with both targets",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics[0].Resource.Target.AverageValue = qty("100m")
			},
			want: []string{key(field.ErrorTypeForbidden, m0+".resource.target.averageValue")},
		},
		{
			name: "resource missing name and bad target",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics[0].Resource.Name = ""
				h.Spec.Metrics[0].Resource.Target.Type = "Percent"
				h.Spec.Metrics[0].Resource.Target.AverageUtilization = ptr(int32(0))
			},
			want: []string{
				key(field.ErrorTypeRequired, m0+".resource.name"),
				key(field.ErrorTypeInvalid, m0+".resource.target.type"),
				key(field.ErrorTypeInvalid, m0+".resource.target.averageUtilization"),
			},
		},
		{
			name: "object metric without group is fine but bad value",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				m := objectMetric("v1")
				m.Object.Target.Value = qty("-1")
				h.Spec.Metrics = []autoscalingv2.MetricSpec{m}
			},
			want: []string{key(field.ErrorTypeInvalid, m0+".object.target.value")},
		},
		{
			name: "object metric bad apiVersion",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics = []autoscalingv2.MetricSpec{objectMetric("a/b/c")}
			},
			want: []string{key(field.ErrorTypeInvalid, m0+".object.describedObject.apiVersion")},
		},
		{
			name: "external with both targets",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ExternalMetricSourceType, External: &autoscalingv2.ExternalMetricSource{
					Metric: autoscalingv2.MetricIdentifier{Name: "q"},
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.ValueMetricType, Value: qty("1"), AverageValue: qty("1")},
				}}}
			},
			want: []string{key(field.ErrorTypeForbidden, m0+".external.target.value")},
		},
		{
			name: "pods without average value and metric name",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.PodsMetricSourceType, Pods: &autoscalingv2.PodsMetricSource{
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.AverageValueMetricType},
				}}}
			},
			want: []string{
				key(field.ErrorTypeRequired, m0+".pods.metric.name"),
				key(field.ErrorTypeRequired, m0+".pods.target.averageValue"),
			},
		},
		{
			name: "container resource bad name and container",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ContainerResourceMetricSourceType, ContainerResource: &autoscalingv2.ContainerResourceMetricSource{
					Name: "pods", Container: "App",
					Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: ptr(int32(50))},
				}}}
			},
			want: []string{
				key(field.ErrorTypeInvalid, m0+".containerResource.name"),
				key(field.ErrorTypeInvalid, m0+".containerResource.container"),
			},
		},
		{
			name: "behavior out of range",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				r := h.Spec.Behavior.ScaleDown
				r.StabilizationWindowSeconds = ptr(int32(3601))
				r.SelectPolicy = ptr(autoscalingv2.ScalingPolicySelect("Average"))
				r.Policies = []autoscalingv2.HPAScalingPolicy{{Type: "Nodes", Value: 0, PeriodSeconds: 1801}}
				r.Tolerance = qty("-0.1")
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.behavior.scaleDown.stabilizationWindowSeconds"),
				key(field.ErrorTypeNotSupported, "spec.behavior.scaleDown.selectPolicy"),
				key(field.ErrorTypeNotSupported, "spec.behavior.scaleDown.policies[0].type"),
				key(field.ErrorTypeInvalid, "spec.behavior.scaleDown.policies[0].value"),
				key(field.ErrorTypeInvalid, "spec.behavior.scaleDown.policies[0].periodSeconds"),
				key(field.ErrorTypeInvalid, "spec.behavior.scaleDown.tolerance"),
			},
		},
		{
			name: "behavior without policies",
			mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) {
				h.Spec.Behavior.ScaleUp.Policies = nil
				h.Spec.Behavior.ScaleUp.StabilizationWindowSeconds = ptr(int32(-1))
			},
			want: []string{
				key(field.ErrorTypeInvalid, "spec.behavior.scaleUp.stabilizationWindowSeconds"),
				key(field.ErrorTypeRequired, "spec.behavior.scaleUp.policies"),
			},
		},
	}
}

func TestValidateHorizontalPodAutoscaler(t *testing.T) {
	cases := append(specCases(), hpaCase{
		name:   "bad name",
		mutate: func(h *autoscalingv2.HorizontalPodAutoscaler) { h.Name = "Web" },
		want:   []string{key(field.ErrorTypeInvalid, "metadata.name")},
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := validHPA()
			tc.mutate(h)
			checkErrs(t, ValidateHorizontalPodAutoscaler(h), tc.want...)
		})
	}
}

func TestValidateHorizontalPodAutoscalerUpdate(t *testing.T) {
	for _, tc := range specCases() {
		t.Run(tc.name, func(t *testing.T) {
			old := validHPA()
			// A changed apiVersion or kind is checked again; an unchanged one is not.
			h := validHPA()
			tc.mutate(h)
			checkErrs(t, ValidateHorizontalPodAutoscalerUpdate(h, old), tc.want...)
		})
	}
	t.Run("stored invalid apiVersion tolerated", func(t *testing.T) {
		old := validHPA()
		old.Spec.ScaleTargetRef.APIVersion = "v1"
		h := old.DeepCopy()
		h.Spec.MaxReplicas = 20
		checkErrs(t, ValidateHorizontalPodAutoscalerUpdate(h, old))
	})
	t.Run("stored invalid object metric tolerated", func(t *testing.T) {
		old := validHPA()
		old.Spec.Metrics = []autoscalingv2.MetricSpec{objectMetric("a/b/c")}
		h := old.DeepCopy()
		checkErrs(t, ValidateHorizontalPodAutoscalerUpdate(h, old))
	})
	t.Run("min zero kept when already zero", func(t *testing.T) {
		old := validHPA()
		old.Spec.MinReplicas = ptr(int32(0))
		old.Spec.Metrics = []autoscalingv2.MetricSpec{objectMetric("v1")}
		h := old.DeepCopy()
		checkErrs(t, ValidateHorizontalPodAutoscalerUpdate(h, old))
	})
}

func TestValidateHorizontalPodAutoscalerStatusUpdate(t *testing.T) {
	old := validHPA()
	h := validHPA()
	h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 3, ObservedGeneration: ptr(int64(1))}
	checkErrs(t, ValidateHorizontalPodAutoscalerStatusUpdate(h, old))
	h.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: -1, DesiredReplicas: -1, ObservedGeneration: ptr(int64(-1))}
	checkErrs(t, ValidateHorizontalPodAutoscalerStatusUpdate(h, old),
		key(field.ErrorTypeInvalid, "status.currentReplicas"),
		key(field.ErrorTypeInvalid, "status.desiredReplicas"),
		key(field.ErrorTypeInvalid, "status.observedGeneration"))
}
