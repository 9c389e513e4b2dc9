package apiserver

import (
	"context"
	"net/http"

	corev1 "k8s.io/api/core/v1"
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
}

func newExtensions(s *Server) (*extensions, error) {
	e := &extensions{
		services: &serviceAllocator{s: s, cidr: s.cfg.ServiceCIDR, portBase: s.cfg.NodePortBase, portSize: s.cfg.NodePortSize},
		printers: printers.New(),
		clock:    s.cfg.Clock,
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
		if err := defaults.AdmitPodPriority(o); err != nil {
			return apierrors.NewForbidden(res.GroupResource(), o.Name, err)
		}
		defaults.PodStatusOnCreate(o, metav1.NewTime(e.clock.Now().Truncate(1e9)))
	case *corev1.Namespace:
		defaults.NamespaceOnCreate(o)
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

func nameOf(obj runtime.Object) string {
	m, err := meta.Accessor(obj)
	if err != nil {
		return ""
	}
	return m.GetName()
}
