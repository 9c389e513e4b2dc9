package openapi

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
)

// Media types offered by the REST endpoints described in the documents.
var (
	objectMediaTypes = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf"}
	listMediaTypes   = []string{"application/json", "application/yaml", "application/vnd.kubernetes.protobuf",
		"application/json;stream=watch", "application/vnd.kubernetes.protobuf;stream=watch"}
	patchMediaTypes = []string{"application/json-patch+json", "application/merge-patch+json",
		"application/strategic-merge-patch+json", "application/apply-patch+yaml", "application/apply-patch+cbor"}
	anyMediaType = []string{"*/*"}
)

var (
	statusType    = reflect.TypeFor[metav1.Status]()
	deleteOptType = reflect.TypeFor[metav1.DeleteOptions]()
	patchType     = reflect.TypeFor[metav1.Patch]()
	watchEvType   = reflect.TypeFor[metav1.WatchEvent]()
)

// groupVersionKey is the OpenAPI v3 discovery key of gv: "api/v1" for the
// core group, "apis/<group>/<version>" otherwise.
func groupVersionKey(gv k8sschema.GroupVersion) string {
	if gv.Group == "" {
		return "api/" + gv.Version
	}
	return "apis/" + gv.Group + "/" + gv.Version
}

// upperFirst upper-cases the first byte of an ASCII identifier.
func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// groupIdentifier derives the camel-case group name used in operation IDs
// and tags as upstream does: the ".k8s.io" suffix is dropped and the dotted
// parts are joined ("rbac.authorization.k8s.io" -> "rbacAuthorization",
// "" -> "core").
func groupIdentifier(group string) string {
	if group == "" {
		return "core"
	}
	group = strings.TrimSuffix(group, ".k8s.io")
	parts := strings.FieldsFunc(group, func(r rune) bool { return r == '.' || r == '-' })
	for i := 1; i < len(parts); i++ {
		parts[i] = upperFirst(parts[i])
	}
	return strings.Join(parts, "")
}

// gvkOf converts a GroupVersionKind to its extension value form.
func gvkOf(g k8sschema.GroupVersionKind) *gvkValue {
	return &gvkValue{Group: g.Group, Version: g.Version, Kind: g.Kind}
}

// Parameter constructors. Each returns a fresh value.
func pathParam(name, desc string) param {
	return param{Name: name, In: "path", Description: desc, Required: true, Type: "string", UniqueItems: true}
}

func queryParam(name, typ, desc string) param {
	return param{Name: name, In: "query", Description: desc, Type: typ, UniqueItems: true}
}

func bodyParam(s *schema) param {
	return param{Name: "body", In: "body", Required: true, Schema: s}
}

var paramDocs = map[string][2]string{
	"pretty":               {"string", "If 'true', the output is pretty printed."},
	"dryRun":               {"string", "When present, modifications are not persisted. The only valid value is All, which processes every dry-run stage."},
	"fieldManager":         {"string", "Name of the actor making the change; used to track field ownership. Must be at most 128 printable characters."},
	"fieldValidation":      {"string", "How the server handles unknown or duplicate fields in the request body: Ignore (drop them silently), Warn (drop them and return a warning per field) or Strict (reject the request). The server validates fields itself."},
	"force":                {"boolean", "Force an apply request to take ownership of conflicting fields. Must be unset for non-apply patches."},
	"gracePeriodSeconds":   {"integer", "Seconds to wait before the object is deleted; zero means immediately. Defaults to the type's own grace period when unset."},
	"orphanDependents":     {"boolean", "Deprecated: use propagationPolicy. Whether dependents should be orphaned."},
	"propagationPolicy":    {"string", "Whether and how garbage collection handles dependents: Orphan, Background or Foreground."},
	"allowWatchBookmarks":  {"boolean", "Request BOOKMARK watch events. Servers may ignore the request."},
	"continue":             {"string", "Continue token returned by a previous paginated list call."},
	"fieldSelector":        {"string", "Restrict the returned objects by their fields. Defaults to everything."},
	"labelSelector":        {"string", "Restrict the returned objects by their labels. Defaults to everything."},
	"limit":                {"integer", "Maximum number of items to return in one list response; use the continue token to fetch the rest."},
	"resourceVersion":      {"string", "Constrain which resource versions the request may be served from."},
	"resourceVersionMatch": {"string", "How resourceVersion is applied to list calls: Exact or NotOlderThan."},
	"sendInitialEvents":    {"boolean", "With watch=true, begin the watch with synthetic events for the current state of the collection."},
	"timeoutSeconds":       {"integer", "Timeout for the list or watch call, regardless of activity."},
	"watch":                {"boolean", "Watch for changes to the described resources and return them as a stream of add, update and remove notifications."},
	"ignoreStoreReadErrorWithClusterBreakingPotential": {"boolean", "Unsafely delete corrupt objects that cannot be decoded. Requires the corresponding permission."},
	"container":                    {"string", "The container to use. Defaults to the only container if there is one."},
	"follow":                       {"boolean", "Follow the log stream of the pod."},
	"previous":                     {"boolean", "Return the logs of the previous terminated container instance."},
	"sinceSeconds":                 {"integer", "Relative time in seconds before now from which to show logs."},
	"tailLines":                    {"integer", "Number of lines from the end of the logs to show."},
	"timestamps":                   {"boolean", "Prefix each log line with an RFC 3339 timestamp."},
	"limitBytes":                   {"integer", "Maximum number of bytes of log output to return."},
	"insecureSkipTLSVerifyBackend": {"boolean", "Skip verifying the serving certificate of the backend when fetching logs."},
	"stream":                       {"string", "Which container log stream to return: All, Stdout or Stderr."},
	"command":                      {"string", "Command to execute; repeat the parameter for each argument."},
	"stdin":                        {"boolean", "Redirect the standard input stream of the container."},
	"stdout":                       {"boolean", "Redirect the standard output stream of the container."},
	"stderr":                       {"boolean", "Redirect the standard error stream of the container."},
	"tty":                          {"boolean", "Allocate a terminal for the session."},
	"ports":                        {"integer", "Ports to forward."},
	"path":                         {"string", "Path appended to the proxied URL."},
}

// queryParams returns the named query parameters, documented from paramDocs.
func queryParams(names ...string) []param {
	out := make([]param, 0, len(names))
	for _, n := range names {
		d := paramDocs[n]
		out = append(out, queryParam(n, d[0], d[1]))
	}
	return out
}

// pathBuilder accumulates path items for the configured resources.
type pathBuilder struct {
	r     *reflector
	paths map[string]*pathItem
}

func (b *pathBuilder) refTo(t reflect.Type) (*schema, error) {
	n, err := b.r.ref(t)
	if err != nil {
		return nil, err
	}
	return &schema{Ref: n}, nil
}

// add appends op to the path item at path, creating it with the given
// shared parameters if needed.
func (b *pathBuilder) add(gv, path string, shared []param, op operation) {
	pi, ok := b.paths[path]
	if !ok {
		pi = &pathItem{Path: path, Params: shared, GroupVersion: gv}
		b.paths[path] = pi
	}
	pi.Ops = append(pi.Ops, op)
}

// items returns the accumulated path items sorted by path, with operations
// in get, put, post, delete, patch order.
func (b *pathBuilder) items() []pathItem {
	rank := map[string]int{"get": 0, "put": 1, "post": 2, "delete": 3, "options": 4, "head": 5, "patch": 6}
	out := make([]pathItem, 0, len(b.paths))
	for _, pi := range b.paths {
		sort.SliceStable(pi.Ops, func(i, j int) bool { return rank[pi.Ops[i].Method] < rank[pi.Ops[j].Method] })
		out = append(out, *pi)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// resourceNames bundles the derived names of one resource.
type resourceNames struct {
	gvKey      string // "api/v1"
	prefix     string // "/api/v1"
	idGroupVer string // "CoreV1"
	tag        string // "core_v1"
	kind       string
	nsWord     string // "Namespaced" or ""
	collection string // collection path
	item       string // item path
	shared     []param
	itemShared []param
}

func namesFor(res Resource) resourceNames {
	gv := res.GVK.GroupVersion()
	gid := groupIdentifier(gv.Group)
	n := resourceNames{
		gvKey:      groupVersionKey(gv),
		idGroupVer: upperFirst(gid) + upperFirst(gv.Version),
		tag:        gid + "_" + gv.Version,
		kind:       res.GVK.Kind,
	}
	n.prefix = "/" + n.gvKey
	pretty := queryParams("pretty")
	nameP := pathParam("name", "name of the "+res.GVK.Kind)
	if res.Namespaced {
		n.nsWord = "Namespaced"
		nsP := pathParam("namespace", "object name and auth scope, such as for teams and projects")
		n.collection = n.prefix + "/namespaces/{namespace}/" + res.Plural
		n.shared = append([]param{nsP}, pretty...)
		n.itemShared = append([]param{nameP, nsP}, pretty...)
	} else {
		n.collection = n.prefix + "/" + res.Plural
		n.shared = pretty
		n.itemShared = append([]param{nameP}, pretty...)
	}
	n.item = n.collection + "/{name}"
	return n
}

func hasVerb(res Resource, v string) bool {
	for _, x := range res.Verbs {
		if x == v {
			return true
		}
	}
	return false
}

var unauthorized = response{Code: "401", Description: "Unauthorized"}

// addResource adds every path and operation implied by res's verbs and
// subresources.
func (b *pathBuilder) addResource(res Resource) error {
	objT := reflect.TypeOf(res.Object)
	listT := reflect.TypeOf(res.List)
	for objT != nil && objT.Kind() == reflect.Pointer {
		objT = objT.Elem()
	}
	for listT != nil && listT.Kind() == reflect.Pointer {
		listT = listT.Elem()
	}
	if objT == nil || objT.Kind() != reflect.Struct {
		return fmt.Errorf("openapi: resource %s: Object must be a pointer to a struct", res.GVK)
	}
	if res.Plural == "" || res.GVK.Kind == "" || res.GVK.Version == "" {
		return fmt.Errorf("openapi: resource %v: GVK version, kind and Plural are required", res.GVK)
	}
	if err := b.r.addGVK(objT, *gvkOf(res.GVK)); err != nil {
		return err
	}
	obj, err := b.refTo(objT)
	if err != nil {
		return err
	}
	var list *schema
	if listT != nil && listT.Kind() == reflect.Struct {
		lgvk := res.GVK
		lgvk.Kind = listT.Name()
		if err := b.r.addGVK(listT, *gvkOf(lgvk)); err != nil {
			return err
		}
		if list, err = b.refTo(listT); err != nil {
			return err
		}
	}
	status, err := b.refTo(statusType)
	if err != nil {
		return err
	}
	delOpts, err := b.refTo(deleteOptType)
	if err != nil {
		return err
	}
	patchBody, err := b.refTo(patchType)
	if err != nil {
		return err
	}
	watchEv, err := b.refTo(watchEvType)
	if err != nil {
		return err
	}

	n := namesFor(res)
	gvk := gvkOf(res.GVK)
	kind := res.GVK.Kind
	id := func(verb, suffix string) string { return verb + n.idGroupVer + n.nsWord + kind + suffix }
	mk := func(method, opID, desc, action string, consumes, produces []string, params []param, resps ...response) operation {
		return operation{
			Method: method, ID: opID, Description: desc, Tags: []string{n.tag},
			Consumes: consumes, Produces: produces, Params: params,
			Responses: append(resps, unauthorized), Action: action, GVK: gvk,
		}
	}
	writeParams := func(body *schema, extra ...string) []param {
		return append([]param{bodyParam(body)}, queryParams(append([]string{"dryRun", "fieldManager", "fieldValidation"}, extra...)...)...)
	}
	listQuery := []string{"allowWatchBookmarks", "continue", "fieldSelector", "labelSelector", "limit",
		"resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds", "watch"}

	if hasVerb(res, "list") && list != nil {
		b.add(n.gvKey, n.collection, n.shared, mk("get", id("list", ""), "list or watch objects of kind "+kind, "list",
			nil, listMediaTypes, queryParams(listQuery...), response{"200", "OK", list}))
		if res.Namespaced {
			b.add(n.gvKey, n.prefix+"/"+res.Plural, queryParams("pretty"), mk("get", "list"+n.idGroupVer+kind+"ForAllNamespaces",
				"list or watch objects of kind "+kind, "list", nil, listMediaTypes, queryParams(listQuery...), response{"200", "OK", list}))
		}
	}
	if hasVerb(res, "create") {
		b.add(n.gvKey, n.collection, n.shared, mk("post", id("create", ""), "create a "+kind, "post",
			anyMediaType, objectMediaTypes, writeParams(obj),
			response{"200", "OK", obj}, response{"201", "Created", obj}, response{"202", "Accepted", obj}))
	}
	if hasVerb(res, "deletecollection") {
		o := mk("delete", "delete"+n.idGroupVer+"Collection"+n.nsWord+kind, "delete collection of "+kind, "deletecollection",
			anyMediaType, objectMediaTypes,
			append([]param{bodyParam(delOpts)}, queryParams("continue", "dryRun", "fieldSelector", "gracePeriodSeconds",
				"ignoreStoreReadErrorWithClusterBreakingPotential", "labelSelector", "limit", "orphanDependents",
				"propagationPolicy", "resourceVersion", "resourceVersionMatch", "sendInitialEvents", "timeoutSeconds")...),
			response{"200", "OK", status})
		o.Params[0].Required = false
		b.add(n.gvKey, n.collection, n.shared, o)
	}
	if hasVerb(res, "get") {
		b.add(n.gvKey, n.item, n.itemShared, mk("get", id("read", ""), "read the specified "+kind, "get",
			nil, objectMediaTypes, nil, response{"200", "OK", obj}))
	}
	if hasVerb(res, "update") {
		b.add(n.gvKey, n.item, n.itemShared, mk("put", id("replace", ""), "replace the specified "+kind, "put",
			anyMediaType, objectMediaTypes, writeParams(obj), response{"200", "OK", obj}, response{"201", "Created", obj}))
	}
	if hasVerb(res, "patch") {
		b.add(n.gvKey, n.item, n.itemShared, mk("patch", id("patch", ""), "partially update the specified "+kind, "patch",
			patchMediaTypes, objectMediaTypes, writeParams(patchBody, "force"),
			response{"200", "OK", obj}, response{"201", "Created", obj}))
	}
	if hasVerb(res, "delete") {
		o := mk("delete", id("delete", ""), "delete a "+kind, "delete", anyMediaType, objectMediaTypes,
			append([]param{bodyParam(delOpts)}, queryParams("dryRun", "gracePeriodSeconds",
				"ignoreStoreReadErrorWithClusterBreakingPotential", "orphanDependents", "propagationPolicy")...),
			response{"200", "OK", status}, response{"202", "Accepted", status})
		o.Params[0].Required = false
		b.add(n.gvKey, n.item, n.itemShared, o)
	}
	if hasVerb(res, "watch") {
		deprecated := ". deprecated: use the 'watch' parameter with a list operation instead"
		watchPrefix := n.prefix + "/watch"
		coll := strings.Replace(n.collection, n.prefix, watchPrefix, 1)
		wq := queryParams(listQuery...)
		o := mk("get", id("watch", ""), "watch changes to an object of kind "+kind+deprecated, "watch",
			nil, listMediaTypes, nil, response{"200", "OK", watchEv})
		o.Deprecated = true
		b.add(n.gvKey, coll+"/{name}", append(append([]param(nil), n.itemShared...), wq...), o)
		o = mk("get", id("watch", "List"), "watch individual changes to a list of "+kind+deprecated, "watchlist",
			nil, listMediaTypes, nil, response{"200", "OK", watchEv})
		o.Deprecated = true
		b.add(n.gvKey, coll, append(append([]param(nil), n.shared...), wq...), o)
		if res.Namespaced {
			o = mk("get", "watch"+n.idGroupVer+kind+"ListForAllNamespaces", "watch individual changes to a list of "+kind+deprecated,
				"watchlist", nil, listMediaTypes, nil, response{"200", "OK", watchEv})
			o.Deprecated = true
			b.add(n.gvKey, watchPrefix+"/"+res.Plural, append(queryParams("pretty"), wq...), o)
		}
	}
	for _, sub := range res.Subresources {
		if err := b.addSubresource(res, n, sub, obj, patchBody, mk, writeParams); err != nil {
			return err
		}
	}
	return nil
}

type opMaker func(method, opID, desc, action string, consumes, produces []string, params []param, resps ...response) operation

// addSubresource adds the operations of one subresource of res.
func (b *pathBuilder) addSubresource(res Resource, n resourceNames, sub string, obj, patchBody *schema,
	mk opMaker, writeParams func(*schema, ...string) []param) error {
	path := n.item + "/" + sub
	kind := res.GVK.Kind
	subID := upperFirst(sub)
	id := func(verb string) string { return verb + n.idGroupVer + n.nsWord + kind + subID }
	withGVK := func(o operation, g k8sschema.GroupVersionKind) operation { o.GVK = gvkOf(g); return o }
	// postOnly adds a create-style operation whose body is typed by t.
	postOnly := func(t reflect.Type, g k8sschema.GroupVersionKind, desc string) error {
		if err := b.r.addGVK(t, *gvkOf(g)); err != nil {
			return err
		}
		body, err := b.refTo(t)
		if err != nil {
			return err
		}
		b.add(n.gvKey, path, n.itemShared, withGVK(mk("post", id("create"), desc, "post", anyMediaType, objectMediaTypes,
			writeParams(body), response{"200", "OK", body}, response{"201", "Created", body}, response{"202", "Accepted", body}), g))
		return nil
	}
	// connect adds connect operations for the given methods.
	connect := func(optsKind string, q []string, methods ...string) {
		g := k8sschema.GroupVersionKind{Group: res.GVK.Group, Version: res.GVK.Version, Kind: optsKind}
		for _, m := range methods {
			o := mk(m, "connect"+n.idGroupVer+upperFirst(m)+n.nsWord+kind+subID, "connect "+strings.ToUpper(m)+" requests to "+sub+" of "+kind,
				"connect", anyMediaType, anyMediaType, queryParams(q...), response{"200", "OK", &schema{Type: "string"}})
			b.add(n.gvKey, path, n.itemShared, withGVK(o, g))
		}
	}
	switch sub {
	case "scale":
		g := k8sschema.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"}
		t := reflect.TypeFor[autoscalingv1.Scale]()
		if err := b.r.addGVK(t, *gvkOf(g)); err != nil {
			return err
		}
		scale, err := b.refTo(t)
		if err != nil {
			return err
		}
		b.add(n.gvKey, path, n.itemShared, withGVK(mk("get", id("read"), "read scale of the specified "+kind, "get",
			nil, objectMediaTypes, nil, response{"200", "OK", scale}), g))
		b.add(n.gvKey, path, n.itemShared, withGVK(mk("put", id("replace"), "replace scale of the specified "+kind, "put",
			anyMediaType, objectMediaTypes, writeParams(scale), response{"200", "OK", scale}, response{"201", "Created", scale}), g))
		b.add(n.gvKey, path, n.itemShared, withGVK(mk("patch", id("patch"), "partially update scale of the specified "+kind, "patch",
			patchMediaTypes, objectMediaTypes, writeParams(patchBody, "force"), response{"200", "OK", scale}, response{"201", "Created", scale}), g))
		return nil
	case "binding":
		return postOnly(reflect.TypeFor[corev1.Binding](), corev1.SchemeGroupVersion.WithKind("Binding"), "create binding of a "+kind)
	case "eviction":
		return postOnly(reflect.TypeFor[policyv1.Eviction](), policyv1.SchemeGroupVersion.WithKind("Eviction"), "create eviction of a "+kind)
	case "token":
		return postOnly(reflect.TypeFor[authenticationv1.TokenRequest](), authenticationv1.SchemeGroupVersion.WithKind("TokenRequest"), "create token of a "+kind)
	case "log":
		b.add(n.gvKey, path, n.itemShared, mk("get", id("read"), "read log of the specified "+kind, "get",
			nil, []string{"text/plain", "application/json", "application/yaml", "application/vnd.kubernetes.protobuf"},
			queryParams("container", "follow", "insecureSkipTLSVerifyBackend", "limitBytes", "previous", "sinceSeconds", "stream", "tailLines", "timestamps"),
			response{"200", "OK", &schema{Type: "string"}}))
		return nil
	case "exec":
		connect(kind+"ExecOptions", []string{"command", "container", "stderr", "stdin", "stdout", "tty"}, "get", "post")
		return nil
	case "attach":
		connect(kind+"AttachOptions", []string{"container", "stderr", "stdin", "stdout", "tty"}, "get", "post")
		return nil
	case "portforward":
		connect(kind+"PortForwardOptions", []string{"ports"}, "get", "post")
		return nil
	case "proxy":
		connect(kind+"ProxyOptions", []string{"path"}, "get", "put", "post", "delete", "patch")
		return nil
	default:
		// status and similar subresources share the parent's schema.
		b.add(n.gvKey, path, n.itemShared, mk("get", id("read"), "read "+sub+" of the specified "+kind, "get",
			nil, objectMediaTypes, nil, response{"200", "OK", obj}))
		b.add(n.gvKey, path, n.itemShared, mk("put", id("replace"), "replace "+sub+" of the specified "+kind, "put",
			anyMediaType, objectMediaTypes, writeParams(obj), response{"200", "OK", obj}, response{"201", "Created", obj}))
		b.add(n.gvKey, path, n.itemShared, mk("patch", id("patch"), "partially update "+sub+" of the specified "+kind, "patch",
			patchMediaTypes, objectMediaTypes, writeParams(patchBody, "force"), response{"200", "OK", obj}, response{"201", "Created", obj}))
		return nil
	}
}
