package xtime_test

import (
	"slices"
	"testing"

	"github.com/dealerai/integrations/shared/agents/xtime"
)

// TestCheck: the settings that only make sense together, and the unpublished cancel call's
// shape.
func TestCheck(t *testing.T) {
	valid := func() map[string]string {
		return xtime.Platform.WithDefaults(map[string]string{"baseUrl": "https://sandbox.api.coxautoinc.com/xtime",
			"dealerCode": "XT1", "timezone": "America/Chicago"})
	}
	if errs := xtime.Platform.Check(valid(), nil); errs != nil {
		t.Fatalf("defaults: %v", errs)
	}
	cases := []struct {
		edit  map[string]string
		field string
	}{
		{map[string]string{"serviceLookup": "off"}, "settings.defaultOpcode"},
		{map[string]string{"serviceLookup": "sometimes"}, "settings.serviceLookup"},
		{map[string]string{"rescheduleStrategy": "cancel-and-rebook"}, "settings.cancelPath"},
		{map[string]string{"rescheduleStrategy": "move"}, "settings.rescheduleStrategy"},
		{map[string]string{"cancelPath": "cancel/{appointmentId}"}, "settings.cancelPath"},
		{map[string]string{"cancelPath": "/cancel?id={appointmentId}"}, "settings.cancelPath"},
		{map[string]string{"cancelPath": "//evil.example/x"}, "settings.cancelPath"},
		{map[string]string{"cancelMethod": "GET"}, "settings.cancelMethod"},
		{map[string]string{"timezone": "Central"}, "settings.timezone"},
	}
	for _, c := range cases {
		s := valid()
		for k, v := range c.edit {
			s[k] = v
		}
		var fields []string
		for _, e := range xtime.Platform.Check(s, nil) {
			fields = append(fields, e.Field)
		}
		if !slices.Equal(fields, []string{c.field}) {
			t.Errorf("%v: errors on %v, want %s", c.edit, fields, c.field)
		}
	}
	for _, ok := range []map[string]string{
		{"serviceLookup": "off", "defaultOpcode": "OIL"},
		{"rescheduleStrategy": "cancel-and-rebook", "cancelPath": "/service/appointments/{appointmentId}/cancel", "cancelMethod": "DELETE"},
		{"rescheduleStrategy": "skip"},
	} {
		s := valid()
		for k, v := range ok {
			s[k] = v
		}
		if errs := xtime.Platform.Check(s, nil); errs != nil {
			t.Errorf("%v: %v", ok, errs)
		}
	}
}
