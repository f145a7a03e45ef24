package connector_test

import (
	"testing"

	"github.com/dealerai/integrations/shared/agents/connector"
)

func TestPhoneDigits(t *testing.T) {
	for in, want := range map[string]string{"+15125550131": "5125550131", "512-555-0131": "5125550131",
		"(512) 555 0131": "5125550131", "5125550131": "5125550131", "+44 20 7946 0958": "442079460958",
		"25550131": "25550131", "": ""} {
		if got := connector.PhoneDigits(in); got != want {
			t.Errorf("%q = %q, want %q", in, got, want)
		}
	}
}
