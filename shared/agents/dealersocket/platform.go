package dealersocket

import (
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/validation"
)

// Platform is DealerSocket as the agents core knows it.
var Platform = platform.Platform{
	ID:   "dealersocket",
	Name: "DealerSocket",
	Capabilities: []string{
		"push leads as ADF 1.0 (contact, vehicle of interest, comments); a lead DealerSocket reports as a duplicate counts as delivered",
		"add appointments (created, rescheduled, cancelled) as activities on leads (needs publicKey and secretKey); an appointment whose lead DealerSocket does not have yet is first sent as an ADF lead",
	},
	Events: []string{"lead.created", "appointment.*"},
	Settings: []platform.KeySpec{
		{Key: "baseUrl", Default: "https://oemwebsecure.dealersocket.com", URL: true, Description: "DealerSocket OEM lead endpoint base URL"},
		{Key: "activityUrl", Default: "https://api.dealersocket.com/api/DealerSocket/Activity", URL: true, Description: "DealerSocket activity insert URL"},
		{Key: "vendorName", Required: true, Description: "the dealership's name in ADF leads (vendor > vendorname)"},
		{Key: "dealerNumberId", Required: true, Description: "DealerSocket dealer number"},
		{Key: "activityType", Default: "Appointment", Description: "activity type of appointment activities"},
		{Key: "activityStatus", Default: "Scheduled", Description: "activity status of created and rescheduled appointments"},
		{Key: "cancelledActivityStatus", Default: "Cancelled", Description: "activity status of cancelled appointments"},
	},
	Credentials: []platform.KeySpec{
		{Key: "directLeadKey", Required: true, Description: "direct lead key (part of the lead URL)"},
		{Key: "username", Required: true, Description: "lead endpoint user name"},
		{Key: "password", Required: true, Description: "lead endpoint password"},
		{Key: "publicKey", Description: "activity API public key (with secretKey; needed for appointments)"},
		{Key: "secretKey", Description: "activity API secret key (with publicKey; needed for appointments)"},
	},
	// The OEM lead endpoint, the signed APIs and the event search API (docs/agents.md).
	Hosts:        []string{"oemwebsecure.dealersocket.com", "api.dealersocket.com", "iapi.dealersocket.com"},
	Check:        check,
	NewConnector: func(platform.Deps) connector.Connector { return New() },
}

// check: the activity API keys come as a pair.
func check(_, creds map[string]string) []validation.FieldError {
	_, pub := creds["publicKey"]
	_, sec := creds["secretKey"]
	switch {
	case pub && !sec:
		return []validation.FieldError{{Field: "credentials.secretKey", Message: "is required with publicKey"}}
	case sec && !pub:
		return []validation.FieldError{{Field: "credentials.publicKey", Message: "is required with secretKey"}}
	}
	return nil
}
