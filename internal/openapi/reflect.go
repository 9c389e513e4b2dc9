package openapi

import (
	"fmt"
	"reflect"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// Vendor extension names used in generated schemas and operations.
const (
	extGVK           = "x-kubernetes-group-version-kind"
	extPatchStrategy = "x-kubernetes-patch-strategy"
	extPatchMergeKey = "x-kubernetes-patch-merge-key"
	extIntOrString   = "x-kubernetes-int-or-string"
	extPreserve      = "x-kubernetes-preserve-unknown-fields"
	extAction        = "x-kubernetes-action"
)

// Interfaces implemented by k8s.io API types that the reflector consults.
type (
	swaggerDocer        interface{ SwaggerDoc() map[string]string }
	modelNamer          interface{ OpenAPIModelName() string }
	openAPITyper        interface{ OpenAPISchemaType() []string }
	openAPIFormatter    interface{ OpenAPISchemaFormat() string }
	openAPIV3OneOfTyper interface{ OpenAPIV3OneOfTypes() []string }
)

var (
	fieldsV1Type     = reflect.TypeFor[metav1.FieldsV1]()
	rawExtensionType = reflect.TypeFor[runtime.RawExtension]()
)

// fallbackDescriptions documents the wire-special types that carry no
// SwaggerDoc method of their own.
var fallbackDescriptions = map[string]string{
	"io.k8s.apimachinery.pkg.apis.meta.v1.Time":       "Time is a timestamp serialized as an RFC 3339 string (second precision). It is encoded as null or omitted when unset.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime":  "MicroTime is a timestamp serialized as an RFC 3339 string with microsecond precision.",
	"io.k8s.apimachinery.pkg.apis.meta.v1.Duration":   "Duration is a time span serialized as a Go duration string such as \"1h30m\".",
	"io.k8s.apimachinery.pkg.api.resource.Quantity":   "Quantity is a fixed-point number written as a string with an optional suffix: binary SI (Ki, Mi, Gi, Ti, Pi, Ei), decimal SI (m, \"\", k, M, G, T, P, E) or a decimal exponent (e.g. 12e6). The serialized form is canonical; e.g. \"1.5Gi\" or \"100m\". Numbers are accepted on input.",
	"io.k8s.apimachinery.pkg.util.intstr.IntOrString": "IntOrString holds either an int32 or a string. In JSON and YAML it is written and read as the inner type, so a field can accept, for example, a port name or a port number.",
	"io.k8s.apimachinery.pkg.runtime.RawExtension":    "RawExtension holds an embedded object of any kind, serialized as a nested JSON object with its own apiVersion and kind.",
}

// reflector turns Go API types into schema definitions. It is single-use and
// not safe for concurrent use; build() hands its results out as immutable
// values.
type reflector struct {
	defs  map[string]*schema      // definition name -> schema (nil while being built)
	names map[reflect.Type]string // memoised definition names
	owner map[string]reflect.Type // definition name -> type, to detect clashes
	gvks  map[string][]gvkValue   // definition name -> GVKs
	docs  map[reflect.Type]map[string]string
}

func newReflector() *reflector {
	return &reflector{
		defs:  map[string]*schema{},
		names: map[reflect.Type]string{},
		owner: map[string]reflect.Type{},
		gvks:  map[string][]gvkValue{},
		docs:  map[reflect.Type]map[string]string{},
	}
}

// definitionName returns the upstream-style OpenAPI definition name of a
// named type: the type's OpenAPIModelName() when it has one, otherwise the
// reversed-domain package path joined with the type name
// (k8s.io/api/core/v1.Pod -> io.k8s.api.core.v1.Pod).
func definitionName(t reflect.Type) string {
	if m, ok := reflect.Zero(t).Interface().(modelNamer); ok {
		if n := m.OpenAPIModelName(); n != "" {
			return n
		}
	}
	return packageToDefinitionPrefix(t.PkgPath()) + "." + t.Name()
}

// packageToDefinitionPrefix maps a Go import path to the dotted prefix used by
// upstream definition names: the host element is reversed and the remaining
// elements are appended, with '-' replaced by '_'.
// "k8s.io/apimachinery/pkg/apis/meta/v1" -> "io.k8s.apimachinery.pkg.apis.meta.v1".
func packageToDefinitionPrefix(pkg string) string {
	parts := strings.Split(pkg, "/")
	var out []string
	if len(parts) > 0 && strings.Contains(parts[0], ".") {
		host := strings.Split(parts[0], ".")
		for i := len(host) - 1; i >= 0; i-- {
			out = append(out, host[i])
		}
		parts = parts[1:]
	}
	out = append(out, parts...)
	return strings.ReplaceAll(strings.Join(out, "."), "-", "_")
}

// typeDocs returns the SwaggerDoc map of t (empty when t has none).
func (r *reflector) typeDocs(t reflect.Type) map[string]string {
	if d, ok := r.docs[t]; ok {
		return d
	}
	var d map[string]string
	if t.Kind() == reflect.Struct || t.Name() != "" {
		if s, ok := reflect.Zero(t).Interface().(swaggerDocer); ok {
			d = s.SwaggerDoc()
		} else if s, ok := reflect.New(t).Interface().(swaggerDocer); ok {
			d = s.SwaggerDoc()
		}
	}
	if d == nil {
		d = map[string]string{}
	}
	r.docs[t] = d
	return d
}

// ref ensures a definition exists for the named type t and returns its name.
func (r *reflector) ref(t reflect.Type) (string, error) {
	if n, ok := r.names[t]; ok {
		return n, nil
	}
	name := definitionName(t)
	if prev, ok := r.owner[name]; ok && prev != t {
		return "", fmt.Errorf("openapi: definition name %q used by both %v and %v", name, prev, t)
	}
	r.names[t] = name
	r.owner[name] = t
	r.defs[name] = nil // placeholder breaks cycles
	s, err := r.definitionSchema(t, name)
	if err != nil {
		return "", err
	}
	r.defs[name] = s
	return name, nil
}

// isSpecial reports whether t has a dedicated wire form and must not be
// reflected field by field.
func isSpecial(t reflect.Type) bool {
	if t == fieldsV1Type || t == rawExtensionType {
		return true
	}
	_, ok := reflect.Zero(t).Interface().(openAPITyper)
	return ok
}

// definitionSchema builds the body of the definition for named type t.
func (r *reflector) definitionSchema(t reflect.Type, name string) (*schema, error) {
	desc := r.typeDocs(t)[""]
	if desc == "" {
		desc = fallbackDescriptions[name]
	}
	if t == fieldsV1Type || t == rawExtensionType {
		return &schema{Type: "object", Description: desc}, nil
	}
	zero := reflect.Zero(t).Interface()
	if typer, ok := zero.(openAPITyper); ok {
		s := &schema{Description: desc}
		if types := typer.OpenAPISchemaType(); len(types) > 0 {
			s.Type = types[0]
		}
		if f, ok := zero.(openAPIFormatter); ok {
			s.Format = f.OpenAPISchemaFormat()
		}
		if o, ok := zero.(openAPIV3OneOfTyper); ok {
			s.OneOfTypes = o.OpenAPIV3OneOfTypes()
		}
		if s.Format == "int-or-string" {
			s.Extensions = []extension{{Name: extIntOrString, Value: true}}
		}
		return s, nil
	}
	if t.Kind() == reflect.Struct {
		s, err := r.structSchema(t)
		if err != nil {
			return nil, fmt.Errorf("openapi: %s: %w", name, err)
		}
		s.Description = desc
		return s, nil
	}
	s, err := r.inlineSchema(t)
	if err != nil {
		return nil, err
	}
	s.Description = desc
	return s, nil
}

// collectedField is a struct member found while flattening inline embeds.
type collectedField struct {
	name     string
	depth    int
	schema   *schema
	required bool
}

// structSchema builds an object schema from the JSON-visible fields of t,
// flattening anonymous (and ",inline") struct embeds as encoding/json does.
func (r *reflector) structSchema(t reflect.Type) (*schema, error) {
	var fields []collectedField
	if err := r.collectFields(t, 0, &fields); err != nil {
		return nil, err
	}
	s := &schema{Type: "object", Properties: []property{}}
	for _, f := range fields {
		s.Properties = append(s.Properties, property{Name: f.name, Schema: f.schema})
		if f.required {
			s.Required = append(s.Required, f.name)
		}
	}
	sort.Slice(s.Properties, func(i, j int) bool { return s.Properties[i].Name < s.Properties[j].Name })
	return s, nil
}

// parseJSONTag splits a `json` struct tag into its name and option set.
func parseJSONTag(tag string) (name string, opts map[string]bool) {
	parts := strings.Split(tag, ",")
	opts = map[string]bool{}
	for _, o := range parts[1:] {
		opts[o] = true
	}
	return parts[0], opts
}

func (r *reflector) collectFields(t reflect.Type, depth int, out *[]collectedField) error {
	docs := r.typeDocs(t)
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, hasTag := f.Tag.Lookup("json")
		name, opts := parseJSONTag(tag)
		if hasTag && tag == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct && !isSpecial(et) {
				if err := r.collectFields(et, depth+1, out); err != nil {
					return err
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		fs, err := r.fieldSchema(f.Type)
		if err != nil {
			return fmt.Errorf("field %s.%s: %w", t.Name(), f.Name, err)
		}
		if d := docs[name]; d != "" {
			fs.Description = d
		}
		var ext []extension
		if v := f.Tag.Get("patchMergeKey"); v != "" {
			ext = append(ext, extension{Name: extPatchMergeKey, Value: v})
		}
		if v := f.Tag.Get("patchStrategy"); v != "" {
			ext = append(ext, extension{Name: extPatchStrategy, Value: v})
		}
		fs.Extensions = append(fs.Extensions, ext...)
		sort.Slice(fs.Extensions, func(i, j int) bool { return fs.Extensions[i].Name < fs.Extensions[j].Name })
		cf := collectedField{
			name:     name,
			depth:    depth,
			schema:   fs,
			required: isRequired(t, f, opts),
		}
		replaced := false
		for j := range *out {
			if (*out)[j].name == name {
				if (*out)[j].depth > depth {
					(*out)[j] = cf
				}
				replaced = true
				break
			}
		}
		if !replaced {
			*out = append(*out, cf)
		}
	}
	return nil
}

// isRequired decides from a field's Go type and json options whether the
// schema lists it as required. Upstream marks a field required when it lacks
// omitempty and has no "+optional" comment; comments are not visible to
// reflection, so pointer fields (which are nearly always optional) are
// treated as optional too, except the few upstream requires.
func isRequired(owner reflect.Type, f reflect.StructField, opts map[string]bool) bool {
	if opts["omitempty"] || opts["omitzero"] {
		return false
	}
	return f.Type.Kind() != reflect.Pointer || requiredPointers[owner.PkgPath()+"."+owner.Name()+"."+f.Name]
}

// requiredPointers are the pointer fields without omitempty that upstream
// requires (they carry no "+optional" comment).
var requiredPointers = map[string]bool{
	"k8s.io/api/apps/v1.DeploymentSpec.Selector":       true,
	"k8s.io/api/apps/v1.ReplicaSetSpec.Selector":       true,
	"k8s.io/api/apps/v1.DaemonSetSpec.Selector":        true,
	"k8s.io/api/apps/v1.StatefulSetSpec.Selector":      true,
	"k8s.io/api/core/v1.ScaleIOVolumeSource.SecretRef": true,
}

// fieldSchema returns a fresh schema for a field of type t: a reference for
// named struct and special types, an inline schema otherwise. The returned
// node is owned by the caller, which may set its description and extensions.
func (r *reflector) fieldSchema(t reflect.Type) (*schema, error) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" && t.PkgPath() != "" && (t.Kind() == reflect.Struct || isSpecial(t)) {
		n, err := r.ref(t)
		if err != nil {
			return nil, err
		}
		return &schema{Ref: n}, nil
	}
	return r.inlineSchema(t)
}

// inlineSchema maps a non-referenced Go type to its JSON schema.
func (r *reflector) inlineSchema(t reflect.Type) (*schema, error) {
	switch t.Kind() {
	case reflect.Pointer:
		return r.fieldSchema(t.Elem())
	case reflect.Bool:
		return &schema{Type: "boolean"}, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32,
		reflect.Uint8, reflect.Uint16, reflect.Uint32:
		return &schema{Type: "integer", Format: "int32"}, nil
	case reflect.Int64, reflect.Uint, reflect.Uint64, reflect.Uintptr:
		return &schema{Type: "integer", Format: "int64"}, nil
	case reflect.Float32:
		return &schema{Type: "number", Format: "float"}, nil
	case reflect.Float64:
		return &schema{Type: "number", Format: "double"}, nil
	case reflect.String:
		return &schema{Type: "string"}, nil
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return &schema{Type: "string", Format: "byte"}, nil
		}
		items, err := r.fieldSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &schema{Type: "array", Items: items}, nil
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			return nil, fmt.Errorf("map key %v is not a string", t.Key())
		}
		v, err := r.fieldSchema(t.Elem())
		if err != nil {
			return nil, err
		}
		return &schema{Type: "object", AdditionalProperties: v}, nil
	case reflect.Struct:
		return r.structSchema(t)
	case reflect.Interface:
		return &schema{Type: "object", Extensions: []extension{{Name: extPreserve, Value: true}}}, nil
	default:
		return nil, fmt.Errorf("unsupported Go kind %v", t.Kind())
	}
}

// addGVK records that the named type t is served as gvk.
func (r *reflector) addGVK(t reflect.Type, gvk gvkValue) error {
	n, err := r.ref(t)
	if err != nil {
		return err
	}
	for _, g := range r.gvks[n] {
		if g == gvk {
			return nil
		}
	}
	r.gvks[n] = append(r.gvks[n], gvk)
	return nil
}

// definitions returns every definition reached so far, sorted by name, with
// x-kubernetes-group-version-kind extensions attached.
func (r *reflector) definitions() []definition {
	out := make([]definition, 0, len(r.defs))
	for n, s := range r.defs {
		if g := r.gvks[n]; len(g) > 0 {
			cp := *s
			list := append([]gvkValue(nil), g...)
			sort.Slice(list, func(i, j int) bool {
				a, b := list[i], list[j]
				if a.Group != b.Group {
					return a.Group < b.Group
				}
				if a.Version != b.Version {
					return a.Version < b.Version
				}
				return a.Kind < b.Kind
			})
			cp.Extensions = append(append([]extension(nil), s.Extensions...), extension{Name: extGVK, Value: list})
			sort.Slice(cp.Extensions, func(i, j int) bool { return cp.Extensions[i].Name < cp.Extensions[j].Name })
			s = &cp
		}
		out = append(out, definition{Name: n, Schema: s})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}
