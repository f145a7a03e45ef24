package events

import (
	"encoding/json"
)

// The schemas are generated from the field table, the same one Parse uses,
// so the two cannot drift. A schema accepts what Parse accepts, with one
// difference: Parse also takes null for an optional field (and drops it),
// while the schema describes the body as delivered, which has no nulls.
// Fields a schema does not list are accepted and dropped by Parse.

const (
	schemaDialect = "https://json-schema.org/draft/2020-12/schema"
	// eventIDPattern: 1 to 128 visible ASCII characters but '"' and '\'
	// (the id is sent as the webhook-id header). Parse checks the same.
	eventIDPattern = `^[!#-\[\]-~]{1,128}$`
	// dateTimePattern narrows "format": "date-time" to what Go's RFC 3339
	// parser accepts (an upper-case T and Z).
	dateTimePattern = `^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]+)?(Z|[+-][0-9]{2}:[0-9]{2})$`
)

// obj is a JSON object that keeps its members in order.
type obj []member

type member struct {
	key   string
	value any
}

func (o obj) MarshalJSON() ([]byte, error) { return appendJSON(nil, o) }

// appendJSON encodes a schema value. Nested objects are appended in place:
// going through json.Marshal for each of them would re-check and compact
// every level again, which made the schemas cost milliseconds to build.
func appendJSON(b []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case obj:
		b = append(b, '{')
		for i, m := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, m.key); err != nil {
				return nil, err
			}
			b = append(b, ':')
			if b, err = appendJSON(b, m.value); err != nil {
				return nil, err
			}
		}
		return append(b, '}'), nil
	case []any:
		b = append(b, '[')
		for i, e := range v {
			if i > 0 {
				b = append(b, ',')
			}
			var err error
			if b, err = appendJSON(b, e); err != nil {
				return nil, err
			}
		}
		return append(b, ']'), nil
	default:
		enc, err := json.Marshal(v)
		return append(b, enc...), err
	}
}

func buildSchema(cat *catalog, spec eventSpec) json.RawMessage {
	props := obj{
		{"eventType", obj{{"const", spec.typ}, {"description", eventTypeField.desc}}},
		{"eventId", obj{{"type", "string"}, {"pattern", cat.idPattern}, {"description", cat.id.desc}}},
	}
	props = append(props, propertiesOf(fields(cat.common, spec.fields))...)
	s := obj{
		{"$schema", schemaDialect},
		{"title", spec.typ},
		{"description", spec.desc + ". Fields not listed here are dropped from the delivered body."},
		{"type", "object"},
		{"required", requiredOf(cat.id, cat.common)},
		{"properties", props},
	}
	if spec.variants != nil {
		var all []any
		for _, v := range spec.variants {
			cond := obj{
				{"properties", obj{{"appointmentType", obj{{"enum", v.values}}}}},
				{"required", []string{"appointmentType"}},
			}
			then := obj{}
			if v.comment != "" {
				then = append(then, member{"$comment", v.comment})
			}
			then = append(then, member{"properties", propertiesOf(v.fields)})
			all = append(all, obj{{"if", cond}, {"then", then}})
		}
		s = append(s, member{"allOf", all})
	}
	b, err := appendJSON(nil, s)
	if err != nil {
		panic(err)
	}
	return b
}

func requiredOf(id field, fs []field) []string {
	req := []string{eventTypeField.name}
	if id.required {
		req = append(req, id.name)
	}
	for _, f := range fs {
		if f.required {
			req = append(req, f.name)
		}
	}
	return req
}

func propertiesOf(fs []field) obj {
	props := make(obj, 0, len(fs))
	for _, f := range fs {
		props = append(props, member{f.name, fieldSchema(f)})
	}
	return props
}

func fieldSchema(f field) obj {
	var s obj
	switch f.kind {
	case kindString:
		s = obj{{"type", "string"}}
		if f.required {
			s = append(s, member{"minLength", 1})
		}
		if f.enum != nil {
			s = append(s, member{"enum", f.enum})
		}
	case kindDateTime:
		s = obj{{"type", "string"}, {"format", "date-time"}, {"pattern", dateTimePattern}}
	case kindNumber:
		s = obj{{"type", "number"}}
	case kindBool:
		s = obj{{"type", "boolean"}}
	case kindObject:
		s = obj{{"type", "object"}, {"properties", propertiesOf(f.sub)}}
	case kindPassthrough:
		s = obj{{"type", "object"}}
	case kindStringMap:
		s = obj{{"type", "object"}, {"additionalProperties", obj{{"type", "string"}}}, {"maxProperties", maxMapEntries}}
	default:
		panic("events: unknown field kind")
	}
	return append(s, member{"description", f.desc})
}
