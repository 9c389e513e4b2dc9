package apiserver

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apimachineryvalidation "k8s.io/apimachinery/pkg/api/validation"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/validation"
	appsvalidation "github.com/skiff-sh/skiff/internal/validation/apps"
	autoscalingvalidation "github.com/skiff-sh/skiff/internal/validation/autoscaling"
	batchvalidation "github.com/skiff-sh/skiff/internal/validation/batch"
	coordinationvalidation "github.com/skiff-sh/skiff/internal/validation/coordination"
	discoveryvalidation "github.com/skiff-sh/skiff/internal/validation/discovery"
	eventsvalidation "github.com/skiff-sh/skiff/internal/validation/events"
	networkingvalidation "github.com/skiff-sh/skiff/internal/validation/networking"
	schedulingvalidation "github.com/skiff-sh/skiff/internal/validation/scheduling"
)

// kindValidation is one kind's validation functions, typed.
type kindValidation[T runtime.Object] struct {
	create func(T) field.ErrorList
	update func(T, T) field.ErrorList
	status func(T, T) field.ErrorList
}

func (k kindValidation[T]) attach(r *resource) {
	if k.create != nil {
		r.Validate = func(o runtime.Object) field.ErrorList { return k.create(o.(T)) }
	}
	if k.update != nil {
		r.ValidateUpdate = func(o, old runtime.Object) field.ErrorList { return k.update(o.(T), old.(T)) }
	}
	if k.status != nil {
		r.ValidateStatusUpdate = func(o, old runtime.Object) field.ErrorList { return k.status(o.(T), old.(T)) }
	}
}

// attacher hooks one kind's validation onto its resource.
type attacher interface{ attach(*resource) }

// attachValidation gives every served resource its upstream validation;
// kinds without their own get the object-metadata rules.
func attachValidation(rs []*resource) {
	byKind := map[string]attacher{
		"/Pod":                                kindValidation[*corev1.Pod]{validation.ValidatePod, validation.ValidatePodUpdate, validation.ValidatePodStatusUpdate},
		"/Namespace":                          kindValidation[*corev1.Namespace]{validation.ValidateNamespace, validation.ValidateNamespaceUpdate, validation.ValidateNamespaceStatusUpdate},
		"/Node":                               kindValidation[*corev1.Node]{validation.ValidateNode, validation.ValidateNodeUpdate, validation.ValidateNodeStatusUpdate},
		"/Service":                            kindValidation[*corev1.Service]{validation.ValidateService, validation.ValidateServiceUpdate, validation.ValidateServiceStatusUpdate},
		"/Endpoints":                          kindValidation[*corev1.Endpoints]{validation.ValidateEndpoints, validation.ValidateEndpointsUpdate, nil},
		"/ConfigMap":                          kindValidation[*corev1.ConfigMap]{validation.ValidateConfigMap, validation.ValidateConfigMapUpdate, nil},
		"/Secret":                             kindValidation[*corev1.Secret]{validation.ValidateSecret, validation.ValidateSecretUpdate, nil},
		"/ServiceAccount":                     kindValidation[*corev1.ServiceAccount]{validation.ValidateServiceAccount, validation.ValidateServiceAccountUpdate, nil},
		"/Event":                              kindValidation[*corev1.Event]{validation.ValidateEvent, validation.ValidateEventUpdate, nil},
		"/ResourceQuota":                      kindValidation[*corev1.ResourceQuota]{validation.ValidateResourceQuota, validation.ValidateResourceQuotaUpdate, validation.ValidateResourceQuotaStatusUpdate},
		"/LimitRange":                         kindValidation[*corev1.LimitRange]{validation.ValidateLimitRange, validation.ValidateLimitRangeUpdate, nil},
		"batch/Job":                           kindValidation[*batchv1.Job]{batchvalidation.ValidateJob, batchvalidation.ValidateJobUpdate, batchvalidation.ValidateJobStatusUpdate},
		"batch/CronJob":                       kindValidation[*batchv1.CronJob]{batchvalidation.ValidateCronJob, batchvalidation.ValidateCronJobUpdate, batchvalidation.ValidateCronJobStatusUpdate},
		"apps/Deployment":                     kindValidation[*appsv1.Deployment]{appsvalidation.ValidateDeployment, appsvalidation.ValidateDeploymentUpdate, appsvalidation.ValidateDeploymentStatusUpdate},
		"apps/ReplicaSet":                     kindValidation[*appsv1.ReplicaSet]{appsvalidation.ValidateReplicaSet, appsvalidation.ValidateReplicaSetUpdate, appsvalidation.ValidateReplicaSetStatusUpdate},
		"apps/DaemonSet":                      kindValidation[*appsv1.DaemonSet]{appsvalidation.ValidateDaemonSet, appsvalidation.ValidateDaemonSetUpdate, appsvalidation.ValidateDaemonSetStatusUpdate},
		"apps/StatefulSet":                    kindValidation[*appsv1.StatefulSet]{appsvalidation.ValidateStatefulSet, appsvalidation.ValidateStatefulSetUpdate, appsvalidation.ValidateStatefulSetStatusUpdate},
		"autoscaling/HorizontalPodAutoscaler": kindValidation[*autoscalingv2.HorizontalPodAutoscaler]{autoscalingvalidation.ValidateHorizontalPodAutoscaler, autoscalingvalidation.ValidateHorizontalPodAutoscalerUpdate, autoscalingvalidation.ValidateHorizontalPodAutoscalerStatusUpdate},
		"coordination.k8s.io/Lease":           kindValidation[*coordinationv1.Lease]{coordinationvalidation.ValidateLease, coordinationvalidation.ValidateLeaseUpdate, nil},
		"discovery.k8s.io/EndpointSlice":      kindValidation[*discoveryv1.EndpointSlice]{discoveryvalidation.ValidateEndpointSlice, discoveryvalidation.ValidateEndpointSliceUpdate, nil},
		"events.k8s.io/Event":                 kindValidation[*eventsv1.Event]{eventsvalidation.ValidateEvent, eventsvalidation.ValidateEventUpdate, nil},
		"networking.k8s.io/NetworkPolicy":     kindValidation[*networkingv1.NetworkPolicy]{networkingvalidation.ValidateNetworkPolicy, networkingvalidation.ValidateNetworkPolicyUpdate, nil},
		"scheduling.k8s.io/PriorityClass":     kindValidation[*schedulingv1.PriorityClass]{schedulingvalidation.ValidatePriorityClass, schedulingvalidation.ValidatePriorityClassUpdate, nil},
	}
	for _, r := range rs {
		if r.GVK == gvk("autoscaling", "v1", "HorizontalPodAutoscaler") {
			// Served as a view of the stored v2 (hpa.go).
			hpaV1Validation.attach(r)
			continue
		}
		if a, ok := byKind[r.GVK.Group+"/"+r.GVK.Kind]; ok {
			a.attach(r)
			continue
		}
		attachMetadataValidation(r)
	}
}

// attachMetadataValidation is the floor every kind gets: object metadata
// with DNS-subdomain names, and immutable system fields on update.
func attachMetadataValidation(r *resource) {
	namespaced := r.Namespaced
	nameFn := apimachineryvalidation.NameIsDNSSubdomain
	if r.GVK.Kind == "Namespace" {
		nameFn = apimachineryvalidation.ValidateNamespaceName
	}
	if r.GVK.Kind == "Service" {
		nameFn = apimachineryvalidation.NameIsDNS1035Label
	}
	r.Validate = func(o runtime.Object) field.ErrorList {
		m := objectMeta(o)
		return validation.ValidateObjectMeta(m, namespaced, nameFn, field.NewPath("metadata"))
	}
	r.ValidateUpdate = func(o, old runtime.Object) field.ErrorList {
		errs := r.Validate(o)
		return append(errs, validation.ValidateObjectMetaUpdate(objectMeta(o), objectMeta(old), field.NewPath("metadata"))...)
	}
}

// objectMeta is a pointer to obj's embedded ObjectMeta.
func objectMeta(o runtime.Object) *metav1.ObjectMeta {
	if f, ok := fieldByName(o, "ObjectMeta"); ok {
		if om, ok := f.Addr().Interface().(*metav1.ObjectMeta); ok {
			return om
		}
	}
	return &metav1.ObjectMeta{}
}
