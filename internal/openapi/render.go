package openapi

import (
	"bytes"
	"encoding/json"
	"sort"
)

// Reference prefixes of the two document formats.
const (
	v2RefPrefix = "#/definitions/"
	v3RefPrefix = "#/components/schemas/"
)

// encodeJSON marshals v without HTML escaping (descriptions contain '<', '>'
// and '&') and without a trailing newline. Map keys come out sorted, so the
// output is deterministic.
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// putExtensions copies vendor extensions into m.
func putExtensions(m map[string]any, exts []extension) {
	for _, e := range exts {
		m[e.Name] = e.Value
	}
}

// v2Schema renders s in Swagger 2.0 form: references may carry a sibling
// description, oneOf is not representable and is dropped.
func v2Schema(s *schema) map[string]any {
	m := map[string]any{}
	if s.Ref != "" {
		m["$ref"] = v2RefPrefix + s.Ref
	}
	if s.Description != "" {
		m["description"] = s.Description
	}
	if s.Type != "" {
		m["type"] = s.Type
	}
	if s.Format != "" {
		m["format"] = s.Format
	}
	if s.Items != nil {
		m["items"] = v2Schema(s.Items)
	}
	if s.AdditionalProperties != nil {
		m["additionalProperties"] = v2Schema(s.AdditionalProperties)
	}
	if len(s.Properties) > 0 {
		props := make(map[string]any, len(s.Properties))
		for _, p := range s.Properties {
			props[p.Name] = v2Schema(p.Schema)
		}
		m["properties"] = props
	}
	if len(s.Required) > 0 {
		m["required"] = s.Required
	}
	putExtensions(m, s.Extensions)
	return m
}

// v3Schema renders s in OpenAPI 3.0 form. A reference with a description or
// extensions is wrapped in a single-element allOf, because siblings of $ref
// are ignored in OpenAPI 3.0; primitive alternatives become oneOf.
func v3Schema(s *schema) map[string]any {
	m := map[string]any{}
	if s.Ref != "" {
		ref := map[string]any{"$ref": v3RefPrefix + s.Ref}
		if s.Description == "" && len(s.Extensions) == 0 {
			return ref
		}
		m["allOf"] = []any{ref}
	}
	if s.Description != "" {
		m["description"] = s.Description
	}
	if len(s.OneOfTypes) > 0 {
		alts := make([]any, 0, len(s.OneOfTypes))
		for _, t := range s.OneOfTypes {
			alts = append(alts, map[string]any{"type": t})
		}
		m["oneOf"] = alts
	} else if s.Type != "" {
		m["type"] = s.Type
	}
	if s.Format != "" {
		m["format"] = s.Format
	}
	if s.Items != nil {
		m["items"] = v3Schema(s.Items)
	}
	if s.AdditionalProperties != nil {
		m["additionalProperties"] = v3Schema(s.AdditionalProperties)
	}
	if len(s.Properties) > 0 {
		props := make(map[string]any, len(s.Properties))
		for _, p := range s.Properties {
			props[p.Name] = v3Schema(p.Schema)
		}
		m["properties"] = props
	}
	if len(s.Required) > 0 {
		m["required"] = s.Required
	}
	putExtensions(m, s.Extensions)
	return m
}

// opExtensions renders the Kubernetes extensions of an operation.
func opExtensions(m map[string]any, op operation) {
	if op.Action != "" {
		m[extAction] = op.Action
	}
	if op.GVK != nil {
		m[extGVK] = *op.GVK
	}
	if op.Deprecated {
		m["deprecated"] = true
	}
}

func v2Param(p param) map[string]any {
	m := map[string]any{"name": p.Name, "in": p.In}
	if p.Description != "" {
		m["description"] = p.Description
	}
	if p.Required {
		m["required"] = true
	}
	if p.In == "body" {
		m["schema"] = v2Schema(p.Schema)
		return m
	}
	m["type"] = p.Type
	if p.UniqueItems {
		m["uniqueItems"] = true
	}
	return m
}

func v2Params(ps []param) []any {
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		out = append(out, v2Param(p))
	}
	return out
}

func v2Operation(op operation) map[string]any {
	m := map[string]any{
		"description": op.Description,
		"operationId": op.ID,
		"schemes":     []string{"https"},
	}
	if len(op.Tags) > 0 {
		m["tags"] = op.Tags
	}
	if len(op.Consumes) > 0 {
		m["consumes"] = op.Consumes
	}
	if len(op.Produces) > 0 {
		m["produces"] = op.Produces
	}
	if len(op.Params) > 0 {
		m["parameters"] = v2Params(op.Params)
	}
	resps := map[string]any{}
	for _, r := range op.Responses {
		rm := map[string]any{"description": r.Description}
		if r.Schema != nil {
			rm["schema"] = v2Schema(r.Schema)
		}
		resps[r.Code] = rm
	}
	m["responses"] = resps
	opExtensions(m, op)
	return m
}

// renderV2 renders the whole document as a Swagger 2.0 JSON object.
func renderV2(doc *document) map[string]any {
	paths := make(map[string]any, len(doc.Paths))
	for _, pi := range doc.Paths {
		pm := map[string]any{}
		if len(pi.Params) > 0 {
			pm["parameters"] = v2Params(pi.Params)
		}
		for _, op := range pi.Ops {
			pm[op.Method] = v2Operation(op)
		}
		paths[pi.Path] = pm
	}
	defs := make(map[string]any, len(doc.Definitions))
	for _, d := range doc.Definitions {
		defs[d.Name] = v2Schema(d.Schema)
	}
	return map[string]any{
		"swagger":     "2.0",
		"info":        map[string]any{"title": doc.Title, "version": doc.Version},
		"paths":       paths,
		"definitions": defs,
	}
}

func v3Param(p param) map[string]any {
	m := map[string]any{"name": p.Name, "in": p.In}
	if p.Description != "" {
		m["description"] = p.Description
	}
	if p.Required {
		m["required"] = true
	}
	s := map[string]any{"type": p.Type}
	if p.UniqueItems {
		s["uniqueItems"] = true
	}
	m["schema"] = s
	return m
}

// v3Params renders the non-body parameters of ps.
func v3Params(ps []param) []any {
	out := make([]any, 0, len(ps))
	for _, p := range ps {
		if p.In != "body" {
			out = append(out, v3Param(p))
		}
	}
	return out
}

// v3Content maps each media type to the same schema.
func v3Content(types []string, s *schema) map[string]any {
	rendered := v3Schema(s)
	c := make(map[string]any, len(types))
	for _, t := range types {
		c[t] = map[string]any{"schema": rendered}
	}
	return c
}

func v3Operation(op operation) map[string]any {
	m := map[string]any{
		"description": op.Description,
		"operationId": op.ID,
	}
	if len(op.Tags) > 0 {
		m["tags"] = op.Tags
	}
	if ps := v3Params(op.Params); len(ps) > 0 {
		m["parameters"] = ps
	}
	for _, p := range op.Params {
		if p.In == "body" {
			consumes := op.Consumes
			if len(consumes) == 0 {
				consumes = anyMediaType
			}
			rb := map[string]any{"content": v3Content(consumes, p.Schema)}
			if p.Required {
				rb["required"] = true
			}
			m["requestBody"] = rb
		}
	}
	resps := map[string]any{}
	for _, r := range op.Responses {
		rm := map[string]any{"description": r.Description}
		if r.Schema != nil {
			produces := op.Produces
			if len(produces) == 0 {
				produces = []string{"application/json"}
			}
			rm["content"] = v3Content(produces, r.Schema)
		}
		resps[r.Code] = rm
	}
	m["responses"] = resps
	opExtensions(m, op)
	return m
}

// collectRefs adds to seen every definition name reachable from s, following
// references through defs.
func collectRefs(s *schema, defs map[string]*schema, seen map[string]bool) {
	if s == nil {
		return
	}
	if s.Ref != "" && !seen[s.Ref] {
		seen[s.Ref] = true
		collectRefs(defs[s.Ref], defs, seen)
	}
	collectRefs(s.Items, defs, seen)
	collectRefs(s.AdditionalProperties, defs, seen)
	for _, p := range s.Properties {
		collectRefs(p.Schema, defs, seen)
	}
}

// renderV3 renders the OpenAPI 3.0 document of one group-version: the paths
// whose GroupVersion is gvKey and every schema they reach. v3Defs caches
// rendered schemas across calls and is filled on demand.
func renderV3(doc *document, gvKey string, defs map[string]*schema, v3Defs map[string]map[string]any) map[string]any {
	paths := map[string]any{}
	seen := map[string]bool{}
	for _, pi := range doc.Paths {
		if pi.GroupVersion != gvKey {
			continue
		}
		pm := map[string]any{}
		if ps := v3Params(pi.Params); len(ps) > 0 {
			pm["parameters"] = ps
		}
		for _, op := range pi.Ops {
			pm[op.Method] = v3Operation(op)
			for _, p := range op.Params {
				collectRefs(p.Schema, defs, seen)
			}
			for _, r := range op.Responses {
				collectRefs(r.Schema, defs, seen)
			}
		}
		paths[pi.Path] = pm
	}
	names := make([]string, 0, len(seen))
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	schemas := make(map[string]any, len(names))
	for _, n := range names {
		r, ok := v3Defs[n]
		if !ok {
			r = v3Schema(defs[n])
			v3Defs[n] = r
		}
		schemas[n] = r
	}
	return map[string]any{
		"openapi":    "3.0.0",
		"info":       map[string]any{"title": doc.Title, "version": doc.Version},
		"paths":      paths,
		"components": map[string]any{"schemas": schemas},
	}
}
