package apiserver

import (
	"context"
	"net/http"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

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
}

func newExtensions(s *Server) (*extensions, error) {
	e := &extensions{
		services: &serviceAllocator{s: s, cidr: s.cfg.ServiceCIDR, portBase: s.cfg.NodePortBase, portSize: s.cfg.NodePortSize},
		printers: printers.New(),
	}
	attachValidation(s.resources.all)
	oa, err := newOpenAPI(s.resources.all, s.cfg.Version.GitVersion)
	if err != nil {
		return nil, err
	}
	e.openapi = oa
	return e, nil
}

func (e *extensions) defaultObject(obj runtime.Object) { defaults.Default(obj) }

// beforeCreate applies what upstream's create strategies and admission
// plugins set on new objects.
func (e *extensions) beforeCreate(ctx context.Context, res *resource, obj runtime.Object) error {
	switch o := obj.(type) {
	case *corev1.Pod:
		defaults.AdmitPodTolerations(o)
		defaults.AdmitPodPriority(o)
		o.Status = corev1.PodStatus{Phase: corev1.PodPending, QOSClass: qosClass(&o.Spec)}
	case *corev1.Namespace:
		o.Status.Phase = corev1.NamespaceActive
		if len(o.Spec.Finalizers) == 0 {
			o.Spec.Finalizers = []corev1.FinalizerName{corev1.FinalizerKubernetes}
		}
	}
	return nil
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

// qosClass is the pod's quality of service class, as upstream computes it.
func qosClass(spec *corev1.PodSpec) corev1.PodQOSClass {
	requests := map[corev1.ResourceName]bool{}
	limits := map[corev1.ResourceName]int{}
	guaranteed := true
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	any := false
	for _, c := range containers {
		for name, q := range c.Resources.Requests {
			if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && !q.IsZero() {
				requests[name] = true
				any = true
			}
		}
		seen := 0
		for name, q := range c.Resources.Limits {
			if (name == corev1.ResourceCPU || name == corev1.ResourceMemory) && !q.IsZero() {
				limits[name]++
				any = true
				seen++
				if r, ok := c.Resources.Requests[name]; ok && r.Cmp(q) != 0 {
					guaranteed = false
				}
			}
		}
		if seen < 2 {
			guaranteed = false
		}
	}
	if !any {
		return corev1.PodQOSBestEffort
	}
	if guaranteed && len(limits) == 2 {
		return corev1.PodQOSGuaranteed
	}
	return corev1.PodQOSBurstable
}

func nameOf(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetName()
}
