package apiserver

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

func notFoundPath() error {
	return &apierrors.StatusError{ErrStatus: metav1.Status{
		Status: metav1.StatusFailure, Code: http.StatusNotFound, Reason: metav1.StatusReasonNotFound,
		Message: "the server could not find the requested resource", Details: &metav1.StatusDetails{},
	}}
}

// serveAPI answers everything under /api and /apis.
func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	info, _ := r.Context().Value(infoKey).(*requestInfo)
	if info == nil {
		i := parseRequestInfo(r)
		info = &i
	}
	if s.serveDiscovery(w, r, info) {
		return
	}
	res := s.resources.lookup(info.APIGroup, info.APIVersion, info.Resource)
	if res != nil && res.GVK.Group == metricsGroup {
		if err := s.serveMetrics(w, r, res, info); err != nil {
			writeError(w, err)
		}
		return
	}
	// Only proxy subresources take a path after the subresource.
	if res == nil || (len(info.Parts) > 3 && info.Subresource != "proxy") || (!res.Namespaced && info.Namespace != "" && res.Plural != "namespaces") {
		writeError(w, notFoundPath())
		return
	}
	if res.Plural == "namespaces" {
		// A namespace's own name sits where other paths put a namespace.
		info.Namespace = ""
	}
	if err := s.serveResource(w, r, res, info); err != nil {
		writeError(w, err)
	}
}

func (s *Server) serveResource(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	if res.Namespaced && info.Namespace == "" && info.Verb != "list" && info.Verb != "watch" {
		return notFoundPath()
	}
	if info.Subresource != "" {
		return s.serveSubresource(w, r, res, info)
	}
	if !slices.Contains(res.verbs(), info.Verb) || (info.Name == "" && (info.Verb == "update" || info.Verb == "patch")) {
		// Upstream has no route for it: go-restful's 405.
		return apierrors.NewGenericServerResponse(http.StatusMethodNotAllowed, "", schema.GroupResource{}, "", "", 0, false)
	}
	switch info.Verb {
	case "get":
		return s.serveGet(w, r, res, info)
	case "list":
		return s.serveList(w, r, res, info)
	case "watch":
		return s.serveWatch(w, r, res, info)
	case "create":
		if info.Name != "" {
			return methodNotSupported(res, "create")
		}
		return s.serveCreate(w, r, res, info)
	case "update":
		return s.serveUpdate(w, r, res, info, "")
	case "patch":
		return s.servePatch(w, r, res, info, "")
	case "delete":
		return s.serveDelete(w, r, res, info)
	case "deletecollection":
		return s.serveDeleteCollection(w, r, res, info)
	}
	return methodNotSupported(res, r.Method)
}

func (s *Server) serveSubresource(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	var sub *subresource
	for _, sr := range res.subresources() {
		if sr.Name == info.Subresource {
			sub = &sr
			break
		}
	}
	if sub == nil {
		return notFoundPath()
	}
	switch sub.Name {
	case "status":
		switch info.Verb {
		case "get":
			return s.serveGet(w, r, res, info)
		case "update":
			return s.serveUpdate(w, r, res, info, "status")
		case "patch":
			return s.servePatch(w, r, res, info, "status")
		}
	case "scale":
		return s.serveScale(w, r, res, info)
	case "binding":
		if info.Verb == "create" {
			return s.serveBinding(w, r, res, info)
		}
	case "eviction":
		if info.Verb == "create" {
			return s.serveEviction(w, r, res, info)
		}
	case "finalize":
		if info.Verb == "update" {
			return s.serveUpdate(w, r, res, info, "finalize")
		}
	case "log":
		return s.servePodLog(w, r, info)
	case "exec", "attach", "portforward":
		return s.servePodStream(w, r, info)
	case "proxy":
		switch res.Plural {
		case "nodes":
			return s.serveNodeProxy(w, r, info)
		case "services":
			return s.serveServiceProxy(w, r, info)
		}
		return s.servePodProxy(w, r, info)
	}
	return methodNotSupported(res, r.Method)
}

// writeObject writes one object in the negotiated form.
func (s *Server) writeObject(w http.ResponseWriter, r *http.Request, res *resource, code int, obj runtime.Object) error {
	out, err := negotiate(r)
	if err != nil {
		return err
	}
	switch {
	case out.table:
		t, err := s.toTable(r, res, []runtime.Object{obj}, nil)
		if err != nil {
			return err
		}
		writeJSON(w, code, t)
		return nil
	case out.partial:
		writeJSON(w, code, partialMetadata(obj))
		return nil
	}
	setTypeMeta(obj, res.GVK)
	return s.writeTyped(w, code, out, obj)
}

// writeTyped writes an object whose TypeMeta is set as JSON, YAML or
// protobuf.
func (s *Server) writeTyped(w http.ResponseWriter, code int, out output, obj runtime.Object) error {
	if out.proto {
		data, err := s.wire.encode(obj)
		if err != nil {
			return err
		}
		writeRaw(w, code, protobufType, data)
		return nil
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	writeEncoded(w, code, out, data)
	return nil
}

func partialMetadata(obj runtime.Object) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadata", APIVersion: "meta.k8s.io/v1"}, ObjectMeta: *objectMeta(obj)}
}

func (s *Server) serveGet(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	obj, _, err := s.getObject(r.Context(), res, info.Namespace, info.Name)
	if err != nil {
		return err
	}
	return s.writeObject(w, r, res, http.StatusOK, obj)
}

func parseWriteOptions(r *http.Request, sub string) (writeOptions, error) {
	o := writeOptions{subresource: sub}
	for _, d := range r.URL.Query()["dryRun"] {
		if d != "All" {
			return o, badRequestf("Invalid dry run value: %q (supported values: \"All\")", d)
		}
		o.dryRun = true
	}
	fv, err := parseFieldValidation(r)
	o.validation = fv
	return o, err
}

// setWarnings sends upstream's Warning headers.
func setWarnings(w http.ResponseWriter, warnings []string) {
	for _, msg := range warnings {
		w.Header().Add("Warning", `299 - `+strconv.Quote(msg))
	}
}

func (s *Server) serveCreate(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	opts, err := parseWriteOptions(r, "")
	if err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	obj, warnings, err := s.wire.decodeObject(res, b, opts.validation)
	if err != nil {
		return err
	}
	m, _ := meta.Accessor(obj)
	if res.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(info.Namespace)
		} else if m.GetNamespace() != info.Namespace {
			return badRequestf("the namespace of the provided object does not match the namespace sent on the request")
		}
	} else {
		m.SetNamespace("")
	}
	if m.GetName() == "" && m.GetGenerateName() == "" {
		return invalid(res, "", requiredName())
	}
	created, err := s.createObject(r.Context(), res, obj, opts)
	if err != nil {
		return err
	}
	setWarnings(w, warnings)
	return s.writeObject(w, r, res, http.StatusCreated, created)
}

func (s *Server) serveUpdate(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo, sub string) error {
	opts, err := parseWriteOptions(r, sub)
	if err != nil {
		return err
	}
	b, err := readBody(r)
	if err != nil {
		return err
	}
	body, warnings, err := s.wire.decodeObject(res, b, opts.validation)
	if err != nil {
		return err
	}
	m, _ := meta.Accessor(body)
	if m.GetName() != info.Name {
		return badRequestf("the name of the object (%s) does not match the name on the URL (%s)", m.GetName(), info.Name)
	}
	if res.Namespaced {
		if m.GetNamespace() == "" {
			m.SetNamespace(info.Namespace)
		} else if m.GetNamespace() != info.Namespace {
			return badRequestf("the namespace of the provided object does not match the namespace sent on the request")
		}
	}
	ctx := r.Context()
	out, err := s.retryUpdate(ctx, res, info.Namespace, info.Name, opts, func(cur runtime.Object, _ int64) (runtime.Object, error) {
		next := body.DeepCopyObject()
		if sub == "finalize" {
			// Only spec.finalizers change through /finalize.
			finalized := cur.DeepCopyObject()
			copyFinalizers(finalized, next)
			return finalized, nil
		}
		return next, nil
	})
	if apierrors.IsNotFound(err) && res.AllowCreateOnUpdate && sub == "" {
		created, cerr := s.createObject(ctx, res, body.DeepCopyObject(), opts)
		if cerr != nil {
			return cerr
		}
		setWarnings(w, warnings)
		return s.writeObject(w, r, res, http.StatusCreated, created)
	}
	if err != nil {
		return err
	}
	setWarnings(w, warnings)
	return s.writeObject(w, r, res, http.StatusOK, out)
}

func (s *Server) serveList(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	out, err := negotiate(r)
	if err != nil {
		return err
	}
	q, err := parseListQuery(r, res)
	if err != nil {
		return err
	}
	page, err := s.listPage(r.Context(), res, info.Namespace, q, out.table || out.partial || out.proto || q.selective())
	if err != nil {
		return err
	}
	if out.table {
		t, err := s.toTable(r, res, page.objects, &page.meta)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, t)
		return nil
	}
	if out.partial {
		list := &metav1.PartialObjectMetadataList{TypeMeta: metav1.TypeMeta{Kind: "PartialObjectMetadataList", APIVersion: "meta.k8s.io/v1"}, ListMeta: page.meta}
		for _, o := range page.objects {
			list.Items = append(list.Items, *partialMetadata(o))
		}
		writeJSON(w, http.StatusOK, list)
		return nil
	}
	if out.proto {
		list := res.NewList()
		if err := meta.SetList(list, page.objects); err != nil {
			return err
		}
		lm, err := meta.ListAccessor(list)
		if err != nil {
			return err
		}
		lm.SetResourceVersion(page.meta.ResourceVersion)
		lm.SetContinue(page.meta.Continue)
		lm.SetRemainingItemCount(page.meta.RemainingItemCount)
		list.GetObjectKind().SetGroupVersionKind(res.GVK.GroupVersion().WithKind(res.ListKind()))
		return s.writeTyped(w, http.StatusOK, out, list)
	}
	data, err := page.encode(res)
	if err != nil {
		return err
	}
	writeEncoded(w, http.StatusOK, out, data)
	return nil
}

func (s *Server) serveDelete(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	opts, err := parseDeleteOptions(r, s.wire)
	if err != nil {
		return err
	}
	obj, deleted, err := s.deleteObject(r.Context(), res, info.Namespace, info.Name, opts)
	if err != nil {
		return err
	}
	code := http.StatusOK
	if !deleted && opts.keepDependents {
		code = http.StatusAccepted
	}
	if deleted && !res.ReturnDeleted {
		writeJSON(w, code, successStatus(&metav1.StatusDetails{
			Name: info.Name, Group: res.GVK.Group, Kind: res.Plural, UID: uidOf(obj)}))
		return nil
	}
	return s.writeObject(w, r, res, code, obj)
}

func (s *Server) serveDeleteCollection(w http.ResponseWriter, r *http.Request, res *resource, info *requestInfo) error {
	opts, err := parseDeleteOptions(r, s.wire)
	if err != nil {
		return err
	}
	q, err := parseListQuery(r, res)
	if err != nil {
		return err
	}
	q.limit, q.cont = 0, ""
	page, err := s.listPage(r.Context(), res, info.Namespace, q, true)
	if err != nil {
		return err
	}
	deleted := &listResult{meta: metav1.ListMeta{ResourceVersion: page.meta.ResourceVersion}}
	for _, o := range page.objects {
		m, _ := meta.Accessor(o)
		out, _, err := s.deleteObject(r.Context(), res, m.GetNamespace(), m.GetName(), opts)
		if err != nil && !apierrors.IsNotFound(err) {
			return err
		}
		if err == nil {
			deleted.objects = append(deleted.objects, out)
		}
	}
	data, err := deleted.encode(res)
	if err != nil {
		return err
	}
	writeRaw(w, http.StatusOK, "application/json", data)
	return nil
}

// contextWithTimeout bounds a request by its timeout parameter.
func contextWithTimeout(r *http.Request, def time.Duration) (context.Context, context.CancelFunc) {
	if t := r.URL.Query().Get("timeoutSeconds"); t != "" {
		if n, err := strconv.Atoi(t); err == nil && n > 0 {
			return context.WithTimeout(r.Context(), time.Duration(n)*time.Second)
		}
	}
	if t := r.URL.Query().Get("timeout"); t != "" {
		if d, err := time.ParseDuration(t); err == nil && d > 0 {
			return context.WithTimeout(r.Context(), d)
		}
	}
	return context.WithTimeout(r.Context(), def)
}
