package translate

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/llmvoy/llmvoy/internal/jsonscan"
)

// Gemini takes a subset of OpenAPI 3.0 schema where OpenAI takes JSON
// Schema. geminiSchema rewrites a tool's parameters or a response schema
// the way LiteLLM's _build_vertex_schema does (litellm/llms/vertex_ai/
// common_utils.py): $defs references are inlined, "null" in anyOf or in a
// type list becomes nullable, a type list becomes anyOf, an object is typed
// "object" when it has properties, items of {} become {"type": "object"},
// empty strings in enums become null, and only the keys of LiteLLM's Schema
// type survive (additionalProperties, strict, $schema, $id, const, oneOf,
// allOf, not, exclusiveMinimum, ... are dropped). format survives only as
// "enum" or "date-time", and a schema with anyOf keeps only anyOf (its title
// and description move into each branch; an anyOf of one schema becomes
// that schema). Response schemas also get
// propertyOrdering, so fields come back in the order written.

// geminiSchemaKeys are the fields of LiteLLM's Schema TypedDict
// (litellm/types/llms/vertex_ai.py), the ones Gemini accepts.
var geminiSchemaKeys = map[string]bool{
	"type": true, "format": true, "title": true, "description": true,
	"nullable": true, "default": true, "items": true, "minItems": true,
	"maxItems": true, "enum": true, "properties": true, "propertyOrdering": true,
	"required": true, "minProperties": true, "maxProperties": true,
	"minimum": true, "maximum": true, "minLength": true, "maxLength": true,
	"pattern": true, "example": true, "anyOf": true,
}

// geminiMaxSchemaDepth bounds nesting, $ref chains included: a recursive $ref
// cannot be inlined and fails here instead of looping.
const geminiMaxSchemaDepth = 64

// Inlining $defs can multiply a schema: a definition that references the
// one below it several times, a few levels deep, turns a 1.5 KB schema into
// millions of objects (15 MB and 5 s of CPU before these bounds). A schema is
// refused (a 400) when its conversion would pass either budget:
//
//   - geminiMaxSchemaNodes schema objects in all. OpenAI's structured
//     outputs take at most 5,000 properties in a schema; this is four times
//     that, so no schema a client uses with OpenAI is refused here.
//   - The bytes of the definitions it inlines: geminiRefBytesFactor times
//     the schema's own size, at most geminiMaxRefBytes. A $ref costs about
//     25 bytes to write, so a definition of up to 800 bytes may be used any
//     number of times, and larger ones, or models nested in models, dozens
//     of times; each level of a bomb doubles its cost and soon passes the
//     budget. Proportional to the schema, so that a request's schemas,
//     however many, expand to a bounded multiple of the request's size; and
//     charged in bytes, so one large definition (a long enum) cannot be
//     copied thousands of times under the node budget.
const (
	geminiMaxSchemaNodes = 20_000
	geminiRefBytesFactor = 32
	geminiMaxRefBytes    = 4 << 20
)

// geminiSchemaBudget is what remains for all the schemas of one request
// (its tools and its response format): each schema has the bounds above,
// and together they may not pass geminiMaxRequestSchemaNodes objects and
// geminiMaxRefBytes of inlined definitions either, or many schemas each
// just under the bounds would still expand a request without limit.
type geminiSchemaBudget struct{ nodes, refBytes int }

// geminiMaxRequestSchemaNodes is five schemas at their largest.
const geminiMaxRequestSchemaNodes = 5 * geminiMaxSchemaNodes

func newGeminiSchemaBudget() *geminiSchemaBudget {
	return &geminiSchemaBudget{nodes: geminiMaxRequestSchemaNodes, refBytes: geminiMaxRefBytes}
}

// errSchemaTooLarge is a schema over the conversion budget.
var errSchemaTooLarge = errors.New("schema too large once its $refs are inlined")

type geminiSchemaConverter struct {
	defs     *geminiObject
	ordering bool
	// nodes and refBytes are what remains of the budgets.
	nodes, refBytes int
}

func geminiSchema(raw json.RawMessage, ordering bool, budget *geminiSchemaBudget) (*geminiObject, error) {
	v, err := geminiDecodeOrdered(raw)
	if err != nil {
		return nil, err
	}
	root, ok := v.(*geminiObject)
	if !ok {
		return nil, errors.New("want a JSON schema object")
	}
	nodes, refBytes := min(geminiMaxSchemaNodes, budget.nodes), min(geminiMaxRefBytes, geminiRefBytesFactor*len(raw), budget.refBytes)
	c := geminiSchemaConverter{ordering: ordering, defs: &geminiObject{}, nodes: nodes, refBytes: refBytes}
	defer func() {
		budget.nodes -= nodes - c.nodes
		budget.refBytes -= refBytes - c.refBytes
	}()
	for _, key := range []string{"definitions", "$defs"} {
		if d, ok := root.get(key).(*geminiObject); ok {
			for _, k := range d.keys {
				c.defs.set(k, d.vals[k])
			}
		}
	}
	return c.convert(root, 0)
}

func (c *geminiSchemaConverter) convert(s *geminiObject, depth int) (*geminiObject, error) {
	for ref, ok := s.get("$ref").(string); ok; ref, ok = s.get("$ref").(string) {
		if depth++; depth > geminiMaxSchemaDepth {
			return nil, fmt.Errorf("$ref %q: recursive or too deep to inline", ref)
		}
		name := ref[strings.LastIndexByte(ref, '/')+1:]
		def, found := c.defs.get(name).(*geminiObject)
		if !found || !(strings.HasPrefix(ref, "#/$defs/") || strings.HasPrefix(ref, "#/definitions/")) {
			return nil, fmt.Errorf("$ref %q: only local #/$defs/ references are supported", ref)
		}
		if c.refBytes -= def.size; c.refBytes < 0 {
			return nil, errSchemaTooLarge
		}
		s = def
	}
	if depth > geminiMaxSchemaDepth {
		return nil, errors.New("schema nested too deeply")
	}
	if c.nodes--; c.nodes < 0 {
		return nil, errSchemaTooLarge
	}
	out := &geminiObject{}
	nullable := false

	switch t := s.get("type").(type) {
	case string:
		if t == "null" {
			nullable = true
		}
		out.set("type", t)
	case []any:
		var types []string
		for _, x := range t {
			name, _ := x.(string)
			if name == "null" {
				nullable = true
			} else if name != "" {
				types = append(types, name)
			}
		}
		switch len(types) {
		case 0:
			out.set("type", "null")
		case 1:
			out.set("type", types[0])
		default:
			branches := make([]any, len(types))
			for i, name := range types {
				b := &geminiObject{}
				b.set("type", name)
				branches[i] = b
			}
			s = s.with("anyOf", branches)
		}
	}

	if anyOf, ok := s.get("anyOf").([]any); ok {
		branches, err := c.anyOf(anyOf, depth)
		if err != nil {
			return nil, err
		}
		if nullable {
			for _, b := range branches {
				b.(*geminiObject).set("nullable", true)
			}
		}
		// Gemini refuses siblings next to anyOf (LiteLLM issue 11164); the
		// title and description move into the branches.
		only := &geminiObject{}
		for _, k := range []string{"title", "description"} {
			if v, ok := s.get(k).(string); ok && v != "" {
				for _, b := range branches {
					b.(*geminiObject).set(k, v)
				}
			}
		}
		if len(branches) == 1 {
			// anyOf of one schema (what a nullable Optional[X] leaves) is
			// that schema; older Gemini models do not take anyOf at all.
			return branches[0].(*geminiObject), nil
		}
		only.set("anyOf", branches)
		return only, nil
	}

	for _, key := range s.keys {
		if !geminiSchemaKeys[key] || key == "type" || key == "anyOf" {
			continue
		}
		v := s.vals[key]
		switch key {
		case "properties":
			props, ok := v.(*geminiObject)
			if !ok {
				return nil, errors.New("properties: want an object")
			}
			converted := &geminiObject{}
			for _, name := range props.keys {
				p, ok := props.vals[name].(*geminiObject)
				if !ok {
					return nil, fmt.Errorf("properties.%s: want a schema object", name)
				}
				cp, err := c.convert(p, depth+1)
				if err != nil {
					return nil, fmt.Errorf("properties.%s: %w", name, err)
				}
				converted.set(name, cp)
			}
			out.set("type", "object")
			out.set(key, converted)
			if c.ordering && s.get("propertyOrdering") == nil {
				order := make([]any, len(props.keys))
				for i, name := range props.keys {
					order[i] = name
				}
				out.set("propertyOrdering", order)
			}
		case "items":
			items, ok := v.(*geminiObject)
			if !ok {
				return nil, errors.New("items: want a schema object (tuple items are not supported)")
			}
			ci, err := c.convert(items, depth+1)
			if err != nil {
				return nil, fmt.Errorf("items: %w", err)
			}
			if len(ci.keys) == 0 {
				ci.set("type", "object")
			}
			out.set(key, ci)
		case "format":
			if v == "enum" || v == "date-time" {
				out.set(key, v)
			}
		case "enum":
			if values, ok := v.([]any); ok {
				fixed := make([]any, len(values))
				for i, e := range values {
					if e != "" {
						fixed[i] = e
					}
				}
				v = fixed
			}
			out.set(key, v)
		case "required":
			if v != nil {
				out.set(key, v)
			}
		default:
			out.set(key, v)
		}
	}
	if nullable {
		out.set("nullable", true)
	}
	return out, nil
}

func (c *geminiSchemaConverter) anyOf(in []any, depth int) ([]any, error) {
	var out []any
	hasNull := false
	for i, b := range in {
		obj, ok := b.(*geminiObject)
		if !ok {
			return nil, fmt.Errorf("anyOf[%d]: want a schema object", i)
		}
		if len(obj.keys) == 1 && obj.get("type") == "null" {
			hasNull = true
			continue
		}
		cb, err := c.convert(obj, depth+1)
		if err != nil {
			return nil, fmt.Errorf("anyOf[%d]: %w", i, err)
		}
		if len(cb.keys) == 0 {
			cb.set("type", "object")
		}
		out = append(out, cb)
	}
	if len(out) == 0 {
		return nil, errors.New("anyOf with only the null type is not supported")
	}
	if hasNull {
		for _, b := range out {
			b.(*geminiObject).set("nullable", true)
		}
	}
	return out, nil
}

// geminiObject is a JSON object that keeps its keys in order, so a schema
// goes out with its properties in the order the client wrote them.
type geminiObject struct {
	keys []string
	vals map[string]any
	// size is the object's length in the JSON it was decoded from, about:
	// what inlining it costs (0 for objects built here).
	size int
}

func (o *geminiObject) get(k string) any {
	if o.vals == nil {
		return nil
	}
	return o.vals[k]
}

func (o *geminiObject) set(k string, v any) {
	if o.vals == nil {
		o.vals = make(map[string]any)
	}
	if _, ok := o.vals[k]; !ok {
		o.keys = append(o.keys, k)
	}
	o.vals[k] = v
}

// with returns a shallow copy with k set: the input schema is never
// modified, since a $defs entry may be inlined in several places.
func (o *geminiObject) with(k string, v any) *geminiObject {
	c := &geminiObject{keys: append([]string(nil), o.keys...), vals: make(map[string]any, len(o.vals)+1)}
	for key, val := range o.vals {
		c.vals[key] = val
	}
	c.set(k, v)
	return c
}

// MarshalJSON writes the whole tree into one buffer: encoding/json would
// copy and check each nested object's output again at every level above it.
func (o *geminiObject) MarshalJSON() ([]byte, error) {
	var buf bytes.Buffer
	if err := o.appendJSON(&buf); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func (o *geminiObject) appendJSON(buf *bytes.Buffer) error {
	buf.WriteByte('{')
	for i, k := range o.keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		kb, err := jsonscan.Marshal(k)
		if err != nil {
			return err
		}
		buf.Write(kb)
		buf.WriteByte(':')
		if err := geminiAppendValue(buf, o.vals[k]); err != nil {
			return err
		}
	}
	buf.WriteByte('}')
	return nil
}

func geminiAppendValue(buf *bytes.Buffer, v any) error {
	switch x := v.(type) {
	case *geminiObject:
		return x.appendJSON(buf)
	case []any:
		buf.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				buf.WriteByte(',')
			}
			if err := geminiAppendValue(buf, e); err != nil {
				return err
			}
		}
		buf.WriteByte(']')
		return nil
	}
	b, err := jsonscan.Marshal(v)
	if err != nil {
		return err
	}
	buf.Write(b)
	return nil
}

// geminiDecodeOrdered decodes JSON like encoding/json into any, except that
// objects are *geminiObject (key order kept; a repeated key keeps its first
// position and last value) and numbers are json.Number (kept as written).
func geminiDecodeOrdered(raw []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := geminiDecodeValue(dec, 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the JSON value")
	}
	return v, nil
}

func geminiDecodeValue(dec *json.Decoder, depth int) (any, error) {
	if depth > 10000 {
		return nil, errors.New("JSON nested too deeply")
	}
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := &geminiObject{}
			start := dec.InputOffset()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := geminiDecodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				o.set(kt.(string), v)
			}
			_, err := dec.Token()
			o.size = int(dec.InputOffset()-start) + 1
			return o, err
		case '[':
			a := []any{}
			for dec.More() {
				v, err := geminiDecodeValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := dec.Token()
			return a, err
		}
		return nil, fmt.Errorf("unexpected %v", t)
	}
	return tok, nil
}
