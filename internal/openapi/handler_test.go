package openapi

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
)

func do(t *testing.T, h http.Handler, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestServeV2JSONAndETag(t *testing.T) {
	h := newFixtureHandler(t)
	resp := do(t, h, "GET", "/openapi/v2", map[string]string{"Accept": "application/json"})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.Unmarshal(body(t, resp), &doc); err != nil {
		t.Fatal(err)
	}
	if doc["swagger"] != "2.0" || dig(t, doc, "info", "version") != "v1.33.1" {
		t.Errorf("swagger %v, info %v", doc["swagger"], doc["info"])
	}
	etag := resp.Header.Get("ETag")
	if !strings.HasPrefix(etag, `"`) || len(etag) != 130 {
		t.Errorf("ETag %q", etag)
	}
	resp = do(t, h, "GET", "/openapi/v2", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != http.StatusNotModified || len(body(t, resp)) != 0 {
		t.Errorf("If-None-Match: status %d", resp.StatusCode)
	}
	resp = do(t, h, "GET", "/openapi/v2", map[string]string{"If-None-Match": `"other", W/` + etag})
	if resp.StatusCode != http.StatusNotModified {
		t.Errorf("If-None-Match list: status %d", resp.StatusCode)
	}
	resp = do(t, h, "GET", "/openapi/v2", map[string]string{"If-None-Match": `"stale"`})
	if resp.StatusCode != 200 {
		t.Errorf("stale If-None-Match: status %d", resp.StatusCode)
	}
	resp = do(t, h, "HEAD", "/openapi/v2", nil)
	if resp.StatusCode != 200 || len(body(t, resp)) != 0 || resp.Header.Get("Content-Length") == "" {
		t.Errorf("HEAD: status %d", resp.StatusCode)
	}
	if resp := do(t, h, "POST", "/openapi/v2", nil); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: status %d", resp.StatusCode)
	}
	if resp := do(t, h, "GET", "/openapi/v2", map[string]string{"Accept": "text/html"}); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("text/html: status %d", resp.StatusCode)
	}
	if resp := do(t, h, "GET", "/openapi/v4", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("/openapi/v4: status %d", resp.StatusCode)
	}
}

func TestServeGzip(t *testing.T) {
	h := newFixtureHandler(t)
	resp := do(t, h, "GET", "/openapi/v2", map[string]string{"Accept-Encoding": "gzip"})
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding %q", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(body(t, resp)))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(plain, h.v2JSON.body) {
		t.Error("gzip body differs from the document")
	}
	if resp := do(t, h, "GET", "/openapi/v2", map[string]string{"Accept-Encoding": "gzip;q=0"}); resp.Header.Get("Content-Encoding") != "" {
		t.Error("gzip sent although refused")
	}
}

// pbFields decodes one protobuf message into its fields (bytes fields only
// and varints as their numeric value), keyed by field number.
func pbFields(t *testing.T, b []byte) map[protowire.Number][][]byte {
	t.Helper()
	out := map[protowire.Number][][]byte{}
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			t.Fatalf("bad tag: %v", protowire.ParseError(n))
		}
		b = b[n:]
		switch typ {
		case protowire.BytesType:
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				t.Fatalf("bad bytes: %v", protowire.ParseError(n))
			}
			out[num] = append(out[num], v)
			b = b[n:]
		case protowire.VarintType:
			v, n := protowire.ConsumeVarint(b)
			if n < 0 {
				t.Fatalf("bad varint: %v", protowire.ParseError(n))
			}
			out[num] = append(out[num], protowire.AppendVarint(nil, v))
			b = b[n:]
		default:
			t.Fatalf("unexpected wire type %v", typ)
		}
	}
	return out
}

// pbNamed finds the value of the Named* entry called name among entries.
func pbNamed(t *testing.T, entries [][]byte, name string) []byte {
	t.Helper()
	for _, e := range entries {
		f := pbFields(t, e)
		if len(f[1]) == 1 && string(f[1][0]) == name {
			return f[2][0]
		}
	}
	t.Fatalf("no entry %q", name)
	return nil
}

func TestServeV2Protobuf(t *testing.T) {
	h := newFixtureHandler(t)
	resp := do(t, h, "GET", "/openapi/v2", map[string]string{"Accept": mimeV2PB})
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != mimeV2PBAlt {
		t.Fatalf("status %d, content type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	doc := pbFields(t, body(t, resp))
	if string(doc[1][0]) != "2.0" {
		t.Errorf("swagger = %q", doc[1][0])
	}
	defs := pbFields(t, doc[9][0])[1]
	var v2 map[string]any
	if err := json.Unmarshal(h.v2JSON.body, &v2); err != nil {
		t.Fatal(err)
	}
	if len(defs) != len(v2["definitions"].(map[string]any)) {
		t.Errorf("%d protobuf definitions, %d JSON definitions", len(defs), len(v2["definitions"].(map[string]any)))
	}

	pod := pbFields(t, pbNamed(t, defs, "io.k8s.api.core.v1.Pod"))
	gvk := pbFields(t, pbNamed(t, pod[31], "x-kubernetes-group-version-kind"))
	if got := strings.TrimSpace(string(gvk[2][0])); got != `[{"group":"","kind":"Pod","version":"v1"}]` {
		t.Errorf("Pod gvk yaml = %s", got)
	}
	if got := string(pbFields(t, pod[22][0])[1][0]); got != "object" {
		t.Errorf("Pod type = %q", got)
	}
	spec := pbFields(t, pbNamed(t, pbFields(t, pod[25][0])[1], "spec"))
	if got := string(spec[1][0]); got != "#/definitions/io.k8s.api.core.v1.PodSpec" {
		t.Errorf("spec ref = %q", got)
	}

	paths := pbFields(t, doc[8][0])[2]
	item := pbFields(t, pbNamed(t, paths, "/apis/apps/v1/namespaces/{namespace}/deployments/{name}"))
	patch := pbFields(t, item[8][0])
	found := false
	for _, p := range patch[8] {
		param := pbFields(t, pbFields(t, p)[1][0])
		if nb, ok := param[2]; ok {
			if q, ok := pbFields(t, nb[0])[3]; ok && string(pbFields(t, q[0])[4][0]) == "fieldValidation" {
				found = true
			}
		}
	}
	if !found {
		t.Error("protobuf patch operation lacks the fieldValidation query parameter")
	}
	if string(pbFields(t, item[9][0])[1][0]) == "" {
		t.Error("path-level parameters missing")
	}
}

func TestServeV3(t *testing.T) {
	h := newFixtureHandler(t)
	resp := do(t, h, "GET", "/openapi/v3", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	var index struct {
		Paths map[string]struct {
			ServerRelativeURL string `json:"serverRelativeURL"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(body(t, resp), &index); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"api/v1", "apis/apps/v1", "apis/rbac.authorization.k8s.io/v1", "apis/autoscaling/v2"} {
		if !strings.HasPrefix(index.Paths[k].ServerRelativeURL, "/openapi/v3/"+k+"?hash=") {
			t.Errorf("index entry %s = %q", k, index.Paths[k].ServerRelativeURL)
		}
	}
	if len(index.Paths) != len(h.v3Docs) {
		t.Errorf("index has %d entries, %d documents", len(index.Paths), len(h.v3Docs))
	}

	url := index.Paths["apis/apps/v1"].ServerRelativeURL
	resp = do(t, h, "GET", url, map[string]string{"Accept": "application/json"})
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") != "public, immutable" {
		t.Fatalf("status %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	if !bytes.Equal(body(t, resp), h.v3Docs["apis/apps/v1"].body) {
		t.Error("hash URL served another document")
	}
	if !strings.HasSuffix(url, strings.Trim(resp.Header.Get("ETag"), `"`)) {
		t.Error("hash and ETag differ")
	}

	resp = do(t, h, "GET", "/openapi/v3/apis/apps/v1", nil)
	if resp.StatusCode != 200 || resp.Header.Get("Cache-Control") == "public, immutable" {
		t.Errorf("unpinned: status %d, Cache-Control %q", resp.StatusCode, resp.Header.Get("Cache-Control"))
	}
	resp = do(t, h, "GET", "/openapi/v3/apis/apps/v1?hash=STALE", nil)
	if resp.StatusCode != http.StatusMovedPermanently || resp.Header.Get("Location") != url {
		t.Errorf("stale hash: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if resp := do(t, h, "GET", "/openapi/v3/apis/nope/v1", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown group: status %d", resp.StatusCode)
	}
	if resp := do(t, h, "GET", "/openapi/v3/api/v1", map[string]string{"Accept": "application/com.github.proto-openapi.spec.v3@v1.0+protobuf"}); resp.StatusCode != http.StatusNotAcceptable {
		t.Errorf("v3 protobuf: status %d", resp.StatusCode)
	}
}

func TestNegotiate(t *testing.T) {
	offers := []string{mimeJSON, mimeV2PB, mimeV2PBAlt}
	for accept, want := range map[string]string{
		"":                                    mimeJSON,
		"*/*":                                 mimeJSON,
		"application/*":                       mimeJSON,
		mimeV2PB:                              mimeV2PB,
		mimeV2PB + ", application/json":       mimeV2PB,
		"application/json;q=0.5, " + mimeV2PB: mimeV2PB,
		mimeV2PB + ";q=0.1, application/json": mimeJSON,
		"application/json;q=0, */*;q=0.2":     mimeV2PB,
		"text/html":                           "",
		"application/json;q=0":                "",
	} {
		got, ok := negotiate(accept, offers)
		if !ok {
			got = ""
		}
		if got != want {
			t.Errorf("negotiate(%q) = %q, want %q", accept, got, want)
		}
	}
}

func TestDeterministic(t *testing.T) {
	a, b := newFixtureHandler(t), newFixtureHandler(t)
	if a.v2JSON.hash != b.v2JSON.hash || a.v2Proto.hash != b.v2Proto.hash || a.v3Index.hash != b.v3Index.hash {
		t.Error("documents differ between builds of the same configuration")
	}
}

// BenchmarkNew measures start-up cost for the fixture's ~45 resources,
// which reach about 450 definitions. Budget: well under 300ms per op.
func BenchmarkNew(b *testing.B) {
	cfg := Config{Resources: fixtureResources(), Version: "v1.33.1"}
	for b.Loop() {
		if _, err := New(cfg); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkBuildDocument measures reflection and path building alone.
func BenchmarkBuildDocument(b *testing.B) {
	cfg := Config{Resources: fixtureResources(), Version: "v1.33.1"}
	for b.Loop() {
		if _, err := buildDocument(cfg); err != nil {
			b.Fatal(err)
		}
	}
}
