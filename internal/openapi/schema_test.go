package openapi

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// fixtureV2 returns the fixture's Swagger 2.0 document decoded as generic JSON.
func fixtureV2(t testing.TB) map[string]any {
	t.Helper()
	h := newFixtureHandler(t)
	var doc map[string]any
	if err := json.Unmarshal(h.v2JSON.body, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// fixtureV3 returns the fixture's OpenAPI v3 document for gvKey.
func fixtureV3(t testing.TB, gvKey string) map[string]any {
	t.Helper()
	h := newFixtureHandler(t)
	rep, ok := h.v3Docs[gvKey]
	if !ok {
		t.Fatalf("no v3 document %q", gvKey)
	}
	var doc map[string]any
	if err := json.Unmarshal(rep.body, &doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// dig walks nested maps by key.
func dig(t testing.TB, v any, keys ...string) any {
	t.Helper()
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("at %q: %T is not an object", k, v)
		}
		if v, ok = m[k]; !ok {
			t.Fatalf("key %q missing; have %v", k, sortedKeys(m))
		}
	}
	return v
}

func sortedKeys(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func jsonEqual(t testing.TB, got any, wantJSON string) {
	t.Helper()
	var want, norm any
	if err := json.Unmarshal([]byte(wantJSON), &want); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(mustJSON(got)), &norm); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(norm, want) {
		g, _ := json.Marshal(got)
		t.Errorf("got  %s\nwant %s", g, wantJSON)
	}
}

func TestPackageToDefinitionPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"k8s.io/api/core/v1":                   "io.k8s.api.core.v1",
		"k8s.io/apimachinery/pkg/apis/meta/v1": "io.k8s.apimachinery.pkg.apis.meta.v1",
		"github.com/skiff-sh/skiff/api/v1":     "com.github.skiff_sh.skiff.api.v1",
		"local/pkg":                            "local.pkg",
	} {
		if got := packageToDefinitionPrefix(in); got != want {
			t.Errorf("packageToDefinitionPrefix(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDefinitionNameFallsBackToPackagePath(t *testing.T) {
	type local struct{}
	got := definitionName(reflect.TypeFor[local]())
	if got != "com.github.skiff_sh.skiff.internal.openapi.local" {
		t.Errorf("got %q", got)
	}
	if got := definitionName(reflect.TypeFor[corev1.Pod]()); got != "io.k8s.api.core.v1.Pod" {
		t.Errorf("got %q", got)
	}
}

func TestGroupIdentifier(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "core",
		"apps":                         "apps",
		"rbac.authorization.k8s.io":    "rbacAuthorization",
		"flowcontrol.apiserver.k8s.io": "flowcontrolApiserver",
		"example.com":                  "exampleCom",
	} {
		if got := groupIdentifier(in); got != want {
			t.Errorf("groupIdentifier(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestPodSchema(t *testing.T) {
	doc := fixtureV2(t)
	defs := dig(t, doc, "definitions")
	pod := dig(t, defs, "io.k8s.api.core.v1.Pod")
	jsonEqual(t, dig(t, pod, "x-kubernetes-group-version-kind"), `[{"group":"","kind":"Pod","version":"v1"}]`)
	jsonEqual(t, dig(t, pod, "properties", "kind"), `{"type":"string","description":`+
		mustJSON(metav1.TypeMeta{}.SwaggerDoc()["kind"])+`}`)
	if d := dig(t, pod, "description").(string); !strings.HasPrefix(d, "Pod is a collection of containers") {
		t.Errorf("Pod description = %q", d)
	}
	jsonEqual(t, dig(t, pod, "properties", "metadata", "$ref"), `"#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"`)
	if _, ok := pod.(map[string]any)["required"]; ok {
		t.Errorf("Pod has required fields: %v", pod.(map[string]any)["required"])
	}

	containers := dig(t, defs, "io.k8s.api.core.v1.PodSpec", "properties", "containers")
	jsonEqual(t, dig(t, containers, "items"), `{"$ref":"#/definitions/io.k8s.api.core.v1.Container"}`)
	jsonEqual(t, dig(t, containers, "x-kubernetes-patch-strategy"), `"merge"`)
	jsonEqual(t, dig(t, containers, "x-kubernetes-patch-merge-key"), `"name"`)
	jsonEqual(t, dig(t, containers, "type"), `"array"`)
	required := dig(t, defs, "io.k8s.api.core.v1.PodSpec", "required")
	jsonEqual(t, required, `["containers"]`)

	container := dig(t, defs, "io.k8s.api.core.v1.Container")
	jsonEqual(t, dig(t, container, "required"), `["name"]`)
	if d := dig(t, container, "properties", "image", "description").(string); !strings.Contains(d, "Container image name") {
		t.Errorf("image description = %q", d)
	}
	// Probe inlines ProbeHandler: its fields appear directly, documented
	// from the embedded type.
	probe := dig(t, defs, "io.k8s.api.core.v1.Probe", "properties").(map[string]any)
	for _, f := range []string{"exec", "httpGet", "tcpSocket", "grpc", "initialDelaySeconds"} {
		if _, ok := probe[f]; !ok {
			t.Errorf("Probe lacks inlined field %q", f)
		}
	}
	jsonEqual(t, dig(t, probe, "initialDelaySeconds", "format"), `"int32"`)
	jsonEqual(t, dig(t, defs, "io.k8s.api.core.v1.PodSpec", "properties", "activeDeadlineSeconds", "format"), `"int64"`)

	// Maps and bytes.
	jsonEqual(t, dig(t, defs, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "properties", "labels", "additionalProperties"), `{"type":"string"}`)
	jsonEqual(t, dig(t, defs, "io.k8s.api.core.v1.Secret", "properties", "data", "additionalProperties"), `{"type":"string","format":"byte"}`)
	jsonEqual(t, dig(t, defs, "io.k8s.api.core.v1.ResourceRequirements", "properties", "limits", "additionalProperties"),
		`{"$ref":"#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}`)
	// TypeMeta and json:"-" fields never appear as properties.
	for name := range dig(t, pod, "properties").(map[string]any) {
		if name == "TypeMeta" || name == "ObjectMeta" {
			t.Errorf("embedded struct %s leaked as a property", name)
		}
	}
}

func TestDeploymentSchemaAndPaths(t *testing.T) {
	doc := fixtureV2(t)
	defs := dig(t, doc, "definitions")
	jsonEqual(t, dig(t, defs, "io.k8s.api.apps.v1.Deployment", "x-kubernetes-group-version-kind"), `[{"group":"apps","kind":"Deployment","version":"v1"}]`)
	jsonEqual(t, dig(t, defs, "io.k8s.api.apps.v1.DeploymentList", "x-kubernetes-group-version-kind"), `[{"group":"apps","kind":"DeploymentList","version":"v1"}]`)
	jsonEqual(t, dig(t, defs, "io.k8s.api.apps.v1.DeploymentList", "required"), `["items"]`)
	// The selector is a pointer without omitempty that upstream requires
	// (see requiredPointers).
	jsonEqual(t, dig(t, defs, "io.k8s.api.apps.v1.DeploymentSpec", "required"), `["selector","template"]`)
	if _, ok := dig(t, defs, "io.k8s.api.core.v1.GRPCAction").(map[string]any)["required"].([]any); !ok {
		t.Error("GRPCAction lost its required port")
	}
	jsonEqual(t, dig(t, defs, "io.k8s.api.core.v1.GRPCAction", "required"), `["port"]`)
	jsonEqual(t, dig(t, defs, "io.k8s.api.autoscaling.v1.Scale", "x-kubernetes-group-version-kind"), `[{"group":"autoscaling","kind":"Scale","version":"v1"}]`)

	paths := dig(t, doc, "paths")
	item := dig(t, paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}")
	patch := dig(t, item, "patch")
	jsonEqual(t, dig(t, patch, "operationId"), `"patchAppsV1NamespacedDeployment"`)
	jsonEqual(t, dig(t, patch, "x-kubernetes-action"), `"patch"`)
	jsonEqual(t, dig(t, patch, "x-kubernetes-group-version-kind"), `{"group":"apps","kind":"Deployment","version":"v1"}`)
	var names []string
	for _, p := range dig(t, patch, "parameters").([]any) {
		names = append(names, p.(map[string]any)["name"].(string))
	}
	jsonEqual(t, names, `["body","dryRun","fieldManager","fieldValidation","force"]`)
	if !strings.Contains(mustJSON(dig(t, patch, "consumes")), "application/strategic-merge-patch+json") {
		t.Error("patch does not consume strategic merge patches")
	}
	for _, p := range []string{
		"/apis/apps/v1/deployments",
		"/apis/apps/v1/namespaces/{namespace}/deployments",
		"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/status",
		"/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale",
		"/apis/apps/v1/watch/namespaces/{namespace}/deployments/{name}",
	} {
		dig(t, paths, p)
	}
	jsonEqual(t, dig(t, paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale", "put", "x-kubernetes-group-version-kind"),
		`{"group":"autoscaling","kind":"Scale","version":"v1"}`)
	jsonEqual(t, dig(t, paths, "/apis/apps/v1/namespaces/{namespace}/deployments", "post", "responses", "201", "schema"),
		`{"$ref":"#/definitions/io.k8s.api.apps.v1.Deployment"}`)
	jsonEqual(t, dig(t, paths, "/api/v1/namespaces/{namespace}/pods/{name}/eviction", "post", "x-kubernetes-group-version-kind"),
		`{"group":"policy","kind":"Eviction","version":"v1"}`)
	jsonEqual(t, dig(t, paths, "/api/v1/namespaces/{namespace}/pods", "delete", "x-kubernetes-action"), `"deletecollection"`)
	jsonEqual(t, dig(t, paths, "/api/v1/nodes/{name}", "get", "operationId"), `"readCoreV1Node"`)
}

func TestSpecialTypes(t *testing.T) {
	defs := dig(t, fixtureV2(t), "definitions")
	v3 := dig(t, fixtureV3(t, "apis/apps/v1"), "components", "schemas")

	jsonEqual(t, without(dig(t, defs, "io.k8s.apimachinery.pkg.util.intstr.IntOrString"), "description"),
		`{"type":"string","format":"int-or-string","x-kubernetes-int-or-string":true}`)
	jsonEqual(t, without(dig(t, v3, "io.k8s.apimachinery.pkg.util.intstr.IntOrString"), "description"),
		`{"oneOf":[{"type":"integer"},{"type":"string"}],"format":"int-or-string","x-kubernetes-int-or-string":true}`)

	jsonEqual(t, without(dig(t, defs, "io.k8s.apimachinery.pkg.api.resource.Quantity"), "description"), `{"type":"string"}`)
	jsonEqual(t, without(dig(t, v3, "io.k8s.apimachinery.pkg.api.resource.Quantity"), "description"),
		`{"oneOf":[{"type":"string"},{"type":"number"}]}`)

	jsonEqual(t, without(dig(t, defs, "io.k8s.apimachinery.pkg.apis.meta.v1.Time"), "description"), `{"type":"string","format":"date-time"}`)
	jsonEqual(t, without(dig(t, defs, "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime"), "description"), `{"type":"string","format":"date-time"}`)
	jsonEqual(t, without(dig(t, defs, "io.k8s.apimachinery.pkg.runtime.RawExtension"), "description"), `{"type":"object"}`)
	jsonEqual(t, without(dig(t, defs, "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"), "description"), `{"type":"object"}`)
	for _, n := range []string{"Time", "MicroTime", "FieldsV1"} {
		if d, _ := dig(t, defs, "io.k8s.apimachinery.pkg.apis.meta.v1."+n).(map[string]any)["description"].(string); d == "" {
			t.Errorf("%s has no description", n)
		}
	}
	jsonEqual(t, dig(t, defs, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta", "properties", "creationTimestamp", "$ref"),
		`"#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time"`)
	jsonEqual(t, dig(t, defs, "io.k8s.api.apps.v1.RollingUpdateDeployment", "properties", "maxSurge", "$ref"),
		`"#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"`)
}

// without returns a copy of the object v minus key.
func without(v any, key string) map[string]any {
	out := map[string]any{}
	for k, x := range v.(map[string]any) {
		if k != key {
			out[k] = x
		}
	}
	return out
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestV3Shape(t *testing.T) {
	doc := fixtureV3(t, "apis/apps/v1")
	jsonEqual(t, dig(t, doc, "openapi"), `"3.0.0"`)
	schemas := dig(t, doc, "components", "schemas")
	spec := dig(t, schemas, "io.k8s.api.apps.v1.Deployment", "properties", "spec")
	jsonEqual(t, dig(t, spec, "allOf"), `[{"$ref":"#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]`)
	if _, ok := spec.(map[string]any)["description"]; !ok {
		t.Error("spec lacks its description beside allOf")
	}
	patch := dig(t, doc, "paths", "/apis/apps/v1/namespaces/{namespace}/deployments/{name}", "patch")
	jsonEqual(t, dig(t, patch, "x-kubernetes-group-version-kind"), `{"group":"apps","kind":"Deployment","version":"v1"}`)
	dig(t, patch, "requestBody", "content", "application/strategic-merge-patch+json", "schema")
	found := false
	for _, p := range dig(t, patch, "parameters").([]any) {
		pm := p.(map[string]any)
		if pm["name"] == "fieldValidation" {
			found = true
			jsonEqual(t, pm["in"], `"query"`)
			jsonEqual(t, pm["schema"], `{"type":"string","uniqueItems":true}`)
		}
	}
	if !found {
		t.Error("v3 patch operation lacks fieldValidation")
	}
	// Only apps/v1 paths, but referenced schemas from other packages.
	for p := range dig(t, doc, "paths").(map[string]any) {
		if !strings.HasPrefix(p, "/apis/apps/v1/") {
			t.Errorf("foreign path %s in apps/v1 document", p)
		}
	}
	dig(t, schemas, "io.k8s.api.core.v1.PodSpec")
	dig(t, schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta")
	if _, ok := schemas.(map[string]any)["io.k8s.api.batch.v1.Job"]; ok {
		t.Error("apps/v1 document includes unrelated batch schema")
	}
}

// walk calls f on every JSON object reachable from v.
func walk(v any, f func(map[string]any)) {
	switch x := v.(type) {
	case map[string]any:
		f(x)
		for _, c := range x {
			walk(c, f)
		}
	case []any:
		for _, c := range x {
			walk(c, f)
		}
	}
}

// TestDocumentsAreClosed checks invariants kubectl relies on: every
// reference resolves and every array schema has items.
func TestDocumentsAreClosed(t *testing.T) {
	check := func(name string, doc map[string]any, prefix string, defs map[string]any) {
		walk(doc, func(m map[string]any) {
			if ref, ok := m["$ref"].(string); ok {
				if !strings.HasPrefix(ref, prefix) {
					t.Errorf("%s: bad ref %q", name, ref)
				} else if _, ok := defs[strings.TrimPrefix(ref, prefix)]; !ok {
					t.Errorf("%s: dangling ref %q", name, ref)
				}
			}
			if m["type"] == "array" {
				if _, ok := m["items"]; !ok {
					t.Errorf("%s: array without items: %v", name, m)
				}
			}
		})
	}
	v2 := fixtureV2(t)
	check("v2", v2, v2RefPrefix, v2["definitions"].(map[string]any))
	h := newFixtureHandler(t)
	for k, rep := range h.v3Docs {
		var doc map[string]any
		if err := json.Unmarshal(rep.body, &doc); err != nil {
			t.Fatal(err)
		}
		check(k, doc, v3RefPrefix, dig(t, doc, "components", "schemas").(map[string]any))
	}
}

func TestNewRejectsBadResources(t *testing.T) {
	pod := fixtureResources()[0]
	for name, cfg := range map[string]Config{
		"duplicate": {Resources: []Resource{pod, pod}},
		"no plural": {Resources: []Resource{{GVK: pod.GVK, Object: &corev1.Pod{}}}},
		"no object": {Resources: []Resource{{GVK: pod.GVK, Plural: "pods"}}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestReflectorHandlesCyclesAndSpecials(t *testing.T) {
	type node struct {
		Name     string               `json:"name"`
		Children []node               `json:"children,omitempty"`
		Next     *node                `json:"next,omitempty"`
		Port     intstr.IntOrString   `json:"port"`
		Size     *resource.Quantity   `json:"size,omitempty"`
		When     metav1.Time          `json:"when,omitempty"`
		Raw      runtime.RawExtension `json:"raw,omitempty"`
		Skip     string               `json:"-"`
		Dash     string               `json:"-,"`
		Anon     struct {
			X float64 `json:"x"`
		} `json:"anon"`
		Tags   map[string][]string `json:"tags,omitempty"`
		hidden string              //nolint:unused
	}
	r := newReflector()
	name, err := r.ref(reflect.TypeFor[node]())
	if err != nil {
		t.Fatal(err)
	}
	s := r.defs[name]
	got := map[string]string{}
	for _, p := range s.Properties {
		got[p.Name] = mustJSON(v2Schema(p.Schema))
	}
	want := map[string]string{
		"name":     `{"type":"string"}`,
		"children": `{"items":{"$ref":"#/definitions/` + name + `"},"type":"array"}`,
		"next":     `{"$ref":"#/definitions/` + name + `"}`,
		"port":     `{"$ref":"#/definitions/io.k8s.apimachinery.pkg.util.intstr.IntOrString"}`,
		"size":     `{"$ref":"#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"}`,
		"when":     `{"$ref":"#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.Time"}`,
		"raw":      `{"$ref":"#/definitions/io.k8s.apimachinery.pkg.runtime.RawExtension"}`,
		"-":        `{"type":"string"}`,
		"anon":     `{"properties":{"x":{"format":"double","type":"number"}},"required":["x"],"type":"object"}`,
		"tags":     `{"additionalProperties":{"items":{"type":"string"},"type":"array"},"type":"object"}`,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("properties:\n got %v\nwant %v", got, want)
	}
	jsonEqual(t, s.Required, `["name","port","-","anon"]`)
}

func TestDefinitionNameClash(t *testing.T) {
	type Pod struct{ A string }
	r := newReflector()
	// A different type claiming the same name is an error, not a silent
	// overwrite.
	r.owner["com.github.skiff_sh.skiff.internal.openapi.Pod"] = reflect.TypeFor[appsv1.Deployment]()
	if _, err := r.ref(reflect.TypeFor[Pod]()); err == nil {
		t.Error("name clash not reported")
	}
}

func TestSubresourceGVKs(t *testing.T) {
	cfg := Config{Resources: []Resource{{
		GVK:          k8sschema.GroupVersionKind{Version: "v1", Kind: "Pod"},
		Plural:       "pods",
		Namespaced:   true,
		Verbs:        []string{"get", "patch"},
		Subresources: []string{"status", "binding", "log", "exec"},
		Object:       &corev1.Pod{},
	}}}
	doc, err := buildDocument(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, pi := range doc.Paths {
		for _, op := range pi.Ops {
			got[op.Method+" "+pi.Path] = op.GVK.Kind + "/" + op.Action
		}
	}
	want := map[string]string{
		"get /api/v1/namespaces/{namespace}/pods/{name}":          "Pod/get",
		"patch /api/v1/namespaces/{namespace}/pods/{name}":        "Pod/patch",
		"get /api/v1/namespaces/{namespace}/pods/{name}/status":   "Pod/get",
		"put /api/v1/namespaces/{namespace}/pods/{name}/status":   "Pod/put",
		"patch /api/v1/namespaces/{namespace}/pods/{name}/status": "Pod/patch",
		"post /api/v1/namespaces/{namespace}/pods/{name}/binding": "Binding/post",
		"get /api/v1/namespaces/{namespace}/pods/{name}/log":      "Pod/get",
		"get /api/v1/namespaces/{namespace}/pods/{name}/exec":     "PodExecOptions/connect",
		"post /api/v1/namespaces/{namespace}/pods/{name}/exec":    "PodExecOptions/connect",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("operations:\n got %v\nwant %v", got, want)
	}
}
