// Package defaults fills in the field values the Kubernetes API server
// (v1.37) gives an object between decoding it and storing it, so that what
// Skiff stores and returns is what upstream would.
//
// Default mirrors upstream's registered defaulting functions: the
// hand-written SetDefaults_* functions of pkg/apis/*/v1 and the generated
// (and declarative) defaulters that apply them to every nested field. Those
// run on every decode, create and update alike, and are idempotent.
//
// Some values users see on every object are not defaults but are set once,
// on create, by a registry strategy or an admission plugin. They are kept
// apart because running them on every write would be wrong:
//   - PodStatusOnCreate and NamespaceOnCreate: the pod and namespace
//     registries' PrepareForCreate.
//   - AdmitPodTolerations: the DefaultTolerationSeconds admission plugin.
//   - AdmitPodPriority: the Priority admission plugin, without the
//     PriorityClass lookup.
//
// Every function here is pure apart from mutating the object it is handed:
// no I/O, no globals, no panics, including on nil pointers.
package defaults

import (
	"reflect"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
)

// Default fills in, in place, every default upstream's API server applies
// to obj: the same values, on the same nested fields, leaving every field
// the caller set untouched (except where upstream itself normalises, such
// as rounding resource quantities up to milli precision). It handles the
// typed objects of every kind Skiff serves and their typed lists; for any
// other type, a nil pointer, or a kind upstream does not default (for
// example ServiceAccount, Lease, Event) it does nothing. Default is
// idempotent.
func Default(obj runtime.Object) {
	switch o := obj.(type) {
	// core/v1
	case *corev1.Namespace:
		if o != nil {
			defaultNamespace(o)
		}
	case *corev1.Node:
		if o != nil {
			defaultNode(o)
		}
	case *corev1.Pod:
		if o != nil {
			defaultPod(o)
		}
	case *corev1.PodTemplate:
		if o != nil {
			defaultPodSpec(&o.Template.Spec)
		}
	case *corev1.ReplicationController:
		if o != nil {
			defaultReplicationController(o)
		}
	case *corev1.Service:
		if o != nil {
			defaultService(o)
		}
	case *corev1.Endpoints:
		if o != nil {
			defaultEndpoints(o)
		}
	case *corev1.ConfigMap:
		if o != nil && o.Data == nil {
			o.Data = map[string]string{}
		}
	case *corev1.Secret:
		if o != nil && o.Type == "" {
			o.Type = corev1.SecretTypeOpaque
		}
	case *corev1.ResourceQuota:
		if o != nil {
			roundResourceList(o.Spec.Hard)
			roundResourceList(o.Status.Hard)
			roundResourceList(o.Status.Used)
		}
	case *corev1.LimitRange:
		if o != nil {
			defaultLimitRange(o)
		}
	case *corev1.PersistentVolume:
		if o != nil {
			defaultPersistentVolume(o)
		}
	case *corev1.PersistentVolumeClaim:
		if o != nil {
			defaultPersistentVolumeClaim(o)
		}

	// apps/v1
	case *appsv1.Deployment:
		if o != nil {
			defaultDeployment(o)
		}
	case *appsv1.ReplicaSet:
		if o != nil {
			defaultReplicaSet(o)
		}
	case *appsv1.DaemonSet:
		if o != nil {
			defaultDaemonSet(o)
		}
	case *appsv1.StatefulSet:
		if o != nil {
			defaultStatefulSet(o)
		}

	// batch/v1
	case *batchv1.Job:
		if o != nil {
			defaultJob(o)
		}
	case *batchv1.CronJob:
		if o != nil {
			defaultCronJob(o)
		}

	// autoscaling/v2
	case *autoscalingv2.HorizontalPodAutoscaler:
		if o != nil {
			defaultHorizontalPodAutoscaler(o)
		}

	// networking.k8s.io/v1
	case *networkingv1.NetworkPolicy:
		if o != nil {
			defaultNetworkPolicy(o)
		}

	// scheduling.k8s.io/v1
	case *schedulingv1.PriorityClass:
		if o != nil && o.PreemptionPolicy == nil {
			o.PreemptionPolicy = ptrTo(corev1.PreemptLowerPriority)
		}

	// discovery.k8s.io/v1
	case *discoveryv1.EndpointSlice:
		if o != nil {
			defaultEndpointSlice(o)
		}

	default:
		// core/v1 ServiceAccount and Event, coordination.k8s.io/v1 Lease
		// and events.k8s.io/v1 Event have no upstream defaults. Typed
		// lists are defaulted item by item.
		DefaultList(obj)
	}
}

// DefaultList applies Default to every item of a list object (a typed list
// such as *corev1.PodList, or a *metav1.List whose items were decoded to
// objects). It does nothing for a non-list or a nil list.
func DefaultList(obj runtime.Object) {
	if isNil(obj) || !meta.IsListType(obj) {
		return
	}
	// EachListItem fails only for objects that are not lists, which was
	// ruled out above; items of an unknown type are left alone by Default.
	_ = meta.EachListItem(obj, func(item runtime.Object) error {
		Default(item)
		return nil
	})
}

// isNil reports whether obj is nil or a nil pointer. meta.IsListType must
// not see a nil pointer: it would remember the pointer's type as "not a
// list" for the life of the process.
func isNil(obj runtime.Object) bool {
	if obj == nil {
		return true
	}
	v := reflect.ValueOf(obj)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// ptrTo returns a pointer to a fresh copy of v.
func ptrTo[T any](v T) *T { return &v }
