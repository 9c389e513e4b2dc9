package apiserver

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/skiff-sh/skiff/internal/storage"
)

// listQuery is a list or watch request's selection.
type listQuery struct {
	labels  labels.Selector
	fields  fields.Selector
	limit   int64
	cont    string
	rv      string
	rvMatch string
}

func (q listQuery) selective() bool { return !q.labels.Empty() || !q.fields.Empty() }

func parseListQuery(r *http.Request, res *resource) (listQuery, error) {
	v := r.URL.Query()
	q := listQuery{labels: labels.Everything(), fields: fields.Everything(), cont: v.Get("continue"),
		rv: v.Get("resourceVersion"), rvMatch: v.Get("resourceVersionMatch")}
	if s := v.Get("labelSelector"); s != "" {
		sel, err := labels.Parse(s)
		if err != nil {
			return q, badRequestf("unable to parse requirement: %v", err)
		}
		q.labels = sel
	}
	if s := v.Get("fieldSelector"); s != "" {
		sel, err := fields.ParseSelector(s)
		if err != nil {
			return q, badRequestf("%v", err)
		}
		for _, req := range sel.Requirements() {
			if !res.selectableField(req.Field) {
				if len(selectableFields(res)) == 0 {
					// Kinds without field label conversions get upstream's default.
					return q, badRequestf("%q is not a known field selector: only %q, %q", req.Field, "metadata.name", "metadata.namespace")
				}
				return q, badRequestf("field label not supported: %s", req.Field)
			}
		}
		q.fields = sel
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return q, badRequestf("invalid limit %q", s)
		}
		q.limit = n
	}
	if errs := validateListOptions(q, v.Has("sendInitialEvents"), v.Get("watch") == "true" || v.Get("watch") == "1"); len(errs) > 0 {
		return q, invalidList(errs...)
	}
	if q.cont != "" && q.rv != "" && q.rv != "0" {
		return q, badRequestf("specifying resource version is not allowed when using continue")
	}
	if q.rv != "" {
		if _, err := strconv.ParseUint(q.rv, 10, 64); err != nil {
			return q, badRequestf("invalid resource version %q: %v", q.rv, err)
		}
	}
	return q, nil
}

// validateListOptions is upstream's ListOptions validation, which differs
// for lists and watches. A watch-list (sendInitialEvents with NotOlderThan)
// may leave the resourceVersion out: client-go's informers start that way.
func validateListOptions(q listQuery, sendInitialEvents, watching bool) field.ErrorList {
	var errs field.ErrorList
	match := field.NewPath("resourceVersionMatch")
	exact, notOlder := string(metav1.ResourceVersionMatchExact), string(metav1.ResourceVersionMatchNotOlderThan)
	if !watching {
		if q.rvMatch != "" {
			if q.rv == "" {
				errs = append(errs, field.Forbidden(match, "resourceVersionMatch is forbidden unless resourceVersion is provided"))
			}
			if q.cont != "" {
				errs = append(errs, field.Forbidden(match, "resourceVersionMatch is forbidden when continue is provided"))
			}
			if q.rvMatch != exact && q.rvMatch != notOlder {
				errs = append(errs, field.NotSupported(match, q.rvMatch, []string{exact, notOlder, ""}))
			}
			if q.rvMatch == exact && q.rv == "0" {
				errs = append(errs, field.Forbidden(match, `resourceVersionMatch "exact" is forbidden for resourceVersion "0"`))
			}
		}
		if sendInitialEvents {
			errs = append(errs, field.Forbidden(field.NewPath("sendInitialEvents"), "sendInitialEvents is forbidden for list"))
		}
		return errs
	}
	if sendInitialEvents && q.rvMatch != notOlder {
		errs = append(errs, field.Forbidden(match, "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan"))
	}
	if q.rvMatch != "" {
		if !sendInitialEvents {
			errs = append(errs, field.Forbidden(match, "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided"))
		}
		if q.rvMatch != notOlder {
			errs = append(errs, field.NotSupported(match, q.rvMatch, []string{notOlder}))
		}
		if q.limit > 0 {
			errs = append(errs, field.Forbidden(field.NewPath("limit"), "resourceVersionMatch is forbidden for watch"))
		}
	}
	return errs
}

func invalidList(errs ...*field.Error) error {
	return apierrors.NewInvalid(metav1.SchemeGroupVersion.WithKind("ListOptions").GroupKind(), "", errs)
}

// selectableField says whether a field selector may name f.
func (r *resource) selectableField(f string) bool {
	if f == "metadata.name" || f == "metadata.namespace" {
		return true
	}
	_, ok := selectableFields(r)[f]
	return ok
}

// objectFields is the field set field selectors match against.
func (r *resource) objectFields(obj runtime.Object) fields.Set {
	m, _ := meta.Accessor(obj)
	set := fields.Set{"metadata.name": m.GetName()}
	if r.Namespaced {
		set["metadata.namespace"] = m.GetNamespace()
	}
	for k, v := range fieldValues(r, obj) {
		set[k] = v
	}
	return set
}

func (r *resource) matches(q listQuery, obj runtime.Object) bool {
	if !q.labels.Empty() {
		m, _ := meta.Accessor(obj)
		if !q.labels.Matches(labels.Set(m.GetLabels())) {
			return false
		}
	}
	return q.fields.Empty() || q.fields.Matches(r.objectFields(obj))
}

// continueToken is upstream's continue format.
type continueToken struct {
	APIVersion      string `json:"v"`
	ResourceVersion int64  `json:"rv"`
	StartKey        string `json:"start"`
}

func encodeContinue(rev int64, next string) string {
	data, _ := json.Marshal(continueToken{APIVersion: "meta.k8s.io/v1", ResourceVersion: rev, StartKey: next})
	return base64.RawURLEncoding.EncodeToString(data)
}

func decodeContinue(s string) (continueToken, error) {
	var t continueToken
	data, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return t, badRequestf("continue key is not valid: %v", err)
	}
	if err := json.Unmarshal(data, &t); err != nil || t.APIVersion != "meta.k8s.io/v1" || t.ResourceVersion <= 0 ||
		strings.Contains(t.StartKey, "..") || strings.HasPrefix(t.StartKey, "/") {
		return t, badRequestf("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
	}
	return t, nil
}

// listResult is one page of a list: decoded objects when the caller needs
// them, else stored bytes with their revisions stamped.
type listResult struct {
	meta    metav1.ListMeta
	objects []runtime.Object
	raw     [][]byte
}

// listPage reads one page (all when q.limit is 0) at one revision.
func (s *Server) listPage(ctx context.Context, res *resource, namespace string, q listQuery, decode bool) (*listResult, error) {
	prefix := res.storagePrefix()
	if res.Namespaced && namespace != "" {
		prefix += namespace + "/"
	}
	var rev int64
	start := ""
	if q.cont != "" {
		t, err := decodeContinue(q.cont)
		if err != nil {
			return nil, err
		}
		rev, start = t.ResourceVersion, prefix+t.StartKey
	} else if q.rvMatch == string(metav1.ResourceVersionMatchExact) {
		rev, _ = strconv.ParseInt(q.rv, 10, 64)
	}
	filter := q.selective()
	decode = decode || filter || res.View != nil
	out := &listResult{}
	chunk := q.limit
	for {
		st := s.cfg.Clock.Now()
		page, err := s.store.List(ctx, storage.ListOptions{Prefix: prefix, StartKey: start, Revision: rev, Limit: chunk})
		s.metrics.observeEtcd("list", res.Plural, s.cfg.Clock.Since(st))
		if err != nil {
			if errors.Is(err, storage.ErrCompacted) {
				if q.cont != "" {
					return nil, apierrors.NewResourceExpired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.")
				}
				return nil, apierrors.NewResourceExpired("The resourceVersion for the provided list is too old.")
			}
			return nil, err
		}
		rev = page.Revision
		for i, item := range page.Items {
			n := int64(len(out.objects) + len(out.raw))
			if q.limit > 0 && n >= q.limit {
				// Full: the rest of this batch and beyond come later.
				out.meta.Continue = encodeContinue(rev, strings.TrimPrefix(page.Items[i-1].Key, prefix)+"\x00")
				if !filter {
					c := page.Remaining + int64(len(page.Items)-i)
					out.meta.RemainingItemCount = &c
				}
				out.meta.ResourceVersion = strconv.FormatInt(rev, 10)
				return out, nil
			}
			if !decode {
				out.raw = append(out.raw, withResourceVersion(item.Value, item.Revision))
				continue
			}
			obj, err := decodeStored(res, item.Value, item.Revision)
			if err != nil {
				return nil, err
			}
			if res.matches(q, obj) {
				out.objects = append(out.objects, obj)
			}
		}
		if !page.More {
			break
		}
		last := page.Items[len(page.Items)-1].Key
		n := int64(len(out.objects) + len(out.raw))
		if q.limit > 0 && n >= q.limit {
			out.meta.Continue = encodeContinue(rev, strings.TrimPrefix(last, prefix)+"\x00")
			if !filter {
				c := page.Remaining
				out.meta.RemainingItemCount = &c
			}
			break
		}
		start = last + "\x00"
	}
	out.meta.ResourceVersion = strconv.FormatInt(rev, 10)
	return out, nil
}

// encode writes the page as the resource's List kind.
func (l *listResult) encode(res *resource) ([]byte, error) {
	var b bytes.Buffer
	head := struct {
		Kind       string          `json:"kind"`
		APIVersion string          `json:"apiVersion"`
		Metadata   metav1.ListMeta `json:"metadata"`
	}{res.ListKind(), res.GVK.GroupVersion().String(), l.meta}
	h, err := json.Marshal(head)
	if err != nil {
		return nil, err
	}
	b.Write(h[:len(h)-1])
	b.WriteString(`,"items":[`)
	for i, raw := range l.raw {
		if i > 0 {
			b.WriteByte(',')
		}
		b.Write(withoutTypeMeta(raw))
	}
	for i, obj := range l.objects {
		if i > 0 || len(l.raw) > 0 {
			b.WriteByte(',')
		}
		data, err := json.Marshal(obj)
		if err != nil {
			return nil, err
		}
		b.Write(withoutTypeMeta(data))
	}
	b.WriteString("]}")
	return b.Bytes(), nil
}
