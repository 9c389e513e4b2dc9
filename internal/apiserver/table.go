package apiserver

import (
	"net/http"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/skiff-sh/skiff/internal/openapi"
)

// toTable renders objects as a meta.k8s.io/v1 Table with the resource's
// printer. Rows carry the object as includeObject asks: None, Metadata
// (the default: PartialObjectMetadata) or Object.
func (s *Server) toTable(r *http.Request, res *resource, objs []runtime.Object, list *metav1.ListMeta) (*metav1.Table, error) {
	p := s.ext.printers.Lookup(res.GroupResource())
	t := &metav1.Table{TypeMeta: metav1.TypeMeta{Kind: "Table", APIVersion: "meta.k8s.io/v1"}, ColumnDefinitions: p.Columns(), Rows: []metav1.TableRow{}}
	if list != nil {
		t.ListMeta = *list
	} else if len(objs) == 1 {
		t.ResourceVersion = resourceVersionOf(objs[0])
	}
	include := metav1.IncludeMetadata
	if v := r.URL.Query().Get("includeObject"); v != "" {
		include = metav1.IncludeObjectPolicy(v)
	}
	now := s.cfg.Clock.Now()
	for _, obj := range objs {
		cells, err := p.Cells(obj, now)
		if err != nil {
			return nil, err
		}
		row := metav1.TableRow{Cells: cells}
		switch include {
		case metav1.IncludeObject:
			setTypeMeta(obj, res.GVK)
			row.Object.Object = obj
		case metav1.IncludeMetadata:
			row.Object.Object = partialMetadata(obj)
		}
		t.Rows = append(t.Rows, row)
	}
	return t, nil
}

// newOpenAPI builds the /openapi/v2 and /openapi/v3 documents.
func newOpenAPI(rs []*resource, version string) (http.Handler, error) {
	var resources []openapi.Resource
	for _, r := range rs {
		var subs []string
		for _, sub := range r.subresources() {
			subs = append(subs, sub.Name)
		}
		resources = append(resources, openapi.Resource{
			GVK: r.GVK, Plural: r.Plural, Namespaced: r.Namespaced, Verbs: r.verbs(),
			Subresources: subs, Object: r.New(), List: r.NewList(),
		})
	}
	return openapi.New(openapi.Config{Resources: resources, Version: version})
}
