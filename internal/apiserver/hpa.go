package apiserver

import (
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	kjson "sigs.k8s.io/json"

	autoscalingvalidation "github.com/skiff-sh/skiff/internal/validation/autoscaling"
)

// HorizontalPodAutoscalers are stored once, as autoscaling/v2, and also
// served as autoscaling/v1 (what `kubectl autoscale` posts), as upstream:
// v1's targetCPUUtilizationPercentage is v2's cpu Utilization metric.
// The v1 view shows only that metric; an update through it keeps the
// other metrics and the behavior of the stored object only as far as v1
// can say them (upstream keeps them in annotations; not here).

// defaultV1CPUUtilization is v1's target when none is set (upstream's).
const defaultV1CPUUtilization int32 = 80

// hpaV2FromV1 maps an autoscaling/v1 autoscaler onto the stored form,
// with v1's defaults: minReplicas 1, 80% CPU.
func hpaV2FromV1(in *autoscalingv1.HorizontalPodAutoscaler) *autoscalingv2.HorizontalPodAutoscaler {
	out := &autoscalingv2.HorizontalPodAutoscaler{
		ObjectMeta: in.ObjectMeta,
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{
				Kind: in.Spec.ScaleTargetRef.Kind, Name: in.Spec.ScaleTargetRef.Name, APIVersion: in.Spec.ScaleTargetRef.APIVersion},
			MinReplicas: in.Spec.MinReplicas,
			MaxReplicas: in.Spec.MaxReplicas,
		},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{
			ObservedGeneration: in.Status.ObservedGeneration,
			LastScaleTime:      in.Status.LastScaleTime,
			CurrentReplicas:    in.Status.CurrentReplicas,
			DesiredReplicas:    in.Status.DesiredReplicas,
		},
	}
	out.SetGroupVersionKind(autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"))
	if out.Spec.MinReplicas == nil {
		one := int32(1)
		out.Spec.MinReplicas = &one
	}
	target := defaultV1CPUUtilization
	if in.Spec.TargetCPUUtilizationPercentage != nil {
		target = *in.Spec.TargetCPUUtilizationPercentage
	}
	out.Spec.Metrics = []autoscalingv2.MetricSpec{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricSource{
		Name: corev1.ResourceCPU, Target: autoscalingv2.MetricTarget{Type: autoscalingv2.UtilizationMetricType, AverageUtilization: &target}}}}
	if in.Status.CurrentCPUUtilizationPercentage != nil {
		out.Status.CurrentMetrics = []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType, Resource: &autoscalingv2.ResourceMetricStatus{
			Name: corev1.ResourceCPU, Current: autoscalingv2.MetricValueStatus{AverageUtilization: in.Status.CurrentCPUUtilizationPercentage}}}}
	}
	return out
}

// hpaV1FromV2 maps a stored autoscaler onto its autoscaling/v1 view.
func hpaV1FromV2(in *autoscalingv2.HorizontalPodAutoscaler) *autoscalingv1.HorizontalPodAutoscaler {
	out := &autoscalingv1.HorizontalPodAutoscaler{
		ObjectMeta: in.ObjectMeta,
		Spec: autoscalingv1.HorizontalPodAutoscalerSpec{
			ScaleTargetRef: autoscalingv1.CrossVersionObjectReference{
				Kind: in.Spec.ScaleTargetRef.Kind, Name: in.Spec.ScaleTargetRef.Name, APIVersion: in.Spec.ScaleTargetRef.APIVersion},
			MinReplicas: in.Spec.MinReplicas,
			MaxReplicas: in.Spec.MaxReplicas,
		},
		Status: autoscalingv1.HorizontalPodAutoscalerStatus{
			ObservedGeneration: in.Status.ObservedGeneration,
			LastScaleTime:      in.Status.LastScaleTime,
			CurrentReplicas:    in.Status.CurrentReplicas,
			DesiredReplicas:    in.Status.DesiredReplicas,
		},
	}
	for _, m := range in.Spec.Metrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU &&
			m.Resource.Target.AverageUtilization != nil {
			out.Spec.TargetCPUUtilizationPercentage = m.Resource.Target.AverageUtilization
		}
	}
	for _, m := range in.Status.CurrentMetrics {
		if m.Type == autoscalingv2.ResourceMetricSourceType && m.Resource != nil && m.Resource.Name == corev1.ResourceCPU {
			out.Status.CurrentCPUUtilizationPercentage = m.Resource.Current.AverageUtilization
		}
	}
	out.SetGroupVersionKind(autoscalingv1.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"))
	return out
}

// hpaV1View is the storage view of autoscaling/v1 autoscalers.
var hpaV1View = &storageView{
	toStored: func(obj runtime.Object) (runtime.Object, error) {
		return hpaV2FromV1(obj.(*autoscalingv1.HorizontalPodAutoscaler)), nil
	},
	fromStored: func(data []byte) (runtime.Object, error) {
		var hpa autoscalingv2.HorizontalPodAutoscaler
		if err := kjson.UnmarshalCaseSensitivePreserveInts(data, &hpa); err != nil {
			return nil, err
		}
		return hpaV1FromV2(&hpa), nil
	},
}

// hpaV1Validation validates a v1 autoscaler as its stored v2 form.
var hpaV1Validation = kindValidation[*autoscalingv1.HorizontalPodAutoscaler]{
	create: func(o *autoscalingv1.HorizontalPodAutoscaler) field.ErrorList {
		return autoscalingvalidation.ValidateHorizontalPodAutoscaler(hpaV2FromV1(o))
	},
	update: func(o, old *autoscalingv1.HorizontalPodAutoscaler) field.ErrorList {
		return autoscalingvalidation.ValidateHorizontalPodAutoscalerUpdate(hpaV2FromV1(o), hpaV2FromV1(old))
	},
	status: func(o, old *autoscalingv1.HorizontalPodAutoscaler) field.ErrorList {
		return autoscalingvalidation.ValidateHorizontalPodAutoscalerStatusUpdate(hpaV2FromV1(o), hpaV2FromV1(old))
	},
}
