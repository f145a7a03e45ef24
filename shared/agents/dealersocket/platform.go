package dealersocket

import (
	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/validation"
)

// Platform is DealerSocket as the agents core knows it.
var Platform = platform.Platform{
	ID:   "dealersocket",
	Name: "DealerSocket",
	Capabilities: []string{
		"push leads as ADF 1.0 (contact, vehicle of interest, comments); a lead DealerSocket reports as a duplicate resolves to the existing lead",
		"add appointments as activities on the lead (created: insert; rescheduled and cancelled: update of that activity); an appointment whose lead DealerSocket does not have yet first sends the lead",
		"set the sales event's status from a disposition (dispositionStatuses) and append the disposition as a work note",
		"update the customer's name, email and phone (keeping the rest of the DealerSocket record) and the sales event's vehicle of interest",
		"the appointment, disposition and contact operations need the signed API keys (publicKey and secretKey)",
		"two-way sync: reads the sales events of the customers DealerAI pushed (one event search per customer, every customer in turn) and sends back new sales events and changed statuses and assignees (needs the signed API keys)",
	},
	Events: []string{
		"lead.created", "lead.received", "lead.update.disposition",
		"contact.basic.updated", "contact.vehicleofinterest.updated", "appointment.*",
	},
	Settings: []platform.KeySpec{
		{Key: "baseUrl", Default: "https://oemwebsecure.dealersocket.com", URL: true, Description: "DealerSocket OEM lead endpoint base URL (ADF leads)"},
		{Key: "apiUrl", Default: "https://api.dealersocket.com/api/DealerSocket", URL: true, Description: "base URL of DealerSocket's signed APIs (Activity, WorkNote, eventsales, Customer, SearchEntity)"},
		{Key: "eventSearchUrl", Default: "https://iapi.dealersocket.com/webapi/EventSearch", URL: true, Description: "DealerSocket event search URL (finds which customer holds a lead; the two-way sync reads the customers' sales events with it)"},
		{Key: "vendorName", Required: true, Description: "the dealership's name in ADF leads (vendor > vendorname)"},
		{Key: "dealerNumberId", Required: true, Description: "the dealership's DealerSocket dealer id (DealerId, DealerNumberID)"},
		{Key: "apiVendor", Default: "DealerAI", Description: "the vendor name DealerSocket assigned to DealerAI for its signed APIs (Vendor, CreatorNameCode)"},
		{Key: "activityType", Default: "Appointment", Description: "type of the activities appointments become"},
		{Key: "activityTypeElement", Default: ElementActivityTaskType, Description: "the element the activity type is sent in: ActivityTaskType or ActivityType"},
		{Key: "activityStatus", Description: "Status of the activities of created and rescheduled appointments (none when empty)"},
		{Key: "cancelledActivityStatus", Default: "Cancelled", Description: "Status an appointment's activity takes when it is cancelled"},
		{Key: "dispositionStatuses", Description: "sales event status (LeadStatus) per DealerAI disposition code, e.g. APPT_SET=Contacted,LOST=Lost; a code not listed only adds a work note"},
	},
	Credentials: []platform.KeySpec{
		{Key: "directLeadKey", Required: true, Description: "direct lead key (part of the lead URL)"},
		{Key: "username", Required: true, Description: "lead endpoint user name"},
		{Key: "password", Required: true, Description: "lead endpoint password"},
		{Key: "publicKey", Description: "signed API public key (with secretKey; needed for everything but leads)"},
		{Key: "secretKey", Description: "signed API private key (with publicKey; needed for everything but leads)"},
	},
	// The OEM lead endpoint, the signed APIs and the event search API (docs/agents.md).
	Hosts:         []string{"oemwebsecure.dealersocket.com", "api.dealersocket.com", "iapi.dealersocket.com"},
	Check:         check,
	NewConnector:  func(platform.Deps) connector.Connector { return New() },
	NewChangeFeed: func(platform.Deps) changefeed.Feed { return NewFeed() },
}

// The elements an activity's type may be sent in.
const (
	ElementActivityTaskType = "ActivityTaskType"
	ElementActivityType     = "ActivityType"
)

// check: the signed API keys come as a pair; the activity type element and the disposition
// statuses are well formed.
func check(settings, creds map[string]string) []validation.FieldError {
	var errs []validation.FieldError
	_, pub := creds["publicKey"]
	_, sec := creds["secretKey"]
	switch {
	case pub && !sec:
		errs = append(errs, validation.FieldError{Field: "credentials.secretKey", Message: "is required with publicKey"})
	case sec && !pub:
		errs = append(errs, validation.FieldError{Field: "credentials.publicKey", Message: "is required with secretKey"})
	}
	if e := settings["activityTypeElement"]; e != "" && e != ElementActivityTaskType && e != ElementActivityType {
		errs = append(errs, validation.FieldError{Field: "settings.activityTypeElement", Message: "must be ActivityTaskType or ActivityType"})
	}
	if _, err := ParseDispositionStatuses(settings["dispositionStatuses"]); err != nil {
		errs = append(errs, validation.FieldError{Field: "settings.dispositionStatuses", Message: err.Error()})
	}
	return errs
}
