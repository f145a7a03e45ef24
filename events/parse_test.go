package events

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// body returns the example of typ as a map, to be changed and re-encoded.
func body(t testing.TB, typ string) map[string]any {
	t.Helper()
	b, ok := Example(typ)
	if !ok {
		t.Fatalf("no example for %s", typ)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeBody(t testing.TB, m map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// validationError asserts err is a *ValidationError with the code and field.
func validationError(t *testing.T, err error, code, field string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error = %v (%T), want a *ValidationError %s %s", err, err, code, field)
	}
	if ve.Code != code || ve.Field != field {
		t.Fatalf("error = %q, want code %s field %q", ve.Error(), code, field)
	}
}

func TestParseExamplesRoundTrip(t *testing.T) {
	for name, b := range exampleFiles(t) {
		t.Run(name, func(t *testing.T) {
			ev, err := Parse(b)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			if ev.ID != m["eventId"] || ev.DealerID != m["dealerId"] || ev.Type != m["eventType"] {
				t.Errorf("Event = %s %s %s, want the example's", ev.Type, ev.ID, ev.DealerID)
			}
			if ts, _ := time.Parse(time.RFC3339, m["timestamp"].(string)); !ev.Timestamp.Equal(ts) {
				t.Errorf("Timestamp = %v, want %v", ev.Timestamp, ts)
			}
			// The examples hold catalog fields only: the body has the same content.
			var got, want any
			_ = json.Unmarshal(ev.Body, &got)
			_ = json.Unmarshal(b, &want)
			if !jsonEqual(got, want) {
				t.Errorf("Body = %s\nwant the content of %s", ev.Body, b)
			}
			again, err := Parse(ev.Body)
			if err != nil {
				t.Fatalf("Body does not parse again: %v", err)
			}
			if !bytes.Equal(again.Body, ev.Body) || again.ID != ev.ID || again.DealerID != ev.DealerID || !again.Timestamp.Equal(ev.Timestamp) {
				t.Errorf("Body parses to\n%s\nwant\n%s", again.Body, ev.Body)
			}
		})
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func TestParseBodyOrder(t *testing.T) {
	raw := `{"comments":"c","vehicleVin":"V","timestamp":"2026-11-27T15:04:05Z","firstName":"Ana","dealerId":"d","eventType":"lead.created","leadId":"l","eventId":"evt_1"}`
	ev, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"eventType":"lead.created","eventId":"evt_1","dealerId":"d","leadId":"l","timestamp":"2026-11-27T15:04:05Z","firstName":"Ana","vehicleVin":"V","comments":"c"}`
	if string(ev.Body) != want {
		t.Errorf("Body = %s\nwant   %s", ev.Body, want)
	}
}

func TestParseRequiredFields(t *testing.T) {
	for _, c := range typeCases() {
		for _, name := range []string{"eventType", "dealerId", "timestamp"} {
			for _, how := range []string{"missing", "null"} {
				t.Run(c.name+"/"+name+"/"+how, func(t *testing.T) {
					m := body(t, c.typ)
					if how == "missing" {
						delete(m, name)
					} else {
						m[name] = nil
					}
					_, err := Parse(encodeBody(t, m))
					validationError(t, err, CodeMissingField, name)
					if want := "missing_field: " + name + ": is required"; err.Error() != want {
						t.Errorf("Error() = %q, want %q", err, want)
					}
				})
			}
		}
	}
}

// wrongValues are values of the wrong type for each kind of field.
var wrongValues = map[kind][]any{
	kindString:      {42, true, map[string]any{}, []any{"a"}},
	kindDateTime:    {42, "", "2026-11-27", "not a date", "2026-11-27 15:04:05Z", "2026-11-27T15:04:05", "2026-13-01T00:00:00Z", "2026-11-27t15:04:05z"},
	kindNumber:      {"3", true, map[string]any{}, []any{3}},
	kindBool:        {"true", 1, map[string]any{}},
	kindObject:      {"a Corolla", 2024, []any{}, true},
	kindPassthrough: {"ct_1", 7, []any{map[string]any{}}, false},
}

// wrongFieldCases generates, from the field table, a body of every catalog
// type with one field of the wrong type, and the field the error must name.
func wrongFieldCases(t testing.TB) []struct {
	name, field string
	body        []byte
} {
	var out []struct {
		name, field string
		body        []byte
	}
	add := func(c typeCase, path string, set func(m map[string]any)) {
		m := body(t, c.typ)
		if c.appointmentType != "" {
			m["appointmentType"] = c.appointmentType
		}
		set(m)
		out = append(out, struct {
			name, field string
			body        []byte
		}{c.name + "/" + path, path, encodeBody(t, m)})
	}
	for _, c := range typeCases() {
		for _, f := range c.fields {
			for _, v := range wrongValues[f.kind] {
				add(c, f.path, func(m map[string]any) { m[f.name] = v })
			}
			if f.kind == kindObject {
				for _, s := range f.sub.fields {
					for _, v := range wrongValues[s.kind] {
						add(c, s.path, func(m map[string]any) { m[f.name] = map[string]any{"make": "Toyota", s.name: v} })
					}
				}
			}
		}
	}
	return out
}

func TestParseWrongFieldType(t *testing.T) {
	cases := wrongFieldCases(t)
	if len(cases) < 500 {
		t.Fatalf("only %d cases", len(cases))
	}
	for _, c := range cases {
		_, err := Parse(c.body)
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Code != CodeInvalidField || ve.Field != c.field {
			t.Errorf("%s: %s\n error = %v, want invalid_field %s", c.name, c.body, err, c.field)
		}
	}
}

func TestParseRefuses(t *testing.T) {
	lead := `"dealerId":"d","timestamp":"2026-11-27T15:04:05Z"`
	big := `{"eventType":"lead.created",` + lead + `,"comments":"` + strings.Repeat("x", MaxBodyBytes) + `"}`
	for _, c := range []struct {
		name, body, code, field, msg string
	}{
		{"empty", ``, CodeNotJSON, "", "not_json: body is not valid JSON"},
		{"not JSON", `eventType=lead.created`, CodeNotJSON, "", ""},
		{"truncated", `{"eventType":"lead.created",` + lead, CodeNotJSON, "", ""},
		{"trailing data", `{"eventType":"lead.created",` + lead + `} {}`, CodeNotJSON, "", ""},
		{"array", `[{"eventType":"lead.created",` + lead + `}]`, CodeNotJSON, "", "not_json: body is not a JSON object"},
		{"string", `"lead.created"`, CodeNotJSON, "", ""},
		{"null", `null`, CodeNotJSON, "", ""},
		{"too large", big, CodeTooLarge, "", "too_large: body is " + strconv.Itoa(len(big)) + " bytes; the limit is 262144"},
		{"too large, not JSON either", strings.Repeat("x", MaxBodyBytes+1), CodeTooLarge, "", ""},
		{"unknown type", `{"eventType":"lead.deleted",` + lead + `}`, CodeUnknownType, "eventType", `unknown_type: eventType: unknown event type "lead.deleted"`},
		{"wildcard type", `{"eventType":"lead.*",` + lead + `}`, CodeUnknownType, "eventType", ""},
		{"type in upper case", `{"eventType":"Lead.Created",` + lead + `}`, CodeUnknownType, "eventType", ""},
		{"type not a string", `{"eventType":1,` + lead + `}`, CodeInvalidField, "eventType", "invalid_field: eventType: must be a string"},
		{"empty type", `{"eventType":"",` + lead + `}`, CodeUnknownType, "eventType", ""},
		{"empty dealerId", `{"eventType":"lead.created","dealerId":"","timestamp":"2026-11-27T15:04:05Z"}`, CodeInvalidField, "dealerId", "invalid_field: dealerId: must be a non-empty string"},
		{"timestamp without zone", `{"eventType":"lead.created","dealerId":"d","timestamp":"2026-11-27T15:04:05"}`, CodeInvalidField, "timestamp", "invalid_field: timestamp: must be an RFC 3339 date-time string"},
		{"timestamp as unix seconds", `{"eventType":"lead.created","dealerId":"d","timestamp":1764255845}`, CodeInvalidField, "timestamp", ""},
		{"bad appointmentTime", `{"eventType":"appointment.created",` + lead + `,"appointmentTime":"Nov 30, 4pm"}`, CodeInvalidField, "appointmentTime", ""},
		{"enrollmentCount as string", `{"eventType":"sequence.enrollment.created",` + lead + `,"enrollmentCount":"12"}`, CodeInvalidField, "enrollmentCount", "invalid_field: enrollmentCount: must be a number"},
		{"vehicleInterest.year as number", `{"eventType":"contact.vehicleofinterest.updated",` + lead + `,"vehicleInterest":{"year":2024}}`, CodeInvalidField, "vehicleInterest.year", "invalid_field: vehicleInterest.year: must be a string"},
		{"eventId empty", `{"eventType":"lead.created","eventId":"",` + lead + `}`, CodeInvalidField, "eventId", ""},
		{"eventId with a space", `{"eventType":"lead.created","eventId":"evt 1",` + lead + `}`, CodeInvalidField, "eventId", ""},
		{"eventId with a newline", `{"eventType":"lead.created","eventId":"evt\n1",` + lead + `}`, CodeInvalidField, "eventId", ""},
		{"eventId too long", `{"eventType":"lead.created","eventId":"` + strings.Repeat("a", 129) + `",` + lead + `}`, CodeInvalidField, "eventId", ""},
		{"eventId a number", `{"eventType":"lead.created","eventId":12,` + lead + `}`, CodeInvalidField, "eventId", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Parse([]byte(c.body))
			if ev != nil {
				t.Errorf("Parse returned an event with its error")
			}
			validationError(t, err, c.code, c.field)
			if c.msg != "" && err.Error() != c.msg {
				t.Errorf("Error() = %q, want %q", err, c.msg)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	prefix := `{"eventType":"lead.created","eventId":"evt_1","dealerId":"d","timestamp":"2026-11-27T15:04:05Z","comments":"`
	exact := prefix + strings.Repeat("x", MaxBodyBytes-len(prefix)-2) + `"}`
	if len(exact) != MaxBodyBytes {
		t.Fatal(len(exact))
	}
	if _, err := Parse([]byte(exact)); err != nil {
		t.Errorf("a body of exactly MaxBodyBytes: %v", err)
	}
	// Without an eventId the body grows by the one Parse adds: it must still
	// parse again, so it is refused.
	noID := strings.Replace(exact, `"eventId":"evt_1",`, `"x":"`+strings.Repeat("y", len(`"eventId":"evt_1",`)-len(`"x":"",`))+`",`, 1)
	if len(noID) != MaxBodyBytes {
		t.Fatal(len(noID))
	}
	_, err := Parse([]byte(noID))
	validationError(t, err, CodeTooLarge, "")

	id := strings.Repeat("A", maxEventIDLen)
	ev, err := Parse([]byte(`{"eventType":"lead.created","eventId":"` + id + `","dealerId":"d","timestamp":"2026-11-27T15:04:05Z"}`))
	if err != nil || ev.ID != id {
		t.Errorf("a %d-character eventId: %v", maxEventIDLen, err)
	}
}

func TestParseDropsUnknownAndNull(t *testing.T) {
	raw := `{
		"eventType": "contact.vehicleofinterest.updated",
		"eventId": null,
		"dealerId": "dlr_42",
		"leadId": null,
		"timestamp": "2026-11-28T12:00:01+02:00",
		"internalScore": 97,
		"name": "Ana Diaz",
		"email": null,
		"appointmentTime": 12,
		"vehicleInterest": {"year": "2024", "make": null, "secretMargin": 1200, "model": "RAV4", "extra": {"a": [1, 2]}},
		"contact": {"id": "ct_1", "custom": {"x": null, "y": [1, {"z": "w"}]}, "internal": true, "note": "a \"quoted\" \\ word"}
	}`
	ev, err := Parse([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"eventType":"contact.vehicleofinterest.updated","eventId":"` + ev.ID + `","dealerId":"dlr_42","timestamp":"2026-11-28T12:00:01+02:00","name":"Ana Diaz",` +
		`"vehicleInterest":{"year":"2024","model":"RAV4"},` +
		`"contact":{"id":"ct_1","custom":{"x":null,"y":[1,{"z":"w"}]},"internal":true,"note":"a \"quoted\" \\ word"}}`
	if string(ev.Body) != want {
		t.Errorf("Body =\n%s\nwant\n%s", ev.Body, want)
	}
	if _, off := ev.Timestamp.Zone(); off != 2*3600 {
		t.Errorf("Timestamp = %v, want its +02:00 offset kept", ev.Timestamp)
	}

	// An empty vehicleInterest stays an empty object.
	ev, err = Parse([]byte(`{"eventType":"contact.vehicleofinterest.updated","eventId":"e","dealerId":"d","timestamp":"2026-11-28T12:00:01Z","vehicleInterest":{"x":1}}`))
	if err != nil || !bytes.HasSuffix(ev.Body, []byte(`"vehicleInterest":{}}`)) {
		t.Errorf("Body = %s, %v", ev.Body, err)
	}
}

func TestParseAppointmentTypes(t *testing.T) {
	all := `"vehicleYear":"2024","vehicleMake":"Toyota","vehicleModel":"RAV4","vehicleVin":"V","vehicleStockNumber":"S","serviceType":"oil","tradeInVehicleModel":"Civic","tradeForVehicleVin":"W"`
	for _, c := range []struct{ appointmentType, want string }{
		{"sales", `"vehicleYear":"2024","vehicleMake":"Toyota","vehicleModel":"RAV4","vehicleVin":"V","vehicleStockNumber":"S"`},
		{"testdrive", `"vehicleYear":"2024","vehicleMake":"Toyota","vehicleModel":"RAV4","vehicleVin":"V","vehicleStockNumber":"S"`},
		{"service", `"serviceType":"oil","vehicleVin":"V","vehicleMake":"Toyota","vehicleModel":"RAV4","vehicleYear":"2024"`},
		{"tradein", `"tradeInVehicleModel":"Civic","tradeForVehicleVin":"W"`},
		{"leasereturn", `"vehicleYear":"2024","vehicleMake":"Toyota","vehicleModel":"RAV4","vehicleVin":"V"`},
		{"bodywork", ``},
		{"Sales", ``},
	} {
		for _, typ := range []string{TypeAppointmentCreated, TypeAppointmentRescheduled, TypeAppointmentCancelled} {
			raw := `{"eventType":"` + typ + `","eventId":"e","dealerId":"d","timestamp":"2026-11-28T12:00:01Z","appointmentType":"` + c.appointmentType + `","appointmentId":"apt_1",` + all + `}`
			ev, err := Parse([]byte(raw))
			if err != nil {
				t.Fatalf("%s %s: %v", typ, c.appointmentType, err)
			}
			want := `{"eventType":"` + typ + `","eventId":"e","dealerId":"d","timestamp":"2026-11-28T12:00:01Z","appointmentType":"` + c.appointmentType + `","appointmentId":"apt_1"`
			if c.want != "" {
				want += "," + c.want
			}
			want += "}"
			if string(ev.Body) != want {
				t.Errorf("%s %s: Body =\n%s\nwant\n%s", typ, c.appointmentType, ev.Body, want)
			}
		}
	}
	// Fields another appointmentType would take are dropped, not checked.
	ev, err := Parse([]byte(`{"eventType":"appointment.created","dealerId":"d","timestamp":"2026-11-28T12:00:01Z","appointmentType":"service","vehicleStockNumber":7}`))
	if err != nil || bytes.Contains(ev.Body, []byte("vehicleStockNumber")) {
		t.Errorf("Body = %s, %v", ev.Body, err)
	}
	// No appointmentType: the common appointment fields only.
	ev, err = Parse([]byte(`{"eventType":"appointment.created","dealerId":"d","timestamp":"2026-11-28T12:00:01Z","vehicleVin":"V","name":"N"}`))
	if err != nil || bytes.Contains(ev.Body, []byte("vehicleVin")) || !bytes.Contains(ev.Body, []byte(`"name":"N"`)) {
		t.Errorf("Body = %s, %v", ev.Body, err)
	}
}

func TestParseEventIDFallback(t *testing.T) {
	raw := []byte(`{"eventType":"lead.received","dealerId":"dlr_42","timestamp":"2026-11-27T15:04:05Z","firstName":"Marcus"}`)
	sum := sha256.Sum256(raw)
	want := "evt_" + hex.EncodeToString(sum[:])[:26]
	for range 3 {
		ev, err := Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		if ev.ID != want {
			t.Fatalf("ID = %s, want %s", ev.ID, want)
		}
		if !bytes.HasPrefix(ev.Body, []byte(`{"eventType":"lead.received","eventId":"`+want+`",`)) {
			t.Fatalf("Body = %s, want the eventId in it", ev.Body)
		}
	}
	// Another body, another id; the same body with an eventId keeps it.
	other, _ := Parse(bytes.Replace(raw, []byte("Marcus"), []byte("Marco"), 1))
	if other.ID == want {
		t.Error("two bodies share a fallback id")
	}
	withID, _ := Parse([]byte(`{"eventType":"lead.received","eventId":"evt_01JDQ7ZA2B7C4D6E8F0G1H3J5K","dealerId":"dlr_42","timestamp":"2026-11-27T15:04:05Z"}`))
	if withID.ID != "evt_01JDQ7ZA2B7C4D6E8F0G1H3J5K" {
		t.Errorf("ID = %s, want the body's", withID.ID)
	}
}

func TestParseJSONDetails(t *testing.T) {
	for _, c := range []struct{ name, raw, want string }{
		{"duplicate keys: the last wins, as in encoding/json",
			`{"eventType":"lead.created","eventId":"e","dealerId":"a","dealerId":"b","timestamp":"2026-11-27T15:04:05Z","firstName":1,"firstName":"Ana"}`,
			`{"eventType":"lead.created","eventId":"e","dealerId":"b","timestamp":"2026-11-27T15:04:05Z","firstName":"Ana"}`},
		{"escaped keys and values",
			`{"event\u0054ype":"lead\u002ecreated","eventId":"e","dealerId":"d\u00e9","timestamp":"2026-11-27T15:04:05Z","comments":"line\nbreak \u2713 \ud83d\ude97"}`,
			`{"eventType":"lead.created","eventId":"e","dealerId":"d\u00e9","timestamp":"2026-11-27T15:04:05Z","comments":"line\nbreak \u2713 \ud83d\ude97"}`},
		{"whitespace everywhere",
			" \n{ \"eventType\" :\t\"lead.created\" , \"eventId\" : \"e\" ,\"dealerId\":\"d\",\"timestamp\":\"2026-11-27T15:04:05Z\", \"x\" : [ 1 , { \"y\" : \"}\" } ] }\r\n",
			`{"eventType":"lead.created","eventId":"e","dealerId":"d","timestamp":"2026-11-27T15:04:05Z"}`},
		{"invalid UTF-8 is replaced",
			"{\"eventType\":\"lead.created\",\"eventId\":\"e\",\"dealerId\":\"d\",\"timestamp\":\"2026-11-27T15:04:05Z\",\"firstName\":\"Ana\xff\"}",
			"{\"eventType\":\"lead.created\",\"eventId\":\"e\",\"dealerId\":\"d\",\"timestamp\":\"2026-11-27T15:04:05Z\",\"firstName\":\"Ana\uFFFD\"}"},
		{"numbers as sent",
			`{"eventType":"sequence.step.executed","eventId":"e","dealerId":"d","timestamp":"2026-11-27T15:04:05Z","stepOrder":-1.5e3}`,
			`{"eventType":"sequence.step.executed","eventId":"e","dealerId":"d","timestamp":"2026-11-27T15:04:05Z","stepOrder":-1.5e3}`},
		{"booleans",
			`{"eventType":"contact.sequence_enrollment.updated","eventId":"e","dealerId":"d","timestamp":"2026-11-27T15:04:05Z","inSequence":false}`,
			`{"eventType":"contact.sequence_enrollment.updated","eventId":"e","dealerId":"d","timestamp":"2026-11-27T15:04:05Z","inSequence":false}`},
		{"an empty object",
			`{"eventType":"contact.created","eventId":"e","dealerId":"d","timestamp":"2026-11-27T15:04:05.123456789-05:00","contact":{}}`,
			`{"eventType":"contact.created","eventId":"e","dealerId":"d","timestamp":"2026-11-27T15:04:05.123456789-05:00"}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			ev, err := Parse([]byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			if string(ev.Body) != c.want {
				t.Errorf("Body =\n%s\nwant\n%s", ev.Body, c.want)
			}
			again, err := Parse(ev.Body)
			if err != nil || !bytes.Equal(again.Body, ev.Body) {
				t.Errorf("Body does not parse to itself: %v %s", err, again.Body)
			}
		})
	}
}

func TestNewEventID(t *testing.T) {
	a, b := NewEventID(), NewEventID()
	if a == b || !strings.HasPrefix(a, "evt_") || len(a) != 30 {
		t.Errorf("NewEventID() = %q, %q", a, b)
	}
	if _, err := Parse([]byte(`{"eventType":"lead.created","eventId":"` + a + `","dealerId":"d","timestamp":"2026-11-27T15:04:05Z"}`)); err != nil {
		t.Errorf("a new id is refused: %v", err)
	}
}

func compactExample(b testing.TB, typ string) []byte {
	raw, _ := Example(typ)
	var buf bytes.Buffer
	if err := json.Compact(&buf, raw); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

func BenchmarkParse(b *testing.B) {
	raw := compactExample(b, TypeLeadCreated)
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(raw); err != nil {
			b.Fatal(err)
		}
	}
}
