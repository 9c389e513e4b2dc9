// Package openapi generates and serves the /openapi/v2 (Swagger 2.0) and
// /openapi/v3 (OpenAPI 3.0) documents of the API server.
//
// The documents are derived at start-up by reflecting over the k8s.io/api Go
// types of the served resources: field names and optionality come from `json`
// tags, descriptions from the types' SwaggerDoc methods, strategic-merge-patch
// metadata from `patchStrategy`/`patchMergeKey` tags, and definition names
// from OpenAPIModelName (falling back to the Go package path). The result is
// shaped like upstream Kubernetes' documents so that kubectl's explain,
// client-side validation, field-validation detection and strategic merge
// patch computation work against it.
package openapi

import (
	"bytes"
	"compress/gzip"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/runtime"
	k8sschema "k8s.io/apimachinery/pkg/runtime/schema"
)

// Resource describes one served resource.
type Resource struct {
	GVK          k8sschema.GroupVersionKind // e.g. apps/v1 Deployment
	Plural       string                     // "deployments"
	Namespaced   bool
	Verbs        []string       // e.g. get list watch create update patch delete deletecollection
	Subresources []string       // e.g. "status", "scale", "binding", "eviction"
	Object       runtime.Object // zero value of the type, e.g. &appsv1.Deployment{}
	List         runtime.Object // e.g. &appsv1.DeploymentList{}; may be nil when "list" is not served
}

// Config configures New.
type Config struct {
	Resources []Resource
	// Version is the server's git version; it becomes info.version.
	Version string
}

// Media types served.
const (
	mimeJSON      = "application/json"
	mimeV2PB      = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
	mimeV2PBAlt   = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
	pathV2        = "/openapi/v2"
	pathV3        = "/openapi/v3"
	documentTitle = "Kubernetes"
)

// representation is one immutable encoded document.
type representation struct {
	body []byte
	hash string // upper-case hex SHA-512 of body

	gzOnce sync.Once
	gzBody []byte // gzip of body, computed on first request that accepts it
}

func newRepresentation(body []byte) *representation {
	sum := sha512.Sum512(body)
	return &representation{body: body, hash: strings.ToUpper(hex.EncodeToString(sum[:]))}
}

func (r *representation) etag() string { return `"` + r.hash + `"` }

func (r *representation) gzipped() []byte {
	r.gzOnce.Do(func() {
		var buf bytes.Buffer
		zw, err := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		if err != nil {
			return
		}
		if _, err := zw.Write(r.body); err != nil {
			return
		}
		if err := zw.Close(); err != nil {
			return
		}
		r.gzBody = buf.Bytes()
	})
	return r.gzBody
}

// Handler serves the generated documents. It is immutable after New and
// safe for concurrent use.
type Handler struct {
	v2JSON  *representation
	v2Proto *representation
	v3Index *representation
	v3Docs  map[string]*representation // keyed by "api/v1", "apis/apps/v1", ...
}

// buildDocument reflects over the configured resources and returns the
// version-neutral document.
func buildDocument(cfg Config) (*document, error) {
	r := newReflector()
	b := &pathBuilder{r: r, paths: map[string]*pathItem{}}
	seen := map[k8sschema.GroupVersionKind]bool{}
	for _, res := range cfg.Resources {
		if seen[res.GVK] {
			return nil, fmt.Errorf("openapi: resource %v configured twice", res.GVK)
		}
		seen[res.GVK] = true
		if err := b.addResource(res); err != nil {
			return nil, err
		}
	}
	version := cfg.Version
	if version == "" {
		version = "unversioned"
	}
	return &document{
		Title:       documentTitle,
		Version:     version,
		Paths:       b.items(),
		Definitions: r.definitions(),
	}, nil
}

// New builds the Swagger 2.0 document (JSON and protobuf), the OpenAPI v3
// discovery index and one OpenAPI v3 document per served group-version. It
// fails if a resource is malformed or its Go types cannot be described.
func New(cfg Config) (*Handler, error) {
	doc, err := buildDocument(cfg)
	if err != nil {
		return nil, err
	}
	return newHandler(doc)
}

// newHandler encodes every representation of doc.
func newHandler(doc *document) (*Handler, error) {
	v2, err := encodeJSON(renderV2(doc))
	if err != nil {
		return nil, fmt.Errorf("openapi: encoding v2: %w", err)
	}
	pb, err := encodeV2Proto(doc)
	if err != nil {
		return nil, fmt.Errorf("openapi: encoding v2 protobuf: %w", err)
	}
	h := &Handler{
		v2JSON:  newRepresentation(v2),
		v2Proto: newRepresentation(pb),
		v3Docs:  map[string]*representation{},
	}

	defs := make(map[string]*schema, len(doc.Definitions))
	for _, d := range doc.Definitions {
		defs[d.Name] = d.Schema
	}
	var keys []string
	for _, pi := range doc.Paths {
		if _, ok := h.v3Docs[pi.GroupVersion]; !ok {
			h.v3Docs[pi.GroupVersion] = nil
			keys = append(keys, pi.GroupVersion)
		}
	}
	sort.Strings(keys)
	rendered := map[string]map[string]any{}
	index := map[string]any{}
	for _, k := range keys {
		body, err := encodeJSON(renderV3(doc, k, defs, rendered))
		if err != nil {
			return nil, fmt.Errorf("openapi: encoding v3 %s: %w", k, err)
		}
		rep := newRepresentation(body)
		h.v3Docs[k] = rep
		index[k] = map[string]string{"serverRelativeURL": pathV3 + "/" + k + "?hash=" + rep.hash}
	}
	idx, err := encodeJSON(map[string]any{"paths": index})
	if err != nil {
		return nil, fmt.Errorf("openapi: encoding v3 index: %w", err)
	}
	h.v3Index = newRepresentation(idx)
	return h, nil
}

// ServeHTTP serves GET and HEAD for /openapi/v2, /openapi/v3 and
// /openapi/v3/<group-version path>. It honours If-None-Match against the
// document's ETag, gzip Accept-Encoding and, for /openapi/v2, the protobuf
// media type that client-go requests. Requests for /openapi/v3/<gv>?hash=H
// with the current hash are marked immutable; with a stale hash they are
// redirected to the current URL.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimSuffix(r.URL.Path, "/")
	switch {
	case p == pathV2:
		choice, ok := negotiate(r.Header.Get("Accept"), []string{mimeJSON, mimeV2PB, mimeV2PBAlt})
		if !ok {
			http.Error(w, "only application/json and "+mimeV2PB+" are served", http.StatusNotAcceptable)
			return
		}
		rep, contentType := h.v2JSON, mimeJSON
		if choice != mimeJSON {
			// The '@' form that clients ask for is not a valid
			// Content-Type (Go's mime parser rejects it), so answer
			// with the dotted alias as upstream does.
			rep, contentType = h.v2Proto, mimeV2PBAlt
		}
		h.write(w, r, rep, contentType, "no-cache, private")
	case p == pathV3:
		if _, ok := negotiate(r.Header.Get("Accept"), []string{mimeJSON}); !ok {
			http.Error(w, "only application/json is served", http.StatusNotAcceptable)
			return
		}
		h.write(w, r, h.v3Index, mimeJSON, "no-cache, private")
	case strings.HasPrefix(p, pathV3+"/"):
		key := strings.TrimPrefix(p, pathV3+"/")
		rep, ok := h.v3Docs[key]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if _, ok := negotiate(r.Header.Get("Accept"), []string{mimeJSON}); !ok {
			http.Error(w, "only application/json is served", http.StatusNotAcceptable)
			return
		}
		cacheControl := "no-cache, private"
		if q := r.URL.Query(); q.Has("hash") {
			if q.Get("hash") != rep.hash {
				http.Redirect(w, r, pathV3+"/"+key+"?hash="+rep.hash, http.StatusMovedPermanently)
				return
			}
			cacheControl = "public, immutable"
		}
		h.write(w, r, rep, mimeJSON, cacheControl)
	default:
		http.NotFound(w, r)
	}
}

// write sends rep with validators and optional gzip encoding.
func (h *Handler) write(w http.ResponseWriter, r *http.Request, rep *representation, contentType, cacheControl string) {
	hdr := w.Header()
	hdr.Set("ETag", rep.etag())
	hdr.Set("Cache-Control", cacheControl)
	hdr.Add("Vary", "Accept")
	hdr.Add("Vary", "Accept-Encoding")
	if etagMatches(r.Header.Get("If-None-Match"), rep.etag()) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	hdr.Set("Content-Type", contentType)
	hdr.Set("X-Content-Type-Options", "nosniff")
	body := rep.body
	if acceptsGzip(r.Header.Get("Accept-Encoding")) {
		if gz := rep.gzipped(); gz != nil {
			body = gz
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
}

// etagMatches reports whether an If-None-Match header value matches etag,
// comparing weakly as RFC 9110 prescribes for If-None-Match.
func etagMatches(header, etag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == etag {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, q := mediaRange(part)
		if (name == "gzip" || name == "*") && q > 0 {
			return true
		}
	}
	return false
}

// mediaRange splits one Accept list element into its lower-cased value and
// its q parameter (1 when absent or malformed).
func mediaRange(part string) (string, float64) {
	fields := strings.Split(part, ";")
	name := strings.ToLower(strings.TrimSpace(fields[0]))
	q := 1.0
	for _, f := range fields[1:] {
		k, v, ok := strings.Cut(strings.TrimSpace(f), "=")
		if ok && strings.EqualFold(strings.TrimSpace(k), "q") {
			if parsed, err := strconv.ParseFloat(strings.TrimSpace(v), 64); err == nil {
				q = parsed
			}
		}
	}
	return name, q
}

// negotiate picks the offer the Accept header prefers. Each offer is rated by
// its most specific matching media range (exact, type/*, */*); the highest q
// wins, then the more specific match, then the range listed first by the
// client, then the earlier offer. A range with q=0 excludes the offers it
// rates. An empty header accepts the first offer. ok is false when no offer
// is acceptable.
func negotiate(accept string, offers []string) (choice string, ok bool) {
	if len(offers) == 0 {
		return "", false
	}
	if strings.TrimSpace(accept) == "" {
		return offers[0], true
	}
	parts := strings.Split(accept, ",")
	bestQ, bestSpec, bestIdx := 0.0, -1, len(parts)
	for _, offer := range offers {
		typ, _, _ := strings.Cut(offer, "/")
		q, spec, idx := 0.0, -1, -1
		for i, part := range parts {
			name, pq := mediaRange(part)
			s := -1
			switch {
			case name == strings.ToLower(offer):
				s = 2
			case name == typ+"/*":
				s = 1
			case name == "*/*" || name == "*":
				s = 0
			}
			if s > spec {
				q, spec, idx = pq, s, i
			}
		}
		if spec < 0 || q <= 0 {
			continue
		}
		if q > bestQ || (q == bestQ && (spec > bestSpec || (spec == bestSpec && idx < bestIdx))) {
			bestQ, bestSpec, bestIdx, choice, ok = q, spec, idx, offer, true
		}
	}
	return choice, ok
}
