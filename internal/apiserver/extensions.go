package apiserver

import (
	"context"
	"fmt"
	"net/http"
	"slices"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/utils/clock"

	"github.com/skiff-sh/skiff/internal/defaults"
	"github.com/skiff-sh/skiff/internal/printers"
)

// extensions holds what makes each kind behave as upstream's: defaults,
// validation, allocation, printing and the OpenAPI documents. The
// handlers stay kind-agnostic and call through here.
type extensions struct {
	services *serviceAllocator
	printers *printers.Registry
	openapi  http.Handler
	clock    clock.PassiveClock
	// srv answers the lookups admission needs (priority classes).
	srv *Server
}

// admitPriority is upstream's Priority admission: a pod's priority comes
// from its PriorityClass, or from the globalDefault class, or is 0.
func (e *extensions) admitPriority(ctx context.Context, pod *corev1.Pod) error {
	var class *schedulingv1.PriorityClass
	if name := pod.Spec.PriorityClassName; name != "" {
		obj, ok := e.srv.priorityClasses.get(name)
		if !ok {
			var err error
			obj, _, err = e.srv.getObject(ctx, e.srv.resources.lookup("scheduling.k8s.io", "v1", "priorityclasses"), "", name)
			if apierrors.IsNotFound(err) {
				return fmt.Errorf("no PriorityClass with name %s was found", name)
			}
			if err != nil {
				return err
			}
		}
		class = obj.(*schedulingv1.PriorityClass)
	} else {
		all, _ := e.srv.priorityClasses.list()
		for _, obj := range all {
			if pc := obj.(*schedulingv1.PriorityClass); pc.GlobalDefault && (class == nil || pc.Value > class.Value) {
				class = pc
			}
		}
		if class == nil {
			return nil
		}
		pod.Spec.PriorityClassName = class.Name
	}
	if pod.Spec.Priority != nil && *pod.Spec.Priority != class.Value {
		return fmt.Errorf("the integer value of priority (%d) must not be provided in pod spec; priority admission controller computed %d from the given PriorityClass name", *pod.Spec.Priority, class.Value)
	}
	value := class.Value
	pod.Spec.Priority = &value
	if class.PreemptionPolicy != nil && pod.Spec.PreemptionPolicy == nil {
		policy := *class.PreemptionPolicy
		pod.Spec.PreemptionPolicy = &policy
	}
	return nil
}

func newExtensions(s *Server) (*extensions, error) {
	e := &extensions{
		services: &serviceAllocator{s: s, cidr: s.cfg.ServiceCIDR, portBase: s.cfg.NodePortBase, portSize: s.cfg.NodePortSize},
		printers: printers.New(),
		clock:    s.cfg.Clock,
		srv:      s,
	}
	attachValidation(s.resources.all)
	oa, err := newOpenAPI(s.resources.all, s.cfg.Version.GitVersion)
	if err != nil {
		return nil, err
	}
	e.openapi = oa
	return e, nil
}

func (e *extensions) defaultObject(obj runtime.Object) {
	if s, ok := obj.(*corev1.Secret); ok {
		mergeStringData(s)
	}
	defaults.Default(obj)
}

// mergeStringData does what upstream's v1 to internal Secret conversion
// does on every write: stringData's entries overwrite data's, and
// stringData itself is never stored or returned.
func mergeStringData(s *corev1.Secret) {
	if len(s.StringData) > 0 && s.Data == nil {
		s.Data = make(map[string][]byte, len(s.StringData))
	}
	for k, v := range s.StringData {
		s.Data[k] = []byte(v)
	}
	s.StringData = nil
}

// beforeCreate applies what upstream's create strategies and admission
// plugins set on new objects.
func (e *extensions) beforeCreate(ctx context.Context, res *resource, obj runtime.Object) error {
	switch o := obj.(type) {
	case *corev1.Pod:
		// Upstream's ServiceAccount admission: every pod runs as a service
		// account, "default" unless it names one. (Its token volume comes
		// with the token API.) A kubelet's mirror pod is left as it is:
		// its spec must stay the static pod's.
		if _, mirror := o.Annotations[corev1.MirrorPodAnnotationKey]; !mirror {
			if o.Spec.ServiceAccountName == "" {
				o.Spec.ServiceAccountName = o.Spec.DeprecatedServiceAccount
			}
			if o.Spec.ServiceAccountName == "" {
				o.Spec.ServiceAccountName = "default"
			}
			o.Spec.DeprecatedServiceAccount = o.Spec.ServiceAccountName
		}
		defaults.AdmitPodTolerations(o)
		if err := e.admitPriority(ctx, o); err != nil {
			return apierrors.NewForbidden(res.GroupResource(), o.Name, err)
		}
		if err := defaults.AdmitPodPriority(o); err != nil {
			return apierrors.NewForbidden(res.GroupResource(), o.Name, err)
		}
		defaults.PodStatusOnCreate(o, metav1.NewTime(e.clock.Now().Truncate(1e9)))
	case *corev1.Namespace:
		defaults.NamespaceOnCreate(o)
	case *batchv1.Job:
		generateJobSelector(o)
	}
	return nil
}

// beforeUpdate applies what upstream's update strategies carry over from
// the stored object before validation.
func (e *extensions) beforeUpdate(obj, old runtime.Object) {
	switch o := obj.(type) {
	case *corev1.Service:
		dropTypeDependentFields(o, old.(*corev1.Service))
		keepAllocatedValues(o, old.(*corev1.Service))
	case *corev1.Pod:
		// Upstream's DefaultTolerationSeconds admission runs on updates
		// too: a pod replaced by its original manifest keeps the
		// tolerations (which an update may not remove). A status or
		// binding update carries the stored spec, which has them.
		defaults.AdmitPodTolerations(o)
	}
}

// dropTypeDependentFields clears what a Service's type change made moot
// when the client left it as it was, as upstream's service strategy does:
// `kubectl patch -p '{"spec":{"type":"ClusterIP"}}'` on a NodePort
// service drops its node ports (which are then released) instead of
// failing validation.
func dropTypeDependentFields(svc, old *corev1.Service) {
	if old.Spec.Type != corev1.ServiceTypeExternalName && svc.Spec.Type == corev1.ServiceTypeExternalName {
		if svc.Spec.ClusterIP == old.Spec.ClusterIP && slices.Equal(svc.Spec.ClusterIPs, old.Spec.ClusterIPs) {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = "", nil
		}
		if slices.Equal(svc.Spec.IPFamilies, old.Spec.IPFamilies) {
			svc.Spec.IPFamilies = nil
		}
		if ptrEqual(svc.Spec.IPFamilyPolicy, old.Spec.IPFamilyPolicy) {
			svc.Spec.IPFamilyPolicy = nil
		}
	}
	usesNodePorts := func(s *corev1.Service) bool {
		return s.Spec.Type == corev1.ServiceTypeNodePort || s.Spec.Type == corev1.ServiceTypeLoadBalancer
	}
	if usesNodePorts(old) && !usesNodePorts(svc) {
		// Unless the client asked for a node port the old service did not hold.
		held := heldPorts(old)
		same := true
		for _, p := range svc.Spec.Ports {
			same = same && (p.NodePort == 0 || held[p.NodePort])
		}
		if same {
			for i := range svc.Spec.Ports {
				svc.Spec.Ports[i].NodePort = 0
			}
		}
	}
	if needsHealthCheckPort(old) && !needsHealthCheckPort(svc) && svc.Spec.HealthCheckNodePort == old.Spec.HealthCheckNodePort {
		svc.Spec.HealthCheckNodePort = 0
	}
	if old.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		if svc.Spec.AllocateLoadBalancerNodePorts != nil && ptrEqual(svc.Spec.AllocateLoadBalancerNodePorts, old.Spec.AllocateLoadBalancerNodePorts) {
			svc.Spec.AllocateLoadBalancerNodePorts = nil
		}
		if ptrEqual(svc.Spec.LoadBalancerClass, old.Spec.LoadBalancerClass) {
			svc.Spec.LoadBalancerClass = nil
		}
	}
	externallyAccessible := func(s *corev1.Service) bool {
		return usesNodePorts(s) || (s.Spec.Type == corev1.ServiceTypeClusterIP && len(s.Spec.ExternalIPs) > 0)
	}
	if externallyAccessible(old) && !externallyAccessible(svc) && svc.Spec.ExternalTrafficPolicy == old.Spec.ExternalTrafficPolicy {
		svc.Spec.ExternalTrafficPolicy = ""
	}
	if svc.Spec.Type != corev1.ServiceTypeLoadBalancer {
		svc.Status.LoadBalancer = corev1.LoadBalancerStatus{}
	}
}

// ptrEqual says two optional values are both unset or both set and equal.
func ptrEqual[T comparable](a, b *T) bool {
	return (a == nil && b == nil) || (a != nil && b != nil && *a == *b)
}

// keepAllocatedValues carries a Service's allocated addresses and node
// ports over an update that leaves them out (kubectl replace, a PUT of an
// edited manifest), as upstream does.
func keepAllocatedValues(svc, old *corev1.Service) {
	if svc.Spec.Type == corev1.ServiceTypeExternalName || old.Spec.Type == corev1.ServiceTypeExternalName {
		return
	}
	if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 {
		svc.Spec.ClusterIP = old.Spec.ClusterIP
		svc.Spec.ClusterIPs = old.Spec.ClusterIPs
	}
	if len(svc.Spec.IPFamilies) == 0 {
		svc.Spec.IPFamilies = old.Spec.IPFamilies
	}
	if svc.Spec.IPFamilyPolicy == nil {
		svc.Spec.IPFamilyPolicy = old.Spec.IPFamilyPolicy
	}
	if wantsNodePorts(svc) {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			for _, op := range old.Spec.Ports {
				if op.Port == p.Port && op.Protocol == p.Protocol && op.NodePort != 0 {
					p.NodePort = op.NodePort
					break
				}
			}
		}
	}
	if svc.Spec.HealthCheckNodePort == 0 && needsHealthCheckPort(svc) {
		svc.Spec.HealthCheckNodePort = old.Spec.HealthCheckNodePort
	}
}

func needsHealthCheckPort(svc *corev1.Service) bool {
	return svc.Spec.Type == corev1.ServiceTypeLoadBalancer && svc.Spec.ExternalTrafficPolicy == corev1.ServiceExternalTrafficPolicyLocal
}

// Labels a generated Job selector uses, as upstream's.
const (
	jobNameLabel             = "batch.kubernetes.io/job-name"
	legacyJobNameLabel       = "job-name"
	jobControllerUIDLabel    = "batch.kubernetes.io/controller-uid"
	legacyControllerUIDLabel = "controller-uid"
)

// generateJobSelector gives a Job the selector and pod labels upstream
// generates unless spec.manualSelector is true: its pods carry the job's
// name and uid, and the selector matches the uid.
func generateJobSelector(job *batchv1.Job) {
	if job.Spec.ManualSelector != nil && *job.Spec.ManualSelector {
		return
	}
	if job.Spec.Template.Labels == nil {
		job.Spec.Template.Labels = map[string]string{}
	}
	for k, v := range map[string]string{
		legacyJobNameLabel: job.Name, jobNameLabel: job.Name,
		legacyControllerUIDLabel: string(job.UID), jobControllerUIDLabel: string(job.UID),
	} {
		if _, ok := job.Spec.Template.Labels[k]; !ok {
			job.Spec.Template.Labels[k] = v
		}
	}
	if job.Spec.Selector == nil {
		job.Spec.Selector = &metav1.LabelSelector{}
	}
	if job.Spec.Selector.MatchLabels == nil {
		job.Spec.Selector.MatchLabels = map[string]string{}
	}
	if _, ok := job.Spec.Selector.MatchLabels[jobControllerUIDLabel]; !ok {
		job.Spec.Selector.MatchLabels[jobControllerUIDLabel] = string(job.UID)
	}
}

func (e *extensions) validate(res *resource, obj runtime.Object) field.ErrorList {
	if res.Validate != nil {
		return res.Validate(obj)
	}
	return nil
}

func (e *extensions) validateUpdate(res *resource, obj, old runtime.Object) field.ErrorList {
	if res.ValidateUpdate != nil {
		return res.ValidateUpdate(obj, old)
	}
	return nil
}

func (e *extensions) validateStatusUpdate(res *resource, obj, old runtime.Object) field.ErrorList {
	if res.ValidateStatusUpdate != nil {
		return res.ValidateStatusUpdate(obj, old)
	}
	return e.validateUpdate(res, obj, old)
}

// allocate claims what obj needs and releases what old held but obj does
// not (obj nil: a delete). Only Services hold anything today.
func (e *extensions) allocate(ctx context.Context, res *resource, obj, old runtime.Object, dryRun bool) (allocation, error) {
	if res.GVK.Kind != "Service" || res.GVK.Group != "" {
		return allocation{undo: func() {}}, nil
	}
	svc, _ := obj.(*corev1.Service)
	oldSvc, _ := old.(*corev1.Service)
	a, err := e.services.allocate(ctx, svc, oldSvc)
	if dryRun {
		a.take, a.release = nil, nil
	}
	return a, err
}

func nameOf(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetName()
}
