// Package printers renders Skiff's API objects as the rows of a
// meta.k8s.io/v1 Table, the form the API server answers with when a client
// (kubectl get) asks for "application/json;as=Table;v=v1;g=meta.k8s.io".
//
// Each resource has a Printer: its column definitions and a pure function
// from one object (and the instant AGE is measured to) to that object's cells.
// The columns, their types, formats, priorities and the text of every cell
// follow the Kubernetes API server's own printers, so that `kubectl get` and
// `kubectl get -o wide` print the same thing against Skiff as against
// Kubernetes. As upstream's server does, Cells always returns every column,
// the wide (Priority 1) ones included; kubectl hides those unless -o wide.
//
// Resources without a printer of their own get the default printer, the one
// upstream's generic registry uses: NAME and CREATED AT.
package printers

import (
	"fmt"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// Printer renders one resource's rows.
type Printer interface {
	// Columns are all columns, wide ones with Priority 1 (kubectl shows them
	// with -o wide). The returned slice is the caller's to keep or change.
	Columns() []metav1.TableColumnDefinition
	// Cells returns one row's cells for obj (a single object of this
	// resource, e.g. *corev1.Pod, or an unstructured object holding one), in
	// Columns() order, one cell per column. now is the time AGE and other
	// "how long ago" cells are measured to. Cells does not change obj. It
	// returns an error when obj is not an object of this resource.
	Cells(obj runtime.Object, now time.Time) ([]interface{}, error)
}

// Registry maps served resources to their printers. A Registry is immutable
// after New and safe for concurrent use.
type Registry struct {
	printers map[schema.GroupResource]Printer
	fallback Printer
}

// New returns the printers for all resources Skiff serves.
func New() *Registry {
	r := &Registry{
		printers: make(map[schema.GroupResource]Printer),
		fallback: defaultPrinter{},
	}
	add := func(group, resource string, p Printer) {
		r.printers[schema.GroupResource{Group: group, Resource: resource}] = p
	}

	// core
	add("", "pods", podPrinter())
	add("", "nodes", nodePrinter())
	add("", "namespaces", namespacePrinter())
	add("", "services", servicePrinter())
	add("", "endpoints", endpointsPrinter())
	add("", "configmaps", configMapPrinter())
	add("", "secrets", secretPrinter())
	add("", "serviceaccounts", serviceAccountPrinter())
	add("", "events", coreEventPrinter())
	add("", "resourcequotas", resourceQuotaPrinter())
	add("", "podtemplates", podTemplatePrinter())
	// Upstream serves limitranges with the generic registry's default
	// table convertor: NAME and CREATED AT.
	add("", "limitranges", defaultPrinter{})

	// apps
	add("apps", "deployments", deploymentPrinter())
	add("apps", "replicasets", replicaSetPrinter())
	add("apps", "daemonsets", daemonSetPrinter())
	add("apps", "statefulsets", statefulSetPrinter())
	add("apps", "controllerrevisions", controllerRevisionPrinter())

	// batch
	add("batch", "jobs", jobPrinter())
	add("batch", "cronjobs", cronJobPrinter())

	// others
	add("autoscaling", "horizontalpodautoscalers", hpaPrinter())
	add("networking.k8s.io", "networkpolicies", networkPolicyPrinter())
	add("scheduling.k8s.io", "priorityclasses", priorityClassPrinter())
	add("coordination.k8s.io", "leases", leasePrinter())
	add("discovery.k8s.io", "endpointslices", endpointSlicePrinter())
	add("events.k8s.io", "events", eventsV1EventPrinter())
	return r
}

// Lookup returns the printer for gr. For a resource with no printer of its
// own it returns the default printer: columns "Name" (name format) and
// "Created At" (date format), like upstream's default table convertor. It
// never returns nil.
func (r *Registry) Lookup(gr schema.GroupResource) Printer {
	if p, ok := r.printers[gr]; ok {
		return p
	}
	return r.fallback
}

// typed is the Printer of a resource whose objects are *T.
type typed[T any, PT interface {
	*T
	runtime.Object
}] struct {
	columns []metav1.TableColumnDefinition
	cells   func(obj PT, now time.Time) ([]interface{}, error)
}

// Columns implements Printer.
func (p typed[T, PT]) Columns() []metav1.TableColumnDefinition {
	return slices.Clone(p.columns)
}

// Cells implements Printer. obj must be a non-nil PT, or an unstructured
// object that converts to one.
func (p typed[T, PT]) Cells(obj runtime.Object, now time.Time) ([]interface{}, error) {
	o, err := as[T, PT](obj)
	if err != nil {
		return nil, err
	}
	return p.cells(o, now)
}

// as returns obj as a PT: obj itself when it is one, or a new PT decoded
// from obj's content when obj is unstructured.
func as[T any, PT interface {
	*T
	runtime.Object
}](obj runtime.Object) (PT, error) {
	switch o := obj.(type) {
	case PT:
		if o == nil {
			return nil, fmt.Errorf("printers: nil %T", o)
		}
		return o, nil
	case runtime.Unstructured:
		out := PT(new(T))
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.UnstructuredContent(), out); err != nil {
			return nil, fmt.Errorf("printers: decoding %T: %w", out, err)
		}
		return out, nil
	case nil:
		return nil, fmt.Errorf("printers: nil object, want %T", PT(nil))
	}
	return nil, fmt.Errorf("printers: got %T, want %T", obj, PT(nil))
}

// defaultPrinter is upstream's default table convertor: the object's name
// and its creation time as an RFC 3339 UTC date.
type defaultPrinter struct{}

// Columns implements Printer.
func (defaultPrinter) Columns() []metav1.TableColumnDefinition {
	doc := metav1.ObjectMeta{}.SwaggerDoc()
	return []metav1.TableColumnDefinition{
		{Name: "Name", Type: "string", Format: "name", Description: doc["name"]},
		{Name: "Created At", Type: "date", Description: doc["creationTimestamp"]},
	}
}

// Cells implements Printer. obj may be any object with object metadata; now
// is not used. A zero creation time prints as 0001-01-01T00:00:00Z, as
// upstream's does.
func (defaultPrinter) Cells(obj runtime.Object, _ time.Time) ([]interface{}, error) {
	if obj == nil {
		return nil, fmt.Errorf("printers: nil object")
	}
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, fmt.Errorf("printers: %T has no object metadata: %w", obj, err)
	}
	return []interface{}{m.GetName(), m.GetCreationTimestamp().Time.UTC().Format(time.RFC3339)}, nil
}
