package apiserver

import (
	"encoding/json"
	"testing"

	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestHPAV1View(t *testing.T) {
	pct := func(n int32) *int32 { return &n }
	v1 := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "ns"},
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
			MaxReplicas:    5, TargetCPUUtilizationPercentage: pct(60),
		},
	}
	stored, err := hpaV1View.toStored(v1)
	if err != nil {
		t.Fatal(err)
	}
	v2 := stored.(*autoscalingv2.HorizontalPodAutoscaler)
	if *v2.Spec.MinReplicas != 1 || len(v2.Spec.Metrics) != 1 || *v2.Spec.Metrics[0].Resource.Target.AverageUtilization != 60 ||
		v2.Spec.ScaleTargetRef.Kind != "Deployment" || v2.APIVersion != "autoscaling/v2" {
		t.Errorf("stored = %+v", v2)
	}
	v2.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 3, CurrentMetrics: []autoscalingv2.MetricStatus{{
		Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{Name: "cpu",
			Current: autoscalingv2.MetricValueStatus{AverageUtilization: pct(90)}}}}}
	data, _ := json.Marshal(v2)
	back, err := hpaV1View.fromStored(data)
	if err != nil {
		t.Fatal(err)
	}
	got := back.(*autoscalingv1.HorizontalPodAutoscaler)
	if *got.Spec.TargetCPUUtilizationPercentage != 60 || *got.Spec.MinReplicas != 1 || got.Status.DesiredReplicas != 3 ||
		*got.Status.CurrentCPUUtilizationPercentage != 90 || got.APIVersion != "autoscaling/v1" {
		t.Errorf("v1 view = %+v", got)
	}
	noTarget := v1.DeepCopy()
	noTarget.Spec.TargetCPUUtilizationPercentage = nil
	if s, _ := hpaV1View.toStored(noTarget); *s.(*autoscalingv2.HorizontalPodAutoscaler).Spec.Metrics[0].Resource.Target.AverageUtilization != 80 {
		t.Error("v1 without a target is 80% CPU")
	}
	if errs := hpaV1Validation.create(&autoscalingv1.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "x", Namespace: "ns"}}); len(errs) == 0 {
		t.Error("a v1 autoscaler without a target or maxReplicas must be invalid")
	}
}
