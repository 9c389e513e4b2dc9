package defaults

import (
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

// HorizontalPodAutoscaler defaults, as upstream's autoscaling/v2 defaults.
const (
	defaultHPAMinReplicas            int32 = 1
	defaultHPACPUUtilizationPercent  int32 = 80
	defaultHPAScaleUpPods            int32 = 4
	defaultHPAScaleUpPercent         int32 = 100
	defaultHPAScaleUpPeriodSeconds   int32 = 15
	defaultHPAScaleUpStabilization   int32 = 0
	defaultHPAScaleDownPercent       int32 = 100
	defaultHPAScaleDownPeriodSeconds int32 = 15
)

// defaultHorizontalPodAutoscaler gives an autoscaler min replicas 1 and,
// when it lists no metrics, one: 80% average CPU utilization. When it sets
// a behavior, each direction's rules are completed from the defaults:
// scale up by the larger of 4 pods or 100% per 15s with no stabilization;
// scale down by at most 100% per 15s, leaving the stabilization window
// unset so the controller's command-line default applies.
func defaultHorizontalPodAutoscaler(hpa *autoscalingv2.HorizontalPodAutoscaler) {
	spec := &hpa.Spec
	if spec.MinReplicas == nil {
		spec.MinReplicas = ptrTo(defaultHPAMinReplicas)
	}
	if len(spec.Metrics) == 0 {
		spec.Metrics = []autoscalingv2.MetricSpec{{
			Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricSource{
				Name: corev1.ResourceCPU,
				Target: autoscalingv2.MetricTarget{
					Type:               autoscalingv2.UtilizationMetricType,
					AverageUtilization: ptrTo(defaultHPACPUUtilizationPercent),
				},
			},
		}}
	}
	if b := spec.Behavior; b != nil {
		b.ScaleUp = completeScalingRules(b.ScaleUp, defaultScaleUpRules())
		b.ScaleDown = completeScalingRules(b.ScaleDown, defaultScaleDownRules())
	}
}

// defaultScaleUpRules returns a fresh copy of the default scale-up rules.
func defaultScaleUpRules() *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{
		StabilizationWindowSeconds: ptrTo(defaultHPAScaleUpStabilization),
		SelectPolicy:               ptrTo(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PodsScalingPolicy, Value: defaultHPAScaleUpPods, PeriodSeconds: defaultHPAScaleUpPeriodSeconds},
			{Type: autoscalingv2.PercentScalingPolicy, Value: defaultHPAScaleUpPercent, PeriodSeconds: defaultHPAScaleUpPeriodSeconds},
		},
	}
}

// defaultScaleDownRules returns a fresh copy of the default scale-down
// rules.
func defaultScaleDownRules() *autoscalingv2.HPAScalingRules {
	return &autoscalingv2.HPAScalingRules{
		SelectPolicy: ptrTo(autoscalingv2.MaxChangePolicySelect),
		Policies: []autoscalingv2.HPAScalingPolicy{
			{Type: autoscalingv2.PercentScalingPolicy, Value: defaultHPAScaleDownPercent, PeriodSeconds: defaultHPAScaleDownPeriodSeconds},
		},
	}
}

// completeScalingRules returns defaults with every field set in given
// (select policy, stabilization window, policies, tolerance) taken from
// given instead. A nil given yields the defaults.
func completeScalingRules(given, defaults *autoscalingv2.HPAScalingRules) *autoscalingv2.HPAScalingRules {
	if given == nil {
		return defaults
	}
	if given.SelectPolicy != nil {
		defaults.SelectPolicy = given.SelectPolicy
	}
	if given.StabilizationWindowSeconds != nil {
		defaults.StabilizationWindowSeconds = given.StabilizationWindowSeconds
	}
	if given.Policies != nil {
		defaults.Policies = given.Policies
	}
	if given.Tolerance != nil {
		defaults.Tolerance = given.Tolerance
	}
	return defaults
}

// defaultEndpointSlice gives every port of a slice name "" and protocol
// TCP when unset.
func defaultEndpointSlice(es *discoveryv1.EndpointSlice) {
	for i := range es.Ports {
		p := &es.Ports[i]
		if p.Name == nil {
			p.Name = ptrTo("")
		}
		if p.Protocol == nil {
			p.Protocol = ptrTo(corev1.ProtocolTCP)
		}
	}
}

// defaultNetworkPolicy gives every rule port protocol TCP and, when
// policyTypes is empty, sets it as upstream's defaulter does: Ingress
// always, Egress too when there are egress rules.
func defaultNetworkPolicy(np *networkingv1.NetworkPolicy) {
	for i := range np.Spec.Ingress {
		defaultNetworkPolicyPorts(np.Spec.Ingress[i].Ports)
	}
	for i := range np.Spec.Egress {
		defaultNetworkPolicyPorts(np.Spec.Egress[i].Ports)
	}
	if len(np.Spec.PolicyTypes) == 0 {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
		if len(np.Spec.Egress) != 0 {
			np.Spec.PolicyTypes = append(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress)
		}
	}
}

func defaultNetworkPolicyPorts(ports []networkingv1.NetworkPolicyPort) {
	for i := range ports {
		if ports[i].Protocol == nil {
			ports[i].Protocol = ptrTo(corev1.ProtocolTCP)
		}
	}
}
