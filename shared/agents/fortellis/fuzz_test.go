package fortellis

import "testing"

func FuzzParseResponses(f *testing.F) {
	for _, s := range []string{`{"code":"TOKEN-EXPIRED","message":"expired"}`, `{"code":429}`,
		`{"code":"InvalidEmail","message":"bad","referenceId":"9e88d251-9b50-3dfb-00ef-00c5009b003d"}`,
		`{"APPT_SET":"Appointment Set","LOST":"inactive:Not In Market"}`, `{"a":1}`, `[]`, `nul`, ``} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		e := ParseError(body)
		if len(e.Code) > 67 || len(e.Message) > 203 || len(e.ReferenceID) > 67 {
			t.Fatalf("unbounded error %+v", e)
		}
		if m, err := parseDispositionMap(string(body)); err == nil && m == nil {
			t.Fatal("a disposition map without an error must not be nil")
		}
	})
}

func TestNewRequestIDIsAVersion4UUID(t *testing.T) {
	id := NewRequestID()
	if len(id) != 36 || id[14] != '4' || id[8] != '-' {
		t.Fatalf("id = %s", id)
	}
}
