package xtime

import (
	"strings"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/validation"
)

// Reschedule strategies (setting rescheduleStrategy).
const (
	CancelAndRebook = "cancel-and-rebook"
	SkipReschedules = "skip"
)

// Platform is XTime as the agents core knows it.
var Platform = platform.Platform{
	ID:   "xtime",
	Name: "XTime",
	Capabilities: []string{
		"book service appointments",
		"reschedule (cancel and rebook) and cancel the appointments it booked, as rescheduleStrategy says",
	},
	Events: []string{"appointment.*"},
	Settings: []platform.KeySpec{
		{Key: "baseUrl", Required: true, URL: true, Description: "XTime API base URL"},
		{Key: "tokenUrl", Required: true, URL: true, Description: "OAuth 2.0 token endpoint"},
		{Key: "dealerCode", Required: true, Description: "XTime dealer code"},
		{Key: "timezone", Required: true, Description: "the dealership's IANA time zone, e.g. America/Chicago"},
		{Key: "defaultOpcode", Required: true, Description: "opcode of the service booked"},
		{Key: "rescheduleStrategy", Default: CancelAndRebook, Description: "cancel-and-rebook or skip: what rescheduled and cancelled appointments do"},
		{Key: "cancelPath", Default: "/service/appointments-bookings/{appointmentId}/cancel", Description: "path of the cancel call (not published by XTime), relative to baseUrl"},
	},
	Credentials: []platform.KeySpec{
		{Key: "clientId", Required: true, Description: "OAuth 2.0 client id"},
		{Key: "clientSecret", Required: true, Description: "OAuth 2.0 client secret"},
		{Key: "apiKey", Required: true, Description: "API key (x-api-key header)"},
	},
	// Cox Automotive's token server, the sandbox API and the production retail API
	// (docs/agents.md).
	Hosts:        []string{"auth.coxautoinc.com", "sandbox.api.coxautoinc.com", "api.retailapi-coxautoinc.com"},
	Check:        check,
	NewConnector: func(deps platform.Deps) connector.Connector { return New(deps.Tokens) },
}

// check: a real time zone, a known strategy, a cancel path with the appointment's place.
func check(settings, _ map[string]string) []validation.FieldError {
	var errs []validation.FieldError
	if tz, ok := settings["timezone"]; ok {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			errs = append(errs, validation.FieldError{Field: "settings.timezone", Message: "must be an IANA time zone such as America/Chicago"})
		}
	}
	if v := settings["rescheduleStrategy"]; v != CancelAndRebook && v != SkipReschedules {
		errs = append(errs, validation.FieldError{Field: "settings.rescheduleStrategy", Message: "must be cancel-and-rebook or skip"})
	}
	if p := settings["cancelPath"]; !strings.HasPrefix(p, "/") || !strings.Contains(p, "{appointmentId}") {
		errs = append(errs, validation.FieldError{Field: "settings.cancelPath", Message: "must be a path starting with / that contains {appointmentId}"})
	}
	return errs
}
