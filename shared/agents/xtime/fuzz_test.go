package xtime

import (
	"testing"
	"unicode/utf8"
)

func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{`{"success":true,"appointmentId":"XT-1"}`, `{"success":true,"appointmentId":42}`,
		`{"success":false,"code":"SLOT_UNAVAILABLE","message":"No capacity"}`, `{"success":"yes"}`, `{}`, `null`, `[1]`, `{"success":false,"code":{"x":1}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, ok := ParseResponse(body)
		if !ok {
			return
		}
		if len(r.AppointmentID) > 131 || len(r.Code) > 131 {
			t.Fatalf("unbounded id or code: %q %q", r.AppointmentID, r.Code)
		}
		if utf8.ValidString(string(body)) && !utf8.ValidString(r.AppointmentID) {
			t.Fatalf("invalid UTF-8 id from valid input")
		}
	})
}
