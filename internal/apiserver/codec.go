package apiserver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer/protobuf"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// maxBodyBytes is upstream's limit on a request body (3 MiB).
const maxBodyBytes = 3 * 1024 * 1024

// protobufType is Kubernetes' protobuf media type; client-go's typed
// clients send and prefer it for built-in kinds.
const protobufType = "application/vnd.kubernetes.protobuf"

// body is a request body: JSON (YAML is converted on reading) or
// Kubernetes protobuf.
type body struct {
	data  []byte
	proto bool
}

// readBody reads a request body up to maxBodyBytes and turns YAML into JSON.
func readBody(r *http.Request) (body, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxBodyBytes+1))
	if err != nil {
		return body{}, apierrors.NewBadRequest(fmt.Sprintf("unable to read request body: %v", err))
	}
	if len(data) > maxBodyBytes {
		return body{}, apierrors.NewRequestEntityTooLargeError(fmt.Sprintf("limit is %d", maxBodyBytes))
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "application/yaml", "application/apply-patch+yaml":
		j, err := yaml.YAMLToJSON(data)
		if err != nil {
			return body{}, apierrors.NewBadRequest(fmt.Sprintf("error converting YAML to JSON: %v", err))
		}
		data = j
	case protobufType:
		return body{data: data, proto: true}, nil
	}
	return body{data: data}, nil
}

// wire encodes and decodes the protobuf form of every served type.
type wire struct {
	scheme *runtime.Scheme
	pb     *protobuf.Serializer
}

func newWire() *wire {
	scheme := runtime.NewScheme()
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	return &wire{scheme: scheme, pb: protobuf.NewSerializer(scheme, scheme)}
}

// decodeInto decodes b into into. For JSON it returns the strict-decoding
// problems (unknown and duplicate fields) separately; protobuf has none.
// The returned kind is what the body says it is, if it says.
func (wr *wire) decodeInto(b body, into runtime.Object) (schema.GroupVersionKind, []error, error) {
	if b.proto {
		_, gvk, err := wr.pb.Decode(b.data, nil, into)
		if err != nil {
			return schema.GroupVersionKind{}, nil, err
		}
		return *gvk, nil, nil
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(b.data, &tm); err != nil {
		return schema.GroupVersionKind{}, nil, &unrecognizedError{data: b.data, err: err}
	}
	strictErrs, err := kjson.UnmarshalStrict(b.data, into, kjson.DisallowDuplicateFields, kjson.DisallowUnknownFields)
	return tm.GroupVersionKind(), strictErrs, err
}

// encode writes obj (with its TypeMeta set) as protobuf.
func (wr *wire) encode(obj runtime.Object) ([]byte, error) {
	var buf bytes.Buffer
	if err := wr.pb.Encode(obj, &buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// fieldValidation is the request's fieldValidation directive.
type fieldValidation string

const (
	validationIgnore fieldValidation = "Ignore"
	validationWarn   fieldValidation = "Warn"
	validationStrict fieldValidation = "Strict"
)

func parseFieldValidation(r *http.Request) (fieldValidation, error) {
	v := r.URL.Query().Get("fieldValidation")
	switch v {
	case "":
		return validationWarn, nil
	case "Ignore", "Warn", "Strict":
		return fieldValidation(v), nil
	}
	return "", apierrors.NewBadRequest(fmt.Sprintf("fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got %q", v))
}

// decodeObject decodes JSON into a new object of res's kind. The body's kind
// and apiVersion, when given, must be res's. Unknown and duplicate fields
// fail under Strict and become warnings under Warn.
func (wr *wire) decodeObject(res *resource, b body, fv fieldValidation) (runtime.Object, []string, error) {
	kind := res.GVK.Kind
	version := res.GVK.GroupVersion().String()
	cannot := func(err error) error {
		return apierrors.NewBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", kind, res.GVK.Version, kind, err))
	}
	obj := res.New()
	got, strictErrs, err := wr.decodeInto(b, obj)
	var unrecognized *unrecognizedError
	if errors.As(err, &unrecognized) {
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): couldn't get version/kind; json parse error: %v (%s)",
			kind, unrecognized.err, excerpt(unrecognized.data)))
	}
	// A body of another kind or version is refused in upstream's words.
	if (got.Version != "" && got.GroupVersion().String() != version) || (got.Kind != "" && got.Kind != kind) {
		bodyKind := got.Kind
		if bodyKind == "" {
			bodyKind = kind
		}
		prefix := fmt.Sprintf("%s in version %q cannot be handled as a %s", bodyKind, got.Version, kind)
		if got.Version == "" {
			got.Group, got.Version = res.GVK.Group, res.GVK.Version
		}
		if !wr.scheme.Recognizes(got) {
			return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s: no kind %q is registered for version %q", prefix, bodyKind, got.GroupVersion()))
		}
		return nil, nil, apierrors.NewBadRequest(fmt.Sprintf("%s: converting (%s) to (%s): unknown conversion", prefix, qualifiedKind(got), qualifiedKind(res.GVK)))
	}
	if err != nil {
		return nil, nil, cannot(err)
	}
	setTypeMeta(obj, res.GVK)
	warnings, err := strictness(strictErrs, fv, cannot)
	if err != nil {
		return nil, nil, err
	}
	return obj, warnings, nil
}

// unrecognizedError is a body whose kind and version cannot be read.
type unrecognizedError struct {
	data []byte
	err  error
}

func (e *unrecognizedError) Error() string { return e.err.Error() }

// excerpt is the start of a body for an error message, as upstream quotes it.
func excerpt(data []byte) string {
	if len(data) > 30 {
		return string(data[:30]) + " ..."
	}
	return string(data)
}

// qualifiedKind names a kind as package.Kind ("v1.Service", "apps.Deployment").
func qualifiedKind(gvk schema.GroupVersionKind) string {
	if gvk.Group == "" {
		return gvk.Version + "." + gvk.Kind
	}
	return strings.Split(gvk.Group, ".")[0] + "." + gvk.Kind
}

// strictness applies a fieldValidation directive to strict decoding errors.
func strictness(strictErrs []error, fv fieldValidation, wrap func(error) error) ([]string, error) {
	if len(strictErrs) == 0 || fv == validationIgnore {
		return nil, nil
	}
	msgs := make([]string, len(strictErrs))
	for i, e := range strictErrs {
		msgs[i] = e.Error()
	}
	if fv == validationStrict {
		return nil, wrap(fmt.Errorf("strict decoding error: %s", strings.Join(msgs, ", ")))
	}
	return msgs, nil
}

func setTypeMeta(obj runtime.Object, gvk schema.GroupVersionKind) {
	obj.GetObjectKind().SetGroupVersionKind(gvk)
}

// encodeForStorage is the stored form of obj: JSON with kind and apiVersion,
// without resourceVersion (the etcd revision is the version).
func encodeForStorage(res *resource, obj runtime.Object) ([]byte, error) {
	m, err := meta.Accessor(obj)
	if err != nil {
		return nil, err
	}
	rv := m.GetResourceVersion()
	m.SetResourceVersion("")
	defer m.SetResourceVersion(rv)
	setTypeMeta(obj, res.GVK)
	if res.View != nil {
		if obj, err = res.View.toStored(obj); err != nil {
			return nil, err
		}
	}
	return json.Marshal(obj)
}

// decodeStored decodes a stored value and stamps its revision.
func decodeStored(res *resource, data []byte, rev int64) (runtime.Object, error) {
	obj := res.New()
	if res.View != nil {
		var err error
		if obj, err = res.View.fromStored(data); err != nil {
			return nil, fmt.Errorf("decoding stored %s: %w", res.GVK.Kind, err)
		}
	} else if err := kjson.UnmarshalCaseSensitivePreserveInts(data, obj); err != nil {
		return nil, fmt.Errorf("decoding stored %s: %w", res.GVK.Kind, err)
	}
	setTypeMeta(obj, res.GVK)
	if rev > 0 {
		m, err := meta.Accessor(obj)
		if err != nil {
			return nil, err
		}
		m.SetResourceVersion(strconv.FormatInt(rev, 10))
	}
	return obj, nil
}

var metadataOpen = []byte(`"metadata":{`)

// withResourceVersion returns a stored value with metadata.resourceVersion
// set to rev, without decoding it: lists and watches send stored bytes
// as they are.
func withResourceVersion(stored []byte, rev int64) []byte {
	i := bytes.Index(stored, metadataOpen)
	if i < 0 {
		return stored
	}
	at := i + len(metadataOpen)
	field := `"resourceVersion":"` + strconv.FormatInt(rev, 10) + `"`
	if at < len(stored) && stored[at] != '}' {
		field += ","
	}
	out := make([]byte, 0, len(stored)+len(field))
	out = append(out, stored[:at]...)
	out = append(out, field...)
	return append(out, stored[at:]...)
}

// withoutTypeMeta drops the leading kind and apiVersion of a stored value
// (json.Marshal of our types always writes them first): list items carry
// none, as upstream's do. Anything else is returned as it is.
func withoutTypeMeta(stored []byte) []byte {
	const kindPrefix, versionField = `{"kind":"`, `","apiVersion":"`
	if !bytes.HasPrefix(stored, []byte(kindPrefix)) {
		return stored
	}
	rest := stored[len(kindPrefix):]
	i := bytes.Index(rest, []byte(versionField))
	if i < 0 || bytes.IndexByte(rest[:i], '"') >= 0 {
		return stored
	}
	rest = rest[i+len(versionField):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 || len(rest) < j+2 || rest[j+1] != ',' {
		return stored
	}
	out := make([]byte, 0, len(stored))
	out = append(out, '{')
	return append(out, rest[j+2:]...)
}

// output is how a response is to be rendered.
type output struct {
	table bool
	yaml  bool
	proto bool
	// partial: PartialObjectMetadata(List) was asked for.
	partial bool
}

// negotiate reads Accept. JSON is the default; YAML, Table and
// PartialObjectMetadata are offered; anything else is 406.
func negotiate(r *http.Request) (output, error) {
	accept := r.Header.Get("Accept")
	if accept == "" {
		return output{}, nil
	}
	for _, part := range strings.Split(accept, ",") {
		mt, params, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case "application/json", "*/*", "application/*":
			switch params["as"] {
			case "":
				return output{}, nil
			case "Table":
				if params["g"] == "meta.k8s.io" && (params["v"] == "v1" || params["v"] == "v1beta1") {
					return output{table: true}, nil
				}
			case "PartialObjectMetadata", "PartialObjectMetadataList":
				if params["g"] == "meta.k8s.io" && params["v"] == "v1" {
					return output{partial: true}, nil
				}
			}
		case "application/yaml":
			if params["as"] == "" {
				return output{yaml: true}, nil
			}
		case protobufType:
			if params["as"] == "" {
				return output{proto: true}, nil
			}
		}
	}
	return output{}, apierrors.NewGenericServerResponse(http.StatusNotAcceptable, "", schema.GroupResource{}, "",
		"only the following media types are accepted: application/json, application/yaml, application/json;as=Table;v=v1;g=meta.k8s.io", 0, false)
}

// writeJSON writes v as the response body.
func writeJSON(w http.ResponseWriter, code int, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeRaw(w, code, "application/json", data)
}

func writeRaw(w http.ResponseWriter, code int, contentType string, data []byte) {
	w.Header().Set("Content-Type", contentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(code)
	_, _ = w.Write(data)
}

// writeEncoded writes JSON bytes in the negotiated format (JSON or YAML).
func writeEncoded(w http.ResponseWriter, code int, out output, data []byte) {
	if out.yaml {
		y, err := yaml.JSONToYAML(data)
		if err == nil {
			writeRaw(w, code, "application/yaml", y)
			return
		}
	}
	writeRaw(w, code, "application/json", data)
}
