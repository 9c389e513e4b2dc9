package openapi

// This file holds the version-neutral document model. The reflector and the
// path builder produce it; render.go turns it into Swagger 2.0 and OpenAPI 3.0
// JSON, and proto.go into the gnostic protobuf form of Swagger 2.0. Values of
// these types are built once and never mutated after New returns.

// schema is one JSON schema node. Exactly one of the following shapes is used:
//   - a reference: Ref is set (a definition name such as
//     "io.k8s.api.core.v1.Pod"); Description and Extensions may accompany it;
//   - a primitive: Type is "string", "integer", "number" or "boolean";
//   - an array: Type is "array" and Items is set;
//   - a map: Type is "object" and AdditionalProperties is set;
//   - a struct: Type is "object" and Properties lists the fields (possibly none);
//   - an arbitrary value: everything empty.
type schema struct {
	Ref                  string
	Description          string
	Type                 string
	Format               string
	Items                *schema
	AdditionalProperties *schema
	Properties           []property // sorted by Name
	Required             []string   // in field declaration order
	// OneOfTypes is rendered only in OpenAPI v3, as oneOf of primitive types
	// (resource.Quantity, intstr.IntOrString).
	OneOfTypes []string
	Extensions []extension // sorted by Name
}

// property is a named member of a struct schema.
type property struct {
	Name   string
	Schema *schema
}

// extension is an "x-" vendor extension. Value is one of string, bool,
// []gvkValue or gvkValue.
type extension struct {
	Name  string
	Value any
}

// gvkValue is the value shape of x-kubernetes-group-version-kind entries.
type gvkValue struct {
	Group   string `json:"group"`
	Kind    string `json:"kind"`
	Version string `json:"version"`
}

// definition is a named, top-level schema.
type definition struct {
	Name   string
	Schema *schema
}

// param is a non-body or body parameter of an operation.
type param struct {
	Name        string
	In          string // "query", "path" or "body"
	Description string
	Required    bool
	Type        string  // for query and path parameters
	UniqueItems bool    // upstream marks query parameters uniqueItems
	Schema      *schema // for body parameters
}

// response is one HTTP status code entry of an operation.
type response struct {
	Code        string
	Description string
	Schema      *schema // nil for responses without a body
}

// operation is one HTTP method on a path.
type operation struct {
	Method      string // lower case: get, put, post, delete, patch
	ID          string
	Description string
	Tags        []string
	Consumes    []string
	Produces    []string
	Params      []param
	Responses   []response
	Deprecated  bool
	Action      string    // x-kubernetes-action
	GVK         *gvkValue // x-kubernetes-group-version-kind
}

// pathItem is a URL path template with its shared parameters and operations.
type pathItem struct {
	Path   string
	Params []param
	Ops    []operation // ordered get, put, post, delete, patch
	// GroupVersion is the OpenAPI v3 document key this path belongs to,
	// e.g. "api/v1" or "apis/apps/v1".
	GroupVersion string
}

// document is the complete, version-neutral API description.
type document struct {
	Title       string
	Version     string
	Paths       []pathItem   // sorted by Path
	Definitions []definition // sorted by Name
}
