package apiserver

import (
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// fieldValues returns the selectable fields of obj beyond name and
// namespace: the ones upstream lets field selectors name.
func fieldValues(r *resource, obj runtime.Object) map[string]string {
	switch o := obj.(type) {
	case *corev1.Pod:
		podIP := ""
		if len(o.Status.PodIPs) > 0 {
			podIP = o.Status.PodIPs[0].IP
		}
		return map[string]string{
			"spec.nodeName":            o.Spec.NodeName,
			"spec.restartPolicy":       string(o.Spec.RestartPolicy),
			"spec.schedulerName":       o.Spec.SchedulerName,
			"spec.serviceAccountName":  o.Spec.ServiceAccountName,
			"spec.hostNetwork":         strconv.FormatBool(o.Spec.HostNetwork),
			"status.phase":             string(o.Status.Phase),
			"status.podIP":             podIP,
			"status.nominatedNodeName": o.Status.NominatedNodeName,
		}
	case *corev1.Event:
		return map[string]string{
			"involvedObject.kind":            o.InvolvedObject.Kind,
			"involvedObject.namespace":       o.InvolvedObject.Namespace,
			"involvedObject.name":            o.InvolvedObject.Name,
			"involvedObject.uid":             string(o.InvolvedObject.UID),
			"involvedObject.apiVersion":      o.InvolvedObject.APIVersion,
			"involvedObject.resourceVersion": o.InvolvedObject.ResourceVersion,
			"involvedObject.fieldPath":       o.InvolvedObject.FieldPath,
			"reason":                         o.Reason,
			"reportingComponent":             o.ReportingController,
			"source":                         o.Source.Component,
			"type":                           o.Type,
		}
	case *eventsv1.Event:
		return map[string]string{
			"regarding.kind":            o.Regarding.Kind,
			"regarding.namespace":       o.Regarding.Namespace,
			"regarding.name":            o.Regarding.Name,
			"regarding.uid":             string(o.Regarding.UID),
			"regarding.apiVersion":      o.Regarding.APIVersion,
			"regarding.resourceVersion": o.Regarding.ResourceVersion,
			"regarding.fieldPath":       o.Regarding.FieldPath,
			"reason":                    o.Reason,
			"reportingController":       o.ReportingController,
			"type":                      o.Type,
		}
	case *corev1.Secret:
		return map[string]string{"type": string(o.Type)}
	case *corev1.Node:
		return map[string]string{"spec.unschedulable": strconv.FormatBool(o.Spec.Unschedulable)}
	case *corev1.Namespace:
		return map[string]string{"status.phase": string(o.Status.Phase)}
	case *corev1.Service:
		return map[string]string{"spec.clusterIP": o.Spec.ClusterIP, "spec.type": string(o.Spec.Type)}
	case *appsv1.ReplicaSet:
		return map[string]string{"status.replicas": strconv.Itoa(int(o.Status.Replicas))}
	case *batchv1.Job:
		return map[string]string{"status.successful": strconv.Itoa(int(o.Status.Succeeded))}
	}
	return nil
}

// selectableFields lists the field names fieldValues offers for r.
func selectableFields(r *resource) map[string]string {
	obj := r.New()
	return fieldValues(r, obj)
}
