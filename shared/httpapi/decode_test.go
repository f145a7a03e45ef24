package httpapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"unicode/utf8"

	"github.com/dealerai/integrations/shared/subscriptions"
)

func TestDecodeCreate(t *testing.T) {
	f, err := decodeCreate([]byte(` {"url":"https://h.example.com","events":["lead.*"],"description":null,"enabled":false} `))
	if err != nil {
		t.Fatal(err)
	}
	if *f.URL != "https://h.example.com" || len(f.Events) != 1 || f.Description != nil || *f.Enabled {
		t.Fatalf("%+v", f)
	}
	for body, status := range map[string]int{
		`{"url":"x","url2":1}`: 400, `{"url":"x"}{`: 400, `{"url":"x"} 1`: 400, `{"url":`: 400, `"x"`: 400,
		`{"url":1}`: 422, `{"events":{}}`: 422, `{"events":[1]}`: 422, `{"enabled":0}`: 422,
	} {
		_, err := decodeCreate([]byte(body))
		var p *Problem
		if !errors.As(err, &p) || p.Status != status {
			t.Errorf("%s: %v, want %d", body, err, status)
		}
	}
}

func TestDecodePatch(t *testing.T) {
	f, err := decodePatch([]byte(`{"description":null}`))
	if err != nil || f.Description == nil || *f.Description != "" || f.URL != nil || f.Events != nil || f.Enabled != nil {
		t.Fatalf("%+v %v", f, err)
	}
	f, err = decodePatch([]byte(`{"events":[]}`))
	if err != nil || f.Events == nil || len(f.Events) != 0 {
		t.Fatalf("empty events must be given, not absent: %+v %v", f, err)
	}
	if f, err := decodePatch([]byte(`{}`)); err != nil || !f.Empty() {
		t.Fatalf("%+v %v", f, err)
	}
	for _, body := range []string{`{"url":null}`, `{"events":null}`, `{"enabled":null}`} {
		var p *Problem
		if _, err := decodePatch([]byte(body)); !errors.As(err, &p) || p.Status != http.StatusUnprocessableEntity {
			t.Errorf("%s: %v", body, err)
		}
	}
}

var decodeSeeds = []string{
	`{"url":"https://hooks.example.com/x","events":["lead.*","appointment.created"],"description":"d","enabled":true}`,
	`{"url":null,"events":null,"description":null,"enabled":null}`,
	`{"events":[1,"a",null,[],{}]}`, `{"url":{"a":1}}`, `{}`, `[]`, `null`, ``, `{"a":1}`, `{"url":"x"} {}`,
	`{"description":"\ud800"}`, "{\"description\":\"\xff\"}", `{"events":[[[[[[[[[[]]]]]]]]]]}`,
	`{"enabled":tru}`, `{"url":"x","url":"y"}`, ` {"enabled":false} `,
}

// checkDecoded: whatever the input, the decoder answers a problem of 400 or 422 or fields
// that came from the body.
func checkDecoded(t *testing.T, body []byte, err error) {
	if err == nil {
		return
	}
	var p *Problem
	if !errors.As(err, &p) {
		t.Fatalf("%q: non-problem error %v", body, err)
	}
	if p.Status != http.StatusBadRequest && p.Status != http.StatusUnprocessableEntity {
		t.Fatalf("%q: status %d", body, p.Status)
	}
	for _, fe := range p.Errors {
		// an unknown member may be named "" (a valid JSON key); every other error names a field
		if fe.Message == "" || fe.Field == "" && fe.Message != "is not a known field" {
			t.Fatalf("%q: empty field error %+v", body, fe)
		}
	}
	if p.Status == http.StatusUnprocessableEntity && len(p.Errors) == 0 {
		t.Fatalf("%q: 422 without fields", body)
	}
}

// encodeFields renders decoded fields as a body again.
func encodeFields(t *testing.T, f subscriptions.Fields) []byte {
	m := map[string]any{}
	if f.URL != nil {
		m["url"] = *f.URL
	}
	if f.Events != nil {
		m["events"] = f.Events
	}
	if f.Description != nil {
		m["description"] = *f.Description
	}
	if f.Enabled != nil {
		m["enabled"] = *f.Enabled
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// fuzzDecoder: no input panics, every error is a 400 or 422 problem, and what decodes
// re-encodes to a body that decodes to the same fields.
func fuzzDecoder(f *testing.F, decode func([]byte) (subscriptions.Fields, error)) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		fields, err := decode(body)
		checkDecoded(t, body, err)
		if err != nil {
			return
		}
		for _, s := range append(fields.Events, deref(fields.URL), deref(fields.Description)) {
			if !utf8.ValidString(s) {
				t.Fatalf("%q: invalid UTF-8 decoded", body)
			}
		}
		again, err := decode(encodeFields(t, fields))
		if err != nil || !reflect.DeepEqual(again, fields) {
			t.Fatalf("%q: decoded %+v, re-encoded and decoded %+v (%v)", body, fields, again, err)
		}
	})
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func FuzzDecodeSubscription(f *testing.F) { fuzzDecoder(f, decodeCreate) }

func FuzzDecodePatch(f *testing.F) { fuzzDecoder(f, decodePatch) }
