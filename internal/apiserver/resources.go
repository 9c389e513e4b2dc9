package apiserver

import (
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	eventsv1 "k8s.io/api/events/v1"
	networkingv1 "k8s.io/api/networking/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// resource describes one served resource: its names, its Go types, and the
// strategy hooks that make it behave as upstream's does. Everything
// resource-specific the handlers need is here, as data.
type resource struct {
	GVK        schema.GroupVersionKind
	Plural     string
	Singular   string
	Namespaced bool
	ShortNames []string
	Categories []string
	New        func() runtime.Object
	NewList    func() runtime.Object

	// StorageResource names the etcd key prefix when it differs from
	// Plural's (events.k8s.io events live with core events).
	StorageResource string
	// Status and Scale say which subresources exist.
	Status bool
	Scale  bool
	// Generation says metadata.generation is set and bumped on spec changes.
	Generation bool
	// AllowCreateOnUpdate lets PUT create a missing object.
	AllowCreateOnUpdate bool
	// ReturnDeleted answers a delete that removed the object with the
	// object; otherwise the answer is a Status, as upstream's registries do.
	ReturnDeleted bool
	// Verbs default to the full set.
	Verbs []string

	// Validation hooks; nil means nothing beyond metadata checks.
	Validate             func(obj runtime.Object) field.ErrorList
	ValidateUpdate       func(newObj, oldObj runtime.Object) field.ErrorList
	ValidateStatusUpdate func(newObj, oldObj runtime.Object) field.ErrorList
	// View, when set, converts between the served kind and a stored kind
	// that another resource also serves (events.k8s.io Events are stored
	// as core Events).
	View *storageView
}

// storageView converts a served kind to and from its stored kind.
type storageView struct {
	toStored   func(obj runtime.Object) (runtime.Object, error)
	fromStored func(data []byte) (runtime.Object, error)
}

func (r *resource) GroupResource() schema.GroupResource {
	return schema.GroupResource{Group: r.GVK.Group, Resource: r.Plural}
}

func (r *resource) GroupVersion() schema.GroupVersion { return r.GVK.GroupVersion() }

func (r *resource) ListKind() string { return r.GVK.Kind + "List" }

// storagePrefix is the etcd key prefix of the resource, ending in "/".
func (r *resource) storagePrefix() string {
	name := r.Plural
	if r.StorageResource != "" {
		name = r.StorageResource
	}
	return "/registry/" + name + "/"
}

var allVerbs = []string{"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}

// verbsWithoutDeleteCollection are the verbs of namespaces and services,
// which upstream serves without deletecollection.
var verbsWithoutDeleteCollection = []string{"create", "delete", "get", "list", "patch", "update", "watch"}

func (r *resource) verbs() []string {
	if r.Verbs != nil {
		return r.Verbs
	}
	return allVerbs
}

// resourceTable indexes served resources by group, version and plural.
type resourceTable struct {
	byPath map[schema.GroupVersionResource]*resource
	all    []*resource
}

func newResourceTable(rs []*resource) *resourceTable {
	t := &resourceTable{byPath: map[schema.GroupVersionResource]*resource{}}
	t.add(rs...)
	return t
}

func (t *resourceTable) add(rs ...*resource) {
	for _, r := range rs {
		t.byPath[r.GVK.GroupVersion().WithResource(r.Plural)] = r
		t.all = append(t.all, r)
	}
}

func (t *resourceTable) lookup(group, version, plural string) *resource {
	return t.byPath[schema.GroupVersionResource{Group: group, Version: version, Resource: plural}]
}

// groupVersions lists served group versions, core first, then by group name.
func (t *resourceTable) groupVersions() []schema.GroupVersion {
	seen := map[schema.GroupVersion]bool{}
	var out []schema.GroupVersion
	for _, r := range t.all {
		gv := r.GroupVersion()
		if !seen[gv] {
			seen[gv] = true
			out = append(out, gv)
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if (out[i].Group == "") != (out[j].Group == "") {
			return out[i].Group == ""
		}
		return groupOrder(out[i].Group) < groupOrder(out[j].Group)
	})
	return out
}

// groupOrder keeps upstream's discovery order for the groups we serve.
func groupOrder(g string) int {
	for i, name := range []string{"", "apps", "events.k8s.io", "autoscaling", "batch", "coordination.k8s.io", "discovery.k8s.io", "networking.k8s.io", "scheduling.k8s.io"} {
		if g == name {
			return i
		}
	}
	return 100
}

func gvk(group, version, kind string) schema.GroupVersionKind {
	return schema.GroupVersionKind{Group: group, Version: version, Kind: kind}
}

// servedResources is every resource Skiff serves, with upstream's names.
func servedResources() []*resource {
	return []*resource{
		{GVK: gvk("", "v1", "Namespace"), Plural: "namespaces", Singular: "namespace", ShortNames: []string{"ns"}, Status: true, Verbs: verbsWithoutDeleteCollection,
			New: func() runtime.Object { return &corev1.Namespace{} }, NewList: func() runtime.Object { return &corev1.NamespaceList{} }},
		{GVK: gvk("", "v1", "Node"), Plural: "nodes", Singular: "node", ShortNames: []string{"no"}, Status: true,
			New: func() runtime.Object { return &corev1.Node{} }, NewList: func() runtime.Object { return &corev1.NodeList{} }},
		{GVK: gvk("", "v1", "Pod"), Plural: "pods", ReturnDeleted: true, Singular: "pod", Namespaced: true, ShortNames: []string{"po"}, Categories: []string{"all"}, Status: true, Generation: true,
			New: func() runtime.Object { return &corev1.Pod{} }, NewList: func() runtime.Object { return &corev1.PodList{} }},
		{GVK: gvk("", "v1", "Service"), Plural: "services", ReturnDeleted: true, Singular: "service", Namespaced: true, ShortNames: []string{"svc"}, Categories: []string{"all"}, Status: true,
			New: func() runtime.Object { return &corev1.Service{} }, NewList: func() runtime.Object { return &corev1.ServiceList{} }},
		{GVK: gvk("", "v1", "Endpoints"), Plural: "endpoints", Singular: "endpoints", Namespaced: true, ShortNames: []string{"ep"}, AllowCreateOnUpdate: true,
			New: func() runtime.Object { return &corev1.Endpoints{} }, NewList: func() runtime.Object { return &corev1.EndpointsList{} }},
		{GVK: gvk("", "v1", "ConfigMap"), Plural: "configmaps", Singular: "configmap", Namespaced: true, ShortNames: []string{"cm"},
			New: func() runtime.Object { return &corev1.ConfigMap{} }, NewList: func() runtime.Object { return &corev1.ConfigMapList{} }},
		{GVK: gvk("", "v1", "Secret"), Plural: "secrets", Singular: "secret", Namespaced: true,
			New: func() runtime.Object { return &corev1.Secret{} }, NewList: func() runtime.Object { return &corev1.SecretList{} }},
		{GVK: gvk("", "v1", "ServiceAccount"), Plural: "serviceaccounts", ReturnDeleted: true, Singular: "serviceaccount", Namespaced: true, ShortNames: []string{"sa"},
			New: func() runtime.Object { return &corev1.ServiceAccount{} }, NewList: func() runtime.Object { return &corev1.ServiceAccountList{} }},
		{GVK: gvk("", "v1", "Event"), Plural: "events", Singular: "event", Namespaced: true, ShortNames: []string{"ev"},
			New: func() runtime.Object { return &corev1.Event{} }, NewList: func() runtime.Object { return &corev1.EventList{} }},
		{GVK: gvk("", "v1", "ResourceQuota"), Plural: "resourcequotas", Singular: "resourcequota", Namespaced: true, ShortNames: []string{"quota"}, Status: true,
			New: func() runtime.Object { return &corev1.ResourceQuota{} }, NewList: func() runtime.Object { return &corev1.ResourceQuotaList{} }},
		{GVK: gvk("", "v1", "LimitRange"), Plural: "limitranges", Singular: "limitrange", Namespaced: true, ShortNames: []string{"limits"},
			New: func() runtime.Object { return &corev1.LimitRange{} }, NewList: func() runtime.Object { return &corev1.LimitRangeList{} }},

		{GVK: gvk("apps", "v1", "Deployment"), Plural: "deployments", Singular: "deployment", Namespaced: true, ShortNames: []string{"deploy"}, Categories: []string{"all"}, Status: true, Scale: true, Generation: true,
			New: func() runtime.Object { return &appsv1.Deployment{} }, NewList: func() runtime.Object { return &appsv1.DeploymentList{} }},
		{GVK: gvk("apps", "v1", "ReplicaSet"), Plural: "replicasets", Singular: "replicaset", Namespaced: true, ShortNames: []string{"rs"}, Categories: []string{"all"}, Status: true, Scale: true, Generation: true,
			New: func() runtime.Object { return &appsv1.ReplicaSet{} }, NewList: func() runtime.Object { return &appsv1.ReplicaSetList{} }},
		{GVK: gvk("apps", "v1", "DaemonSet"), Plural: "daemonsets", Singular: "daemonset", Namespaced: true, ShortNames: []string{"ds"}, Categories: []string{"all"}, Status: true, Generation: true,
			New: func() runtime.Object { return &appsv1.DaemonSet{} }, NewList: func() runtime.Object { return &appsv1.DaemonSetList{} }},
		{GVK: gvk("apps", "v1", "StatefulSet"), Plural: "statefulsets", Singular: "statefulset", Namespaced: true, ShortNames: []string{"sts"}, Categories: []string{"all"}, Status: true, Scale: true, Generation: true,
			New: func() runtime.Object { return &appsv1.StatefulSet{} }, NewList: func() runtime.Object { return &appsv1.StatefulSetList{} }},
		{GVK: gvk("apps", "v1", "ControllerRevision"), Plural: "controllerrevisions", Singular: "controllerrevision", Namespaced: true,
			New: func() runtime.Object { return &appsv1.ControllerRevision{} }, NewList: func() runtime.Object { return &appsv1.ControllerRevisionList{} }},

		{GVK: gvk("events.k8s.io", "v1", "Event"), Plural: "events", Singular: "event", Namespaced: true, ShortNames: []string{"ev"}, View: eventsV1View,
			New: func() runtime.Object { return &eventsv1.Event{} }, NewList: func() runtime.Object { return &eventsv1.EventList{} }},

		{GVK: gvk("autoscaling", "v2", "HorizontalPodAutoscaler"), Plural: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler", Namespaced: true, ShortNames: []string{"hpa"}, Categories: []string{"all"}, Status: true, Generation: true,
			New: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscaler{} }, NewList: func() runtime.Object { return &autoscalingv2.HorizontalPodAutoscalerList{} }},
		{GVK: gvk("autoscaling", "v1", "HorizontalPodAutoscaler"), Plural: "horizontalpodautoscalers", Singular: "horizontalpodautoscaler", Namespaced: true, ShortNames: []string{"hpa"}, Categories: []string{"all"}, Status: true, Generation: true, View: hpaV1View,
			New: func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscaler{} }, NewList: func() runtime.Object { return &autoscalingv1.HorizontalPodAutoscalerList{} }},

		{GVK: gvk("batch", "v1", "Job"), Plural: "jobs", Singular: "job", Namespaced: true, Categories: []string{"all"}, Status: true, Generation: true,
			New: func() runtime.Object { return &batchv1.Job{} }, NewList: func() runtime.Object { return &batchv1.JobList{} }},
		{GVK: gvk("batch", "v1", "CronJob"), Plural: "cronjobs", Singular: "cronjob", Namespaced: true, ShortNames: []string{"cj"}, Categories: []string{"all"}, Status: true, Generation: true,
			New: func() runtime.Object { return &batchv1.CronJob{} }, NewList: func() runtime.Object { return &batchv1.CronJobList{} }},

		{GVK: gvk("coordination.k8s.io", "v1", "Lease"), Plural: "leases", Singular: "lease", Namespaced: true, AllowCreateOnUpdate: true,
			New: func() runtime.Object { return &coordinationv1.Lease{} }, NewList: func() runtime.Object { return &coordinationv1.LeaseList{} }},

		{GVK: gvk("discovery.k8s.io", "v1", "EndpointSlice"), Plural: "endpointslices", Singular: "endpointslice", Namespaced: true,
			New: func() runtime.Object { return &discoveryv1.EndpointSlice{} }, NewList: func() runtime.Object { return &discoveryv1.EndpointSliceList{} }},

		{GVK: gvk("networking.k8s.io", "v1", "NetworkPolicy"), Plural: "networkpolicies", Singular: "networkpolicy", Namespaced: true, ShortNames: []string{"netpol"}, Generation: true,
			New: func() runtime.Object { return &networkingv1.NetworkPolicy{} }, NewList: func() runtime.Object { return &networkingv1.NetworkPolicyList{} }},

		{GVK: gvk("scheduling.k8s.io", "v1", "PriorityClass"), Plural: "priorityclasses", Singular: "priorityclass", ShortNames: []string{"pc"},
			New: func() runtime.Object { return &schedulingv1.PriorityClass{} }, NewList: func() runtime.Object { return &schedulingv1.PriorityClassList{} }},
	}
}
