package vinsolutions

import "testing"

func FuzzParseID(f *testing.F) {
	for _, s := range []string{`{"ContactId":1001}`, `{"leadId":"2001"}`, `{"leadId":"https://api.vinsolutions.com/leads/id/77?dealerId=1"}`,
		`{"leadid":12.5}`, `{"leadId":{"href":"https://api.vinsolutions.com/leads/id/78","id":78}}`, `[]`, `{"leadId":null}`, `{"leadId":{"a":1}}`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if id := ParseID(body, "leadId"); len(id) > 128 {
			t.Fatalf("id of %d bytes", len(id))
		}
	})
}
