package fortellis

import "testing"

func FuzzParseResponses(f *testing.F) {
	for _, s := range []string{`{"code":"TOKEN-EXPIRED","message":"expired"}`, `{"code":429}`, `{"id":"abc"}`, `{"id":12}`,
		`{"opportunityId":"x"}`, `{"id":null,"customerId":"c"}`, `[]`, `nul`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		g := ParseGatewayError(body)
		if len(g.Code) > 67 || len(g.Message) > 203 {
			t.Fatalf("unbounded gateway error %+v", g)
		}
		if id := ParseID(body); len(id) > 131 {
			t.Fatalf("unbounded id %q", id)
		}
	})
}

func TestNewRequestIDIsAVersion4UUID(t *testing.T) {
	id := NewRequestID()
	if len(id) != 36 || id[14] != '4' || id[8] != '-' {
		t.Fatalf("id = %s", id)
	}
}
