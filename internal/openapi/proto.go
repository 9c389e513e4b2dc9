package openapi

import (
	"encoding/json"
	"sort"

	"google.golang.org/protobuf/encoding/protowire"
)

// This file encodes the Swagger 2.0 document in the protobuf wire format of
// gnostic's openapi.v2.Document message, which client-go's
// DiscoveryClient.OpenAPISchema requests and decodes (it accepts nothing
// else). Only the fields that the generated documents use are written; field
// numbers follow gnostic's OpenAPIv2.proto.

// Field numbers of the gnostic openapi.v2 messages.
const (
	docSwagger     protowire.Number = 1
	docInfo        protowire.Number = 2
	docPaths       protowire.Number = 8
	docDefinitions protowire.Number = 9

	infoTitle   protowire.Number = 1
	infoVersion protowire.Number = 2

	namedName  protowire.Number = 1 // every Named* message: name = 1, value = 2
	namedValue protowire.Number = 2

	pathsPath         protowire.Number = 2
	definitionsAdd    protowire.Number = 1 // Definitions/Properties.additional_properties
	pathItemParams    protowire.Number = 9
	anyYAML           protowire.Number = 2
	schemaRef         protowire.Number = 1
	schemaFormat      protowire.Number = 2
	schemaDescription protowire.Number = 4
	schemaRequired    protowire.Number = 19
	schemaAddProps    protowire.Number = 21
	schemaType        protowire.Number = 22
	schemaItems       protowire.Number = 23
	schemaProperties  protowire.Number = 25
	schemaVendorExt   protowire.Number = 31

	opTags        protowire.Number = 1
	opDescription protowire.Number = 3
	opID          protowire.Number = 5
	opProduces    protowire.Number = 6
	opConsumes    protowire.Number = 7
	opParameters  protowire.Number = 8
	opResponses   protowire.Number = 9
	opSchemes     protowire.Number = 10
	opDeprecated  protowire.Number = 11
	opVendorExt   protowire.Number = 13

	paramsItemParameter protowire.Number = 1 // ParametersItem.parameter
	parameterBody       protowire.Number = 1 // Parameter.body_parameter
	parameterNonBody    protowire.Number = 2 // Parameter.non_body_parameter
	nonBodyQuery        protowire.Number = 3
	nonBodyPath         protowire.Number = 4

	responsesCode      protowire.Number = 1
	responseValueResp  protowire.Number = 1
	responseDesc       protowire.Number = 1
	responseSchema     protowire.Number = 2
	schemaItemSchema   protowire.Number = 1
	wrapperFirstSchema protowire.Number = 1 // ItemsItem.schema, AdditionalPropertiesItem.schema, TypeItem.value
)

// pathItemMethodField maps an HTTP method to its PathItem field number.
var pathItemMethodField = map[string]protowire.Number{
	"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8,
}

func pbString(b []byte, n protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func pbStrings(b []byte, n protowire.Number, ss []string) []byte {
	for _, s := range ss {
		b = protowire.AppendTag(b, n, protowire.BytesType)
		b = protowire.AppendString(b, s)
	}
	return b
}

func pbBool(b []byte, n protowire.Number, v bool) []byte {
	if !v {
		return b
	}
	b = protowire.AppendTag(b, n, protowire.VarintType)
	return protowire.AppendVarint(b, 1)
}

func pbMessage(b []byte, n protowire.Number, msg []byte) []byte {
	b = protowire.AppendTag(b, n, protowire.BytesType)
	return protowire.AppendBytes(b, msg)
}

// pbNamedAny encodes a NamedAny whose Any carries the value as YAML text
// (JSON is valid YAML, which is what clients parse the field with).
func pbNamedAny(b []byte, n protowire.Number, name string, value any) ([]byte, error) {
	text, err := json.Marshal(value)
	if err != nil {
		return nil, err
	}
	anyMsg := pbString(nil, anyYAML, string(text)+"\n")
	entry := pbString(nil, namedName, name)
	entry = pbMessage(entry, namedValue, anyMsg)
	return pbMessage(b, n, entry), nil
}

func pbExtensions(b []byte, n protowire.Number, exts []extension) ([]byte, error) {
	var err error
	for _, e := range exts {
		if b, err = pbNamedAny(b, n, e.Name, e.Value); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// pbSchema encodes s as an openapi.v2.Schema message body.
func pbSchema(s *schema) ([]byte, error) {
	var b []byte
	if s.Ref != "" {
		b = pbString(b, schemaRef, v2RefPrefix+s.Ref)
	}
	b = pbString(b, schemaFormat, s.Format)
	b = pbString(b, schemaDescription, s.Description)
	b = pbStrings(b, schemaRequired, s.Required)
	if s.AdditionalProperties != nil {
		inner, err := pbSchema(s.AdditionalProperties)
		if err != nil {
			return nil, err
		}
		b = pbMessage(b, schemaAddProps, pbMessage(nil, wrapperFirstSchema, inner))
	}
	if s.Type != "" {
		b = pbMessage(b, schemaType, pbString(nil, wrapperFirstSchema, s.Type))
	}
	if s.Items != nil {
		inner, err := pbSchema(s.Items)
		if err != nil {
			return nil, err
		}
		b = pbMessage(b, schemaItems, pbMessage(nil, wrapperFirstSchema, inner))
	}
	if len(s.Properties) > 0 {
		var props []byte
		for _, p := range s.Properties {
			inner, err := pbSchema(p.Schema)
			if err != nil {
				return nil, err
			}
			entry := pbString(nil, namedName, p.Name)
			entry = pbMessage(entry, namedValue, inner)
			props = pbMessage(props, definitionsAdd, entry)
		}
		b = pbMessage(b, schemaProperties, props)
	}
	return pbExtensions(b, schemaVendorExt, s.Extensions)
}

// pbParam encodes p as an openapi.v2.ParametersItem message body.
func pbParam(p param) ([]byte, error) {
	var parameter []byte
	if p.In == "body" {
		s, err := pbSchema(p.Schema)
		if err != nil {
			return nil, err
		}
		var body []byte
		body = pbString(body, 1, p.Description)
		body = pbString(body, 2, p.Name)
		body = pbString(body, 3, p.In)
		body = pbBool(body, 4, p.Required)
		body = pbMessage(body, 5, s)
		parameter = pbMessage(nil, parameterBody, body)
	} else {
		// QueryParameterSubSchema and PathParameterSubSchema share field
		// numbers 1-4; type and uniqueItems differ.
		var sub []byte
		sub = pbBool(sub, 1, p.Required)
		sub = pbString(sub, 2, p.In)
		sub = pbString(sub, 3, p.Description)
		sub = pbString(sub, 4, p.Name)
		kind := nonBodyQuery
		if p.In == "path" {
			kind = nonBodyPath
			sub = pbString(sub, 5, p.Type)
			sub = pbBool(sub, 19, p.UniqueItems)
		} else {
			sub = pbString(sub, 6, p.Type)
			sub = pbBool(sub, 20, p.UniqueItems)
		}
		parameter = pbMessage(nil, parameterNonBody, pbMessage(nil, kind, sub))
	}
	return pbMessage(nil, paramsItemParameter, parameter), nil
}

func pbParams(b []byte, n protowire.Number, ps []param) ([]byte, error) {
	for _, p := range ps {
		enc, err := pbParam(p)
		if err != nil {
			return nil, err
		}
		b = pbMessage(b, n, enc)
	}
	return b, nil
}

// pbOperation encodes op as an openapi.v2.Operation message body.
func pbOperation(op operation) ([]byte, error) {
	var b []byte
	var err error
	b = pbStrings(b, opTags, op.Tags)
	b = pbString(b, opDescription, op.Description)
	b = pbString(b, opID, op.ID)
	b = pbStrings(b, opProduces, op.Produces)
	b = pbStrings(b, opConsumes, op.Consumes)
	if b, err = pbParams(b, opParameters, op.Params); err != nil {
		return nil, err
	}
	resps := append([]response(nil), op.Responses...)
	sort.Slice(resps, func(i, j int) bool { return resps[i].Code < resps[j].Code })
	var rb []byte
	for _, r := range resps {
		resp := pbString(nil, responseDesc, r.Description)
		if r.Schema != nil {
			s, err := pbSchema(r.Schema)
			if err != nil {
				return nil, err
			}
			resp = pbMessage(resp, responseSchema, pbMessage(nil, schemaItemSchema, s))
		}
		entry := pbString(nil, namedName, r.Code)
		entry = pbMessage(entry, namedValue, pbMessage(nil, responseValueResp, resp))
		rb = pbMessage(rb, responsesCode, entry)
	}
	b = pbMessage(b, opResponses, rb)
	b = pbStrings(b, opSchemes, []string{"https"})
	b = pbBool(b, opDeprecated, op.Deprecated)
	var exts []extension
	if op.Action != "" {
		exts = append(exts, extension{Name: extAction, Value: op.Action})
	}
	if op.GVK != nil {
		exts = append(exts, extension{Name: extGVK, Value: *op.GVK})
	}
	return pbExtensions(b, opVendorExt, exts)
}

// encodeV2Proto encodes doc as a gnostic openapi.v2.Document.
func encodeV2Proto(doc *document) ([]byte, error) {
	var b []byte
	b = pbString(b, docSwagger, "2.0")
	info := pbString(nil, infoTitle, doc.Title)
	info = pbString(info, infoVersion, doc.Version)
	b = pbMessage(b, docInfo, info)

	var paths []byte
	for _, pi := range doc.Paths {
		byField := map[protowire.Number][]byte{}
		for _, op := range pi.Ops {
			enc, err := pbOperation(op)
			if err != nil {
				return nil, err
			}
			byField[pathItemMethodField[op.Method]] = enc
		}
		var item []byte
		for n := protowire.Number(2); n <= 8; n++ {
			if enc, ok := byField[n]; ok {
				item = pbMessage(item, n, enc)
			}
		}
		var err error
		if item, err = pbParams(item, pathItemParams, pi.Params); err != nil {
			return nil, err
		}
		entry := pbString(nil, namedName, pi.Path)
		entry = pbMessage(entry, namedValue, item)
		paths = pbMessage(paths, pathsPath, entry)
	}
	b = pbMessage(b, docPaths, paths)

	var defs []byte
	for _, d := range doc.Definitions {
		s, err := pbSchema(d.Schema)
		if err != nil {
			return nil, err
		}
		entry := pbString(nil, namedName, d.Name)
		entry = pbMessage(entry, namedValue, s)
		defs = pbMessage(defs, definitionsAdd, entry)
	}
	return pbMessage(b, docDefinitions, defs), nil
}
