package printers

import (
	"fmt"
	"strconv"
	"time"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	coordinationv1 "k8s.io/api/coordination/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	discoveryv1beta1 "k8s.io/api/discovery/v1beta1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// hpaPrinter prints horizontal pod autoscalers (autoscaling/v2 objects):
// NAME REFERENCE TARGETS MINPODS MAXPODS REPLICAS AGE.
func hpaPrinter() Printer {
	spec, status := autoscalingv2.HorizontalPodAutoscalerSpec{}.SwaggerDoc(), autoscalingv2.HorizontalPodAutoscalerStatus{}.SwaggerDoc()
	return typed[autoscalingv2.HorizontalPodAutoscaler, *autoscalingv2.HorizontalPodAutoscaler]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Reference", "string", spec["scaleTargetRef"]),
			column("Targets", "string", spec["metrics"]),
			column("MinPods", "string", spec["minReplicas"]),
			column("MaxPods", "string", spec["maxReplicas"]),
			column("Replicas", "string", status["currentReplicas"]),
			ageColumn(),
		},
		cells: func(h *autoscalingv2.HorizontalPodAutoscaler, now time.Time) ([]interface{}, error) {
			minPods := "<unset>"
			if h.Spec.MinReplicas != nil {
				minPods = strconv.Itoa(int(*h.Spec.MinReplicas))
			}
			return []interface{}{
				h.Name,
				h.Spec.ScaleTargetRef.Kind + "/" + h.Spec.ScaleTargetRef.Name,
				hpaTargets(h.Spec.Metrics, h.Status.CurrentMetrics),
				minPods,
				int64(h.Spec.MaxReplicas),
				int64(h.Status.CurrentReplicas),
				since(h.CreationTimestamp, now),
			}, nil
		},
	}
}

// hpaTargets writes each metric as current/target, the current value taken
// from the status at the same index (<unknown> when it has none of the
// metric's kind): "cpu: 40%/80%" for a utilization, "cpu: 200m/500m" for a
// resource's average value, "1/10" for pods or an object's value, "1/10
// (avg)" for an object's or external metric's average. It lists two metrics
// and then " + N more...", and is <none> without metrics. An amount the
// status or spec omits where upstream does not check for one prints <nil>,
// as upstream's does.
func hpaTargets(specs []autoscalingv2.MetricSpec, statuses []autoscalingv2.MetricStatus) string {
	if len(specs) == 0 {
		return "<none>"
	}
	list := make([]string, 0, len(specs))
	for i, spec := range specs {
		var status *autoscalingv2.MetricStatus
		if i < len(statuses) {
			status = &statuses[i]
		}
		list = append(list, hpaTarget(spec, status))
	}
	return firstOfMany(list, 2, ", ")
}

// hpaTarget writes one metric for hpaTargets; status may be nil.
func hpaTarget(spec autoscalingv2.MetricSpec, status *autoscalingv2.MetricStatus) string {
	const unknown = "<unknown>"
	switch spec.Type {
	case autoscalingv2.ExternalMetricSourceType:
		if spec.External == nil {
			break
		}
		current := unknown
		if spec.External.Target.AverageValue != nil {
			if status != nil && status.External != nil && status.External.Current.AverageValue != nil {
				current = quantity(status.External.Current.AverageValue)
			}
			return fmt.Sprintf("%s/%s (avg)", current, quantity(spec.External.Target.AverageValue))
		}
		if status != nil && status.External != nil {
			current = quantity(status.External.Current.Value)
		}
		return fmt.Sprintf("%s/%s", current, quantity(spec.External.Target.Value))

	case autoscalingv2.PodsMetricSourceType:
		if spec.Pods == nil {
			break
		}
		current := unknown
		if status != nil && status.Pods != nil {
			current = quantity(status.Pods.Current.AverageValue)
		}
		return fmt.Sprintf("%s/%s", current, quantity(spec.Pods.Target.AverageValue))

	case autoscalingv2.ObjectMetricSourceType:
		if spec.Object == nil {
			break
		}
		current := unknown
		if spec.Object.Target.AverageValue != nil {
			if status != nil && status.Object != nil && status.Object.Current.AverageValue != nil {
				current = quantity(status.Object.Current.AverageValue)
			}
			return fmt.Sprintf("%s/%s (avg)", current, quantity(spec.Object.Target.AverageValue))
		}
		if status != nil && status.Object != nil {
			current = quantity(status.Object.Current.Value)
		}
		return fmt.Sprintf("%s/%s", current, quantity(spec.Object.Target.Value))

	case autoscalingv2.ResourceMetricSourceType:
		if spec.Resource == nil {
			break
		}
		var cur *autoscalingv2.MetricValueStatus
		if status != nil && status.Resource != nil {
			cur = &status.Resource.Current
		}
		return resourceTarget(spec.Resource.Name.String(), spec.Resource.Target, cur)

	case autoscalingv2.ContainerResourceMetricSourceType:
		if spec.ContainerResource == nil {
			break
		}
		var cur *autoscalingv2.MetricValueStatus
		if status != nil && status.ContainerResource != nil {
			cur = &status.ContainerResource.Current
		}
		return resourceTarget(spec.ContainerResource.Name.String(), spec.ContainerResource.Target, cur)
	}
	return "<unknown type>"
}

// resourceTarget writes a (container) resource metric: "name: current/target"
// by average value when the target has one, else by utilization (<auto>
// without a target utilization). current is nil without a status.
func resourceTarget(name string, target autoscalingv2.MetricTarget, current *autoscalingv2.MetricValueStatus) string {
	if target.AverageValue != nil {
		cur := "<unknown>"
		if current != nil {
			cur = quantity(current.AverageValue)
		}
		return fmt.Sprintf("%s: %s/%s", name, cur, quantity(target.AverageValue))
	}
	cur := "<unknown>"
	if current != nil && current.AverageUtilization != nil {
		cur = fmt.Sprintf("%d%%", *current.AverageUtilization)
	}
	want := "<auto>"
	if target.AverageUtilization != nil {
		want = fmt.Sprintf("%d%%", *target.AverageUtilization)
	}
	return fmt.Sprintf("%s: %s/%s", name, cur, want)
}

// priorityClassPrinter prints priority classes: NAME VALUE GLOBAL-DEFAULT AGE
// PREEMPTIONPOLICY (the last is not a wide column upstream either).
func priorityClassPrinter() Printer {
	doc := schedulingv1.PriorityClass{}.SwaggerDoc()
	return typed[schedulingv1.PriorityClass, *schedulingv1.PriorityClass]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Value", "integer", doc["value"]),
			column("Global-Default", "boolean", doc["globalDefault"]),
			ageColumn(),
			column("PreemptionPolicy", "string", doc["preemptionPolicy"]),
		},
		cells: func(pc *schedulingv1.PriorityClass, now time.Time) ([]interface{}, error) {
			var policy string
			if pc.PreemptionPolicy != nil {
				policy = string(*pc.PreemptionPolicy)
			}
			return []interface{}{pc.Name, int64(pc.Value), pc.GlobalDefault, since(pc.CreationTimestamp, now), policy}, nil
		},
	}
}

// leasePrinter prints leases: NAME HOLDER AGE.
func leasePrinter() Printer {
	return typed[coordinationv1.Lease, *coordinationv1.Lease]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Holder", "string", coordinationv1.LeaseSpec{}.SwaggerDoc()["holderIdentity"]),
			ageColumn(),
		},
		cells: func(l *coordinationv1.Lease, now time.Time) ([]interface{}, error) {
			var holder string
			if l.Spec.HolderIdentity != nil {
				holder = *l.Spec.HolderIdentity
			}
			return []interface{}{l.Name, holder, since(l.CreationTimestamp, now)}, nil
		},
	}
}

// endpointSlicePrinter prints endpoint slices: NAME ADDRESSTYPE PORTS
// ENDPOINTS AGE. PORTS lists port numbers (a port's name where it has no
// number, * where neither), ENDPOINTS the addresses: the first three and
// " + N more...", or <unset> when there are none.
func endpointSlicePrinter() Printer {
	doc := discoveryv1beta1.EndpointSlice{}.SwaggerDoc()
	return typed[discoveryv1.EndpointSlice, *discoveryv1.EndpointSlice]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("AddressType", "string", doc["addressType"]),
			column("Ports", "string", doc["ports"]),
			column("Endpoints", "string", doc["endpoints"]),
			ageColumn(),
		},
		cells: func(es *discoveryv1.EndpointSlice, now time.Time) ([]interface{}, error) {
			ports := make([]string, 0, len(es.Ports))
			for _, p := range es.Ports {
				switch {
				case p.Port != nil:
					ports = append(ports, strconv.Itoa(int(*p.Port)))
				case p.Name != nil:
					ports = append(ports, *p.Name)
				default:
					ports = append(ports, "*")
				}
			}
			var addresses []string
			for _, e := range es.Endpoints {
				addresses = append(addresses, e.Addresses...)
			}
			unset := func(s string) string {
				if s == "" {
					return "<unset>"
				}
				return s
			}
			return []interface{}{
				es.Name, string(es.AddressType),
				unset(firstOfMany(ports, 3, ",")), unset(firstOfMany(addresses, 3, ",")),
				since(es.CreationTimestamp, now),
			}, nil
		},
	}
}

// networkPolicyPrinter prints network policies: NAME POD-SELECTOR AGE.
func networkPolicyPrinter() Printer {
	return typed[networkingv1.NetworkPolicy, *networkingv1.NetworkPolicy]{
		columns: []metav1.TableColumnDefinition{
			nameColumn(),
			column("Pod-Selector", "string", networkingv1.NetworkPolicySpec{}.SwaggerDoc()["podSelector"]),
			ageColumn(),
		},
		cells: func(np *networkingv1.NetworkPolicy, now time.Time) ([]interface{}, error) {
			return []interface{}{np.Name, metav1.FormatLabelSelector(&np.Spec.PodSelector), since(np.CreationTimestamp, now)}, nil
		},
	}
}
