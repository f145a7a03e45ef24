package vinsolutions

import (
	"strconv"

	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/validation"
)

// Platform is VinSolutions as the agents core knows it.
var Platform = platform.Platform{
	ID:   "vinsolutions",
	Name: "VinSolutions",
	Capabilities: []string{
		"push leads: the contact (found by email or phone, else created), the lead, its vehicle of interest and a note",
		"append notes to leads for appointments (created, rescheduled, cancelled) and disposition changes",
		"create the contact and lead of a sales appointment whose lead VinSolutions does not have",
		"update contacts (names; an email or phone they lack is added)",
		"add vehicles of interest to leads",
		"two-way sync: pages the dealer's leads newest first and sends back leads entered in VinSolutions and changed lead statuses (of the leads created since the sync started, for syncDays days)",
	},
	Events: []string{"lead.created", "lead.received", "lead.update.disposition", "contact.basic.updated",
		"contact.vehicleofinterest.updated", "appointment.*"},
	Settings: []platform.KeySpec{
		{Key: "baseUrl", Default: "https://api.vinsolutions.com", URL: true, Description: "VinSolutions API base URL"},
		{Key: "tokenUrl", Default: "https://authentication.vinsolutions.com/connect/token", URL: true, Description: "OAuth 2.0 token endpoint"},
		{Key: "dealerId", Required: true, Description: "VinSolutions dealer id (a number)"},
		{Key: "userId", Required: true, Description: "VinSolutions user id of the API credentials, which contacts and leads are created as (a number)"},
		{Key: "leadSourceId", Required: true, Description: "VinSolutions lead source id for DealerAI leads (a number; GET /leadSources?dealerId= lists the dealer's)"},
		{Key: "leadType", Default: "INTERNET", Description: "lead type of the leads created"},
		{Key: "noticeHeader", Default: "X-DealerAI-Notice-Key", Description: "header VinSolutions' Connect Event Service subscriber sends noticeSecret in (its username), for push notices to POST /v1/notices/vinsolutions/{dealerId}"},
		{Key: "syncDays", Default: DefaultSyncDays, Description: "days after its creation a lead's status changes are read back by the two-way sync (0 to 90; 0: new leads only)"},
	},
	Credentials: []platform.KeySpec{
		{Key: "clientId", Required: true, Description: "OAuth 2.0 client id"},
		{Key: "clientSecret", Required: true, Description: "OAuth 2.0 client secret"},
		{Key: "apiKey", Required: true, Description: "API key (api_key header)"},
		{Key: "noticeSecret", Description: "secret of push notices: the Connect Event Service subscriber's password, sent in noticeHeader (without it, notices are refused)"},
	},
	// The Lead Management API in production and sandbox, and the token server (docs/agents.md).
	Hosts:         []string{"api.vinsolutions.com", "sandbox.api.vinsolutions.com", "authentication.vinsolutions.com"},
	Check:         check,
	NewConnector:  func(deps platform.Deps) connector.Connector { return New(deps.Tokens) },
	NewChangeFeed: func(deps platform.Deps) changefeed.Feed { return NewFeed(deps.Tokens) },
}

// check: the ids VinSolutions takes as numbers are numbers.
func check(settings, _ map[string]string) []validation.FieldError {
	var errs []validation.FieldError
	for _, k := range []string{"dealerId", "userId", "leadSourceId"} {
		if v, ok := settings[k]; ok && !isNumber(v) {
			errs = append(errs, validation.FieldError{Field: "settings." + k, Message: "must be a number"})
		}
	}
	if v, ok := settings["syncDays"]; ok {
		if n, err := strconv.Atoi(v); err != nil || n < 0 || n > maxSyncDays {
			errs = append(errs, validation.FieldError{Field: "settings.syncDays", Message: "must be a whole number from 0 to 90"})
		}
	}
	return errs
}

func isNumber(v string) bool {
	if v == "" || len(v) > 18 {
		return false
	}
	for _, c := range v {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}
