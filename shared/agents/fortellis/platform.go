package fortellis

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"

	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/validation"
)

// Defaults of the settings that are paths or names of the platform's.
const (
	DefaultTokenURL              = "https://identity.fortellis.io/oauth2/aus1p1ixy7YL8cMq02p7/v1/token"
	DefaultActivityType          = "Appointment"
	DefaultAppointmentUpdatePath = ServiceAppointmentsPath + "/{appointmentId}"
	DefaultAppointmentCancelPath = ServiceAppointmentsPath + "/{appointmentId}"
)

// upTypes are the opportunity up types Elead accepts.
var upTypes = []string{"Unknown", "Campaign", "Internet", "Phone", "Showroom"}

// Platform is Fortellis as the agents core knows it.
var Platform = platform.Platform{
	ID:   "fortellis",
	Name: "Fortellis",
	Capabilities: []string{
		"push leads as Elead customers (found by email or phone first) and opportunities (found again after a lost answer), with the vehicle sought and the lead's comments",
		"dispositions: the matching Elead sub-status (or set inactive) and a comment with the notes",
		"contact updates: the Elead customer's names, new emails and phones added",
		"vehicle of interest: a vehicle sought (or a trade-in) on the opportunity",
		"sales, test-drive, trade-in and lease-return appointments: scheduled Elead activities, cancellations as comments; the customer and opportunity are created first when Elead has none",
		"service appointments: booked, updated and cancelled through the Appointments v3 API",
		"two-way sync: reads Elead's searchDelta (opportunities changed in the past 7 days) and the activity history of each, and sends back opportunities entered in Elead, changed statuses, sub-statuses and salespeople, and appointments completed, missed, moved or cancelled",
		"the dealer's vehicle inventory (CDK Merchandisable Vehicles v2, with dealerCode or webId set): kept in DealerAI by the two-way sync for GET /v1/inventory, arrivals, changes and sales published as inventory events",
	},
	Events: []string{
		"lead.created", "lead.received", "lead.update.disposition",
		"contact.basic.updated", "contact.vehicleofinterest.updated", "appointment.*",
	},
	Settings: append([]platform.KeySpec{
		{Key: "baseUrl", Default: "https://api.fortellis.io", URL: true, Description: "Fortellis API base URL (append /cdk-test for CDK's test environment)"},
		{Key: "tokenUrl", Default: DefaultTokenURL, URL: true, Description: "Fortellis token endpoint"},
		{Key: "subscriptionId", Required: true, Description: "the dealer's Fortellis subscription id (Subscription-Id header)"},
		{Key: "dataOwnerId", Description: "the dealer's Fortellis organization as Event Relay names it (Data-Owner-Id): its push notices to POST /v1/notices/fortellis run this agent's sync (none when empty)"},
		{Key: "leadSource", Default: "DealerAI", Description: "opportunity source: one of the company's Elead opportunity sources"},
		{Key: "leadSubSource", Description: "opportunity sub-source: one of the source's Elead sub-sources (none when empty)"},
		{Key: "upType", Default: "Internet", Description: "opportunity up type: Unknown, Campaign, Internet, Phone or Showroom"},
		{Key: "activityType", Default: DefaultActivityType, Description: "Elead activity type of scheduled appointments: a name from the company's activity types, or its id"},
		{Key: "dispositionMap", Description: `JSON object from DealerAI disposition codes or names to Elead sub-statuses ("inactive:<sub-status>" sets the opportunity inactive, "" adds only the comment); unmapped dispositions match the company's Active sub-statuses by name`},
		{Key: "vehicleHrefTemplate", Description: "link to the dealer's service vehicle record with {vin} in place of the VIN, sent as vehicleHref of service appointments (none when empty)"},
		{Key: "appointmentUpdatePath", Default: DefaultAppointmentUpdatePath, Description: "path of the service appointment update call (POST), relative to baseUrl, with {appointmentId}"},
		{Key: "appointmentCancelPath", Default: DefaultAppointmentCancelPath, Description: "path of the service appointment cancel call (DELETE), relative to baseUrl, with {appointmentId}"},
	}, inventorySettings...),
	Credentials: []platform.KeySpec{
		{Key: "apiKey", Required: true, Description: "Fortellis API key (client id)"},
		{Key: "apiSecret", Required: true, Description: "Fortellis API secret"},
	},
	// The API gateway (production and the /cdk-test paths), the identity server, the
	// subscriptions API and Event Relay (docs/agents.md).
	Hosts:        []string{"api.fortellis.io", "identity.fortellis.io", "subscriptions.fortellis.io", "event-relay.fortellis.io"},
	Check:        check,
	NewConnector: func(deps platform.Deps) connector.Connector { return New(deps.Tokens) },
	// Elead's changes (feed.go) and the dealer's vehicle inventory (inventory.go), each with
	// its own cursor.
	NewChangeFeed: func(deps platform.Deps) changefeed.Feed {
		return changefeed.Join(
			changefeed.Part{Name: "elead", Feed: NewFeed(deps.Tokens)},
			changefeed.Part{Name: "inventory", Feed: &InventoryFeed{Tokens: deps.Tokens}},
		)
	},
}

// check: a known up type, a disposition map that is a JSON object of strings, paths with the
// appointment's place, a vehicle link template with the VIN's.
func check(settings, _ map[string]string) []validation.FieldError {
	var errs []validation.FieldError
	if v := settings["upType"]; !slices.Contains(upTypes, v) {
		errs = append(errs, validation.FieldError{Field: "settings.upType", Message: "must be one of " + strings.Join(upTypes, ", ")})
	}
	if v := settings["dispositionMap"]; v != "" {
		if _, err := parseDispositionMap(v); err != nil {
			errs = append(errs, validation.FieldError{Field: "settings.dispositionMap", Message: err.Error()})
		}
	}
	for _, k := range []string{"appointmentUpdatePath", "appointmentCancelPath"} {
		if p := settings[k]; !strings.HasPrefix(p, "/") || !strings.Contains(p, "{appointmentId}") {
			errs = append(errs, validation.FieldError{Field: "settings." + k, Message: "must be a path starting with / that contains {appointmentId}"})
		}
	}
	if v := settings["vehicleHrefTemplate"]; v != "" && !strings.Contains(v, "{vin}") {
		errs = append(errs, validation.FieldError{Field: "settings.vehicleHrefTemplate", Message: "must contain {vin}"})
	}
	return append(errs, checkInventory(settings)...)
}

// parseDispositionMap reads the dispositionMap setting: a JSON object of strings, keys
// compared without regard to case.
func parseDispositionMap(v string) (map[string]string, error) {
	var m map[string]string
	if err := json.Unmarshal([]byte(v), &m); err != nil || m == nil {
		return nil, errDispositionMap
	}
	out := make(map[string]string, len(m))
	for k, s := range m {
		out[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(s)
	}
	return out, nil
}

var errDispositionMap = errors.New(`must be a JSON object of strings, e.g. {"APPT_SET": "Appointment Set", "NOT_INTERESTED": "inactive:Not In Market"}`)
