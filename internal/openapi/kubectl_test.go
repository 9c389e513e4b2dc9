package openapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Minimal legacy discovery documents for the fake server: core v1 pods and
// apps/v1 deployments, which is all kubectl needs to map the names used in
// these tests to group-version-resources.
const (
	fakeVersion  = `{"major":"1","minor":"33","gitVersion":"v1.33.1","platform":"linux/amd64"}`
	fakeAPI      = `{"kind":"APIVersions","versions":["v1"],"serverAddressByClientCIDRs":[{"clientCIDR":"0.0.0.0/0","serverAddress":"127.0.0.1:6443"}]}`
	fakeAPIs     = `{"kind":"APIGroupList","apiVersion":"v1","groups":[{"name":"apps","versions":[{"groupVersion":"apps/v1","version":"v1"}],"preferredVersion":{"groupVersion":"apps/v1","version":"v1"}}]}`
	fakeCoreV1   = `{"kind":"APIResourceList","groupVersion":"v1","resources":[{"name":"pods","singularName":"pod","namespaced":true,"kind":"Pod","verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNames":["po"]},{"name":"pods/status","singularName":"","namespaced":true,"kind":"Pod","verbs":["get","patch","update"]}]}`
	fakeAppsV1   = `{"kind":"APIResourceList","apiVersion":"v1","groupVersion":"apps/v1","resources":[{"name":"deployments","singularName":"deployment","namespaced":true,"kind":"Deployment","verbs":["create","delete","deletecollection","get","list","patch","update","watch"],"shortNames":["deploy"]},{"name":"deployments/scale","singularName":"","namespaced":true,"group":"autoscaling","version":"v1","kind":"Scale","verbs":["get","patch","update"]}]}`
	notFoundJSON = `{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"not found","reason":"NotFound","code":404}`
)

// minimalDiscovery is the static discovery served by default.
func minimalDiscovery() map[string][]byte {
	return map[string][]byte{
		"/api":          []byte(fakeAPI),
		"/apis":         []byte(fakeAPIs),
		"/api/v1":       []byte(fakeCoreV1),
		"/apis/apps/v1": []byte(fakeAppsV1),
	}
}

// fakeAPIServer serves h under /openapi/, /version, and the discovery
// documents of disc (minimalDiscovery when nil); other requests go to
// objects when it is non-nil and get 404 otherwise.
func fakeAPIServer(t *testing.T, h http.Handler, disc map[string][]byte, objects http.Handler) *httptest.Server {
	t.Helper()
	if disc == nil {
		disc = minimalDiscovery()
	}
	mux := http.NewServeMux()
	mux.Handle("/openapi/", h)
	mux.Handle("/openapi/v2", h)
	mux.Handle("/openapi/v3", h)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		p := strings.TrimSuffix(r.URL.Path, "/")
		if p == "/version" {
			_, _ = w.Write([]byte(fakeVersion))
			return
		}
		if body, ok := disc[p]; ok {
			_, _ = w.Write(body)
			return
		}
		if objects != nil {
			objects.ServeHTTP(w, r)
			return
		}
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(notFoundJSON))
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// kubectlBinaries lists the kubectl executables available for the test.
func kubectlBinaries() map[string]string {
	out := map[string]string{}
	if _, err := os.Stat("/usr/bin/kubectl"); err == nil {
		out["default"] = "/usr/bin/kubectl"
	}
	for _, v := range []string{"1.27", "1.28", "1.29", "1.30", "1.31", "1.32", "1.33"} {
		p := "/usr/lib/google-cloud-sdk/bin/kubectl." + v
		if _, err := os.Stat(p); err == nil {
			out[v] = p
		}
	}
	return out
}

// runKubectl runs kubectl against server with an isolated home and cache.
func runKubectl(t *testing.T, bin, server string, stdin []byte, args ...string) (string, error) {
	t.Helper()
	home := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	full := append([]string{"--server", server, "--cache-dir", filepath.Join(home, "cache")}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "KUBECONFIG=" + filepath.Join(home, "none")}
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	err := cmd.Run()
	return out.String(), err
}

func newFixtureHandler(t testing.TB) *Handler {
	t.Helper()
	h, err := New(Config{Resources: fixtureResources(), Version: "v1.33.1"})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func requireAll(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q; output:\n%s", w, out)
		}
	}
}

func TestKubectlExplain(t *testing.T) {
	bins := kubectlBinaries()
	if len(bins) == 0 {
		t.Skip("kubectl not installed")
	}
	srv := fakeAPIServer(t, newFixtureHandler(t), nil, nil)
	for name, bin := range bins {
		t.Run(name, func(t *testing.T) {
			out, err := runKubectl(t, bin, srv.URL, nil, "explain", "pod.spec.containers")
			if err != nil {
				t.Fatalf("explain pod.spec.containers: %v\n%s", err, out)
			}
			requireAll(t, out, "KIND:", "Pod", "VERSION:", "v1", "DESCRIPTION:", "FIELDS:", "image\t", "name\t<string> -required-",
				"List of containers belonging to the pod", "ports\t<[]ContainerPort>", "resources\t<ResourceRequirements>")

			out, err = runKubectl(t, bin, srv.URL, nil, "explain", "deployment", "--recursive")
			if err != nil {
				t.Fatalf("explain deployment --recursive: %v\n%s", err, out)
			}
			requireAll(t, out, "KIND:", "Deployment", "GROUP:", "apps", "DESCRIPTION:", "FIELDS:",
				"spec\t<DeploymentSpec>", "containers\t<[]Container> -required-", "maxSurge\t<IntOrString>",
				"creationTimestamp\t<string>")

			out, err = runKubectl(t, bin, srv.URL, nil, "explain", "pods.spec.containers.resources.limits", "--output=plaintext-openapiv2")
			if err != nil {
				t.Fatalf("explain --output=plaintext-openapiv2: %v\n%s", err, out)
			}
			requireAll(t, out, "KIND:", "Pod", "FIELD:", "limits", "DESCRIPTION:")

			out, err = runKubectl(t, bin, srv.URL, nil, "explain", "deployment.spec.strategy", "--output=plaintext-openapiv2")
			if err != nil {
				t.Fatalf("explain --output=plaintext-openapiv2: %v\n%s", err, out)
			}
			requireAll(t, out, "RESOURCE: strategy", "rollingUpdate\t<Object>", "type\t<string>")
		})
	}
}

const validDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  strategy:
    rollingUpdate: {maxSurge: 1, maxUnavailable: 25%}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx
        ports:
        - containerPort: 80
          name: http
        readinessProbe:
          httpGet: {path: /, port: http}
        resources:
          limits: {cpu: 100m, memory: 1Gi}
          requests: {cpu: 0.5, memory: 128974848}
`

// withoutFieldValidation returns a copy of doc whose operations lack the
// fieldValidation parameter, which makes kubectl fall back to client-side
// schema validation against /openapi/v2.
func withoutFieldValidation(doc *document) *document {
	cp := *doc
	cp.Paths = make([]pathItem, len(doc.Paths))
	for i, pi := range doc.Paths {
		pi.Ops = append([]operation(nil), pi.Ops...)
		for j, op := range pi.Ops {
			var ps []param
			for _, p := range op.Params {
				if p.Name != "fieldValidation" {
					ps = append(ps, p)
				}
			}
			op.Params = ps
			pi.Ops[j] = op
		}
		cp.Paths[i] = pi
	}
	return &cp
}

func TestKubectlApplyValidation(t *testing.T) {
	bins := kubectlBinaries()
	if len(bins) == 0 {
		t.Skip("kubectl not installed")
	}
	doc, err := buildDocument(Config{Resources: fixtureResources(), Version: "v1.33.1"})
	if err != nil {
		t.Fatal(err)
	}
	serverSide, err := newHandler(doc)
	if err != nil {
		t.Fatal(err)
	}
	clientSide, err := newHandler(withoutFieldValidation(doc))
	if err != nil {
		t.Fatal(err)
	}
	withServerValidation := fakeAPIServer(t, serverSide, nil, nil)
	withoutServerValidation := fakeAPIServer(t, clientSide, nil, nil)
	invalid := strings.Replace(validDeployment, "        image: nginx\n", "        image: nginx\n        bogusField: 1\n", 1)
	apply := []string{"apply", "--dry-run=client", "--validate=strict", "-f", "-"}

	for name, bin := range bins {
		t.Run(name, func(t *testing.T) {
			// The server advertises fieldValidation: kubectl leaves
			// validation to it and the dry run succeeds.
			out, err := runKubectl(t, bin, withServerValidation.URL, []byte(invalid), apply...)
			if err != nil {
				t.Fatalf("apply with server-side validation: %v\n%s", err, out)
			}
			requireAll(t, out, "deployment.apps/web created (dry run)")

			// Without it, kubectl validates against the v2 schema: a
			// valid object passes ...
			out, err = runKubectl(t, bin, withoutServerValidation.URL, []byte(validDeployment), apply...)
			if err != nil {
				t.Fatalf("client-side validation of a valid object: %v\n%s", err, out)
			}
			requireAll(t, out, "deployment.apps/web created (dry run)")

			// ... and an unknown field is reported.
			out, err = runKubectl(t, bin, withoutServerValidation.URL, []byte(invalid), apply...)
			if err == nil {
				t.Fatalf("client-side validation accepted an unknown field:\n%s", out)
			}
			requireAll(t, out, "bogusField")
		})
	}
}

// liveDeployment is what the fake server returns for the deployment "web":
// two containers, last applied with image nginx:1.
func liveDeployment(t *testing.T) []byte {
	t.Helper()
	applied := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "web", "namespace": "default"},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": "web"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "web"}},
				"spec": map[string]any{"containers": []any{
					map[string]any{"name": "web", "image": "nginx:1"},
					map[string]any{"name": "sidecar", "image": "busybox"},
				}},
			},
		},
	}
	last, err := json.Marshal(applied)
	if err != nil {
		t.Fatal(err)
	}
	live := applied
	live["metadata"] = map[string]any{
		"name": "web", "namespace": "default", "uid": "1", "resourceVersion": "7",
		"annotations": map[string]any{"kubectl.kubernetes.io/last-applied-configuration": string(last)},
	}
	b, err := json.Marshal(live)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

const updatedDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: default
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: web
        image: nginx:2
      - name: sidecar
        image: busybox
`

// TestKubectlApplyStrategicMergePatch checks that kubectl computes a
// strategic merge patch from the served schemas (patch strategy and merge
// key of containers) without falling back to its compiled-in types.
func TestKubectlApplyStrategicMergePatch(t *testing.T) {
	bins := kubectlBinaries()
	if len(bins) == 0 {
		t.Skip("kubectl not installed")
	}
	live := liveDeployment(t)
	var mu sync.Mutex
	var patches []string
	objects := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/apis/apps/v1/namespaces/default/deployments/web" {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(notFoundJSON))
			return
		}
		if r.Method == http.MethodPatch {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			patches = append(patches, r.Header.Get("Content-Type")+" "+string(b))
			mu.Unlock()
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(live)
	})
	srv := fakeAPIServer(t, newFixtureHandler(t), nil, objects)
	for name, bin := range bins {
		t.Run(name, func(t *testing.T) {
			mu.Lock()
			patches = nil
			mu.Unlock()
			out, err := runKubectl(t, bin, srv.URL, []byte(updatedDeployment), "apply", "-f", "-", "-v=5")
			if err != nil {
				t.Fatalf("apply: %v\n%s", err, out)
			}
			if strings.Contains(out, "warning: error calculating patch") || strings.Contains(out, "does not support strategic merge patch") {
				t.Errorf("kubectl could not use the served schema:\n%s", out)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(patches) != 1 {
				t.Fatalf("want one PATCH, got %q\n%s", patches, out)
			}
			p := patches[0]
			if !strings.HasPrefix(p, "application/strategic-merge-patch+json ") {
				t.Errorf("patch type: %s", p)
			}
			for _, want := range []string{`"$setElementOrder/containers":[{"name":"web"},{"name":"sidecar"}]`, `{"image":"nginx:2","name":"web"}`} {
				if !strings.Contains(p, want) {
					t.Errorf("patch lacks %s: %s", want, p)
				}
			}
		})
	}
}

// discoveryFor builds legacy discovery documents for resources, keyed by
// URL path.
func discoveryFor(t *testing.T, resources []Resource) map[string][]byte {
	t.Helper()
	type apiResource struct {
		Name         string   `json:"name"`
		SingularName string   `json:"singularName"`
		Namespaced   bool     `json:"namespaced"`
		Kind         string   `json:"kind"`
		Verbs        []string `json:"verbs"`
	}
	type gvDoc struct {
		Kind         string        `json:"kind"`
		GroupVersion string        `json:"groupVersion"`
		Resources    []apiResource `json:"resources"`
	}
	docs := map[string]*gvDoc{}
	var groups []map[string]any
	seenGroup := map[string]map[string]any{}
	for _, r := range resources {
		gv := r.GVK.GroupVersion()
		key := "/" + groupVersionKey(gv)
		d, ok := docs[key]
		if !ok {
			d = &gvDoc{Kind: "APIResourceList", GroupVersion: gv.String()}
			docs[key] = d
			if gv.Group != "" {
				v := map[string]string{"groupVersion": gv.String(), "version": gv.Version}
				g, ok := seenGroup[gv.Group]
				if !ok {
					g = map[string]any{"name": gv.Group, "versions": []any{}, "preferredVersion": v}
					seenGroup[gv.Group] = g
					groups = append(groups, g)
				}
				g["versions"] = append(g["versions"].([]any), v)
			}
		}
		d.Resources = append(d.Resources, apiResource{Name: r.Plural, SingularName: strings.ToLower(r.GVK.Kind),
			Namespaced: r.Namespaced, Kind: r.GVK.Kind, Verbs: r.Verbs})
	}
	out := map[string][]byte{}
	for k, d := range docs {
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		out[k] = b
	}
	b, err := json.Marshal(map[string]any{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	out["/apis"] = b
	return out
}

// TestKubectlExplainEveryResource runs explain --recursive with both
// OpenAPI versions over every fixture resource, with the default kubectl.
func TestKubectlExplainEveryResource(t *testing.T) {
	bin := kubectlBinaries()["default"]
	if bin == "" {
		t.Skip("kubectl not installed")
	}
	if testing.Short() {
		t.Skip("slow")
	}
	resources := fixtureResources()
	disc := discoveryFor(t, resources)
	disc["/api"] = []byte(fakeAPI)
	srv := fakeAPIServer(t, newFixtureHandler(t), disc, nil)
	for _, r := range resources {
		name := r.Plural
		for _, format := range []string{"plaintext", "plaintext-openapiv2"} {
			out, err := runKubectl(t, bin, srv.URL, nil, "explain", name, "--api-version="+r.GVK.GroupVersion().String(),
				"--recursive", "--output="+format)
			if err != nil {
				t.Errorf("explain %s -o %s: %v\n%s", name, format, err, out)
				continue
			}
			requireAll(t, out, "KIND:", r.GVK.Kind, "metadata\t<")
		}
	}
}
