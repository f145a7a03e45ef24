package xtime

import (
	"strings"
	"time"

	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/validation"
)

// Reschedule strategies (setting rescheduleStrategy).
const (
	// UpdateBooking posts the booking again with the XTime appointmentId (the published call).
	UpdateBooking = "update"
	// CancelAndRebook cancels through cancelPath, then books the new time.
	CancelAndRebook = "cancel-and-rebook"
	// SkipReschedules sends no reschedule.
	SkipReschedules = "skip"
)

// Service lookup modes (setting serviceLookup).
const (
	LookupOn  = "on"
	LookupOff = "off"
)

// TokenURL is Cox Automotive's token endpoint, for the sandbox and production alike.
const TokenURL = "https://auth.coxautoinc.com/token"

// Platform is XTime as the agents core knows it.
var Platform = platform.Platform{
	ID:   "xtime",
	Name: "XTime",
	Capabilities: []string{
		"book service appointments (the vehicle by VIN, or year, make and model), the opcode from the dealer's XTime services or a configured one",
		"find a booking whose answer was lost before booking again (by VIN)",
		"reschedule: update the booking, or cancel and rebook, as rescheduleStrategy says",
		"cancel, when a cancelPath is configured (XTime publishes no cancel call)",
		"two-way sync: reads the appointments of the vehicles DealerAI booked (one call per VIN, every VIN in turn) and sends back appointments rescheduled, cancelled or completed in XTime and new ones",
	},
	Events: []string{"appointment.*"},
	Settings: []platform.KeySpec{
		{Key: "baseUrl", Required: true, URL: true, Description: "XTime API base URL, before /service (sandbox https://sandbox.api.coxautoinc.com/xtime)"},
		{Key: "tokenUrl", Default: TokenURL, URL: true, Description: "OAuth 2.0 token endpoint"},
		{Key: "dealerCode", Required: true, Description: "XTime dealer code"},
		{Key: "timezone", Required: true, Description: "the dealership's IANA time zone, e.g. America/Chicago"},
		{Key: "serviceLookup", Default: LookupOn, Description: "on: book the dealer's XTime service named like the appointment's service type, else defaultOpcode; off: always defaultOpcode, without looking up XTime's services"},
		{Key: "defaultOpcode", Description: "opcode booked when no XTime service matches the appointment's service type (required when serviceLookup is off)"},
		{Key: "rescheduleStrategy", Default: UpdateBooking, Description: "update, cancel-and-rebook (needs cancelPath) or skip"},
		{Key: "cancelPath", Description: "path of the cancel call, relative to baseUrl, {appointmentId} standing for XTime's id (XTime publishes none); empty: cancellations are skipped"},
		{Key: "cancelMethod", Default: "POST", Description: "HTTP method of the cancel call: POST, PUT, PATCH or DELETE"},
	},
	Credentials: []platform.KeySpec{
		{Key: "clientId", Required: true, Description: "OAuth 2.0 client id"},
		{Key: "clientSecret", Required: true, Description: "OAuth 2.0 client secret"},
		{Key: "apiKey", Required: true, Description: "API key (x-api-key header)"},
		{Key: "developerKey", Description: "developer key (developerKey header), for the integrations XTime gives one"},
	},
	// Cox Automotive's token server, the sandbox API and the production retail API
	// (docs/agents.md#xtime).
	Hosts:         []string{"auth.coxautoinc.com", "sandbox.api.coxautoinc.com", "api.retailapi-coxautoinc.com"},
	Check:         check,
	NewConnector:  func(deps platform.Deps) connector.Connector { return New(deps.Tokens) },
	NewChangeFeed: func(deps platform.Deps) changefeed.Feed { return NewFeed(deps.Tokens) },
}

// check: a real time zone, known modes and strategies, the keys each of them needs, a cancel
// path that is a path.
func check(settings, _ map[string]string) []validation.FieldError {
	var errs []validation.FieldError
	bad := func(field, msg string) {
		errs = append(errs, validation.FieldError{Field: "settings." + field, Message: msg})
	}
	if tz, ok := settings["timezone"]; ok {
		if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
			bad("timezone", "must be an IANA time zone such as America/Chicago")
		}
	}
	switch settings["serviceLookup"] {
	case LookupOn:
	case LookupOff:
		if settings["defaultOpcode"] == "" {
			bad("defaultOpcode", "is required when serviceLookup is off")
		}
	default:
		bad("serviceLookup", "must be on or off")
	}
	switch settings["rescheduleStrategy"] {
	case UpdateBooking, SkipReschedules:
	case CancelAndRebook:
		if settings["cancelPath"] == "" {
			bad("cancelPath", "is required when rescheduleStrategy is cancel-and-rebook (XTime publishes no cancel call)")
		}
	default:
		bad("rescheduleStrategy", "must be update, cancel-and-rebook or skip")
	}
	if p := settings["cancelPath"]; p != "" && (!strings.HasPrefix(p, "/") || strings.ContainsAny(p, "?#") || strings.Contains(p, "//")) {
		bad("cancelPath", "must be a path starting with /, without query or fragment, e.g. /service/appointments/{appointmentId}/cancel")
	}
	switch settings["cancelMethod"] {
	case "POST", "PUT", "PATCH", "DELETE":
	default:
		bad("cancelMethod", "must be POST, PUT, PATCH or DELETE")
	}
	return errs
}
