package xtime

import (
	"testing"
	"time"
	"unicode/utf8"
)

// FuzzParseResponse: XTime's answers (a booking's, the appointments, the services) never
// make the parsers panic nor yield unbounded or invalid ids.
func FuzzParseResponse(f *testing.F) {
	for _, s := range []string{`{"success":true,"appointmentId":"XT-1"}`, `{"success":true,"appointmentId":42}`,
		`{"success":false,"code":"x-001009","message":"Timeslot is not available"}`, `{"success":"yes"}`, `{}`, `null`, `[1]`,
		`{"success":false,"code":{"x":1}}`,
		`{"success":true,"appointments":[{"appointmentId":"XT-1","vin":"V","appointmentDateTimeLocal":"2026-12-01T07:00-0600"}]}`,
		`{"success":true,"appointments":null}`, `{"success":true,"appointments":[{"appointmentId":null}]}`,
		`{"success":true,"services":[{"opcode":"OIL","serviceName":"Oil change"},{"opcode":7}]}`, `{"success":true,"services":{}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		bounded := func(what, s string) {
			if len(s) > 203 {
				t.Fatalf("unbounded %s: %d bytes", what, len(s))
			}
			if utf8.Valid(body) && !utf8.ValidString(s) {
				t.Fatalf("invalid UTF-8 %s from valid input", what)
			}
		}
		if r, ok := ParseResponse(body); ok {
			bounded("id", r.AppointmentID)
			bounded("code", r.Code)
			bounded("message", r.Message)
		}
		appts, _, _ := ParseAppointments(body)
		for _, a := range appts {
			if a.AppointmentID == "" {
				t.Fatal("an appointment without id")
			}
			bounded("id", a.AppointmentID)
			bounded("time", a.DateTimeLocal)
			ParseLocalTime(a.DateTimeLocal, time.UTC)
		}
		services, _, _ := ParseServices(body)
		for _, s := range services {
			if s.Opcode == "" {
				t.Fatal("a service without opcode")
			}
			bounded("opcode", s.Opcode)
			bounded("name", s.Name)
		}
	})
}
