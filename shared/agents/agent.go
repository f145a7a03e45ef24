// Package agents is DealerAI's integration agents: the four platforms a dealer can connect
// (VinSolutions, DealerSocket, Fortellis, XTime), each agent's configuration (settings and
// write-only credentials, validated on PUT), the stores of configurations and of the ids the
// platforms return, and the Dispatcher that delivers one event to one agent through the
// platform's connector (sub-packages vinsolutions, dealersocket, fortellis, xtime).
//
// An agent is a delivery target like a webhook subscription: its config item carries the
// attributes the router reads for every target (kind, id, events, enabled).
package agents

import (
	"slices"
	"sort"
	"time"
)

// The platforms.
const (
	VinSolutions = "vinsolutions"
	DealerSocket = "dealersocket"
	Fortellis    = "fortellis"
	XTime        = "xtime"
)

// Agent is one dealer's configuration of one platform.
type Agent struct {
	DealerID    string
	Platform    string
	Enabled     bool
	Settings    map[string]string
	Credentials map[string]string // write-only: never returned by the API, never logged
	UpdatedAt   time.Time
	// Version counts the writes; the API's ETag. 0 for an agent never stored.
	Version int
}

// PlatformInfo describes a platform: what its connector does and how it is configured.
type PlatformInfo struct {
	Platform string `json:"platform"`
	Name     string `json:"name"`
	// Capabilities are what the connector really does today.
	Capabilities []string `json:"capabilities"`
	// Events are the filters of the event types the agent consumes.
	Events      []string  `json:"events"`
	Settings    []KeySpec `json:"settings"`
	Credentials []KeySpec `json:"credentials"`
}

// KeySpec is one key of an agent's settings or credentials.
type KeySpec struct {
	Key      string `json:"key"`
	Required bool   `json:"required"`
	// Default is used when the key is absent ("" for none).
	Default string `json:"default,omitempty"`
	// URL: the value is a URL and must pass the SSRF check.
	URL         bool   `json:"url,omitempty"`
	Description string `json:"description"`
}

var platforms = []PlatformInfo{
	{
		Platform: VinSolutions,
		Name:     "VinSolutions",
		Capabilities: []string{
			"push leads (contact, lead, vehicle of interest)",
			"add appointment notes (created, rescheduled, cancelled) to leads",
		},
		Events: []string{"lead.created", "appointment.*"},
		Settings: []KeySpec{
			{Key: "baseUrl", Default: "https://api.vinsolutions.com", URL: true, Description: "VinSolutions API base URL"},
			{Key: "tokenUrl", Default: "https://authentication.vinsolutions.com/connect/token", URL: true, Description: "OAuth 2.0 token endpoint"},
			{Key: "dealerId", Required: true, Description: "VinSolutions dealer id (a number)"},
			{Key: "userId", Required: true, Description: "VinSolutions user id leads are created as (a number)"},
			{Key: "leadSourceId", Required: true, Description: "VinSolutions lead source id for DealerAI leads (a number)"},
			{Key: "leadType", Default: "INTERNET", Description: "lead type of the leads created"},
		},
		Credentials: []KeySpec{
			{Key: "clientId", Required: true, Description: "OAuth 2.0 client id"},
			{Key: "clientSecret", Required: true, Description: "OAuth 2.0 client secret"},
			{Key: "apiKey", Required: true, Description: "API key (api_key header)"},
		},
	},
	{
		Platform: DealerSocket,
		Name:     "DealerSocket",
		Capabilities: []string{
			"push leads as ADF 1.0 (contact, vehicle of interest, comments); a lead DealerSocket reports as a duplicate counts as delivered",
			"add appointments (created, rescheduled, cancelled) as activities on leads (needs publicKey and secretKey); an appointment whose lead DealerSocket does not have yet is first sent as an ADF lead",
		},
		Events: []string{"lead.created", "appointment.*"},
		Settings: []KeySpec{
			{Key: "baseUrl", Default: "https://oemwebsecure.dealersocket.com", URL: true, Description: "DealerSocket OEM lead endpoint base URL"},
			{Key: "activityUrl", Default: "https://api.dealersocket.com/api/DealerSocket/Activity", URL: true, Description: "DealerSocket activity insert URL"},
			{Key: "vendorName", Required: true, Description: "the dealership's name in ADF leads (vendor > vendorname)"},
			{Key: "dealerNumberId", Required: true, Description: "DealerSocket dealer number"},
			{Key: "activityType", Default: "Appointment", Description: "activity type of appointment activities"},
			{Key: "activityStatus", Default: "Scheduled", Description: "activity status of created and rescheduled appointments"},
			{Key: "cancelledActivityStatus", Default: "Cancelled", Description: "activity status of cancelled appointments"},
		},
		Credentials: []KeySpec{
			{Key: "directLeadKey", Required: true, Description: "direct lead key (part of the lead URL)"},
			{Key: "username", Required: true, Description: "lead endpoint user name"},
			{Key: "password", Required: true, Description: "lead endpoint password"},
			{Key: "publicKey", Description: "activity API public key (with secretKey; needed for appointments)"},
			{Key: "secretKey", Description: "activity API secret key (with publicKey; needed for appointments)"},
		},
	},
	{
		Platform: Fortellis,
		Name:     "Fortellis",
		Capabilities: []string{
			"push leads as Elead customers and opportunities (with the vehicle sought and the lead's comments)",
			"schedule Elead activities for sales, test-drive, trade-in and lease-return appointments; note cancellations on the opportunity",
			"book service appointments (created; a reschedule of an unknown appointment books it)",
		},
		Events: []string{"lead.created", "appointment.*"},
		Settings: []KeySpec{
			{Key: "baseUrl", Default: "https://api.fortellis.io", URL: true, Description: "Fortellis API base URL"},
			{Key: "tokenUrl", Default: "https://identity.fortellis.io/oauth2/aus1p1ixy7YL8cMq02p7/v1/token", URL: true, Description: "Fortellis token endpoint"},
			{Key: "subscriptionId", Required: true, Description: "the dealer's Fortellis subscription id (Subscription-Id header)"},
			{Key: "leadSource", Default: "DealerAI", Description: "opportunity source"},
			{Key: "upType", Default: "Internet", Description: "opportunity up type"},
			{Key: "activityTypeId", Description: "Elead activity type id of scheduled appointment activities (the platform's default when empty)"},
		},
		Credentials: []KeySpec{
			{Key: "apiKey", Required: true, Description: "Fortellis API key (client id)"},
			{Key: "apiSecret", Required: true, Description: "Fortellis API secret"},
		},
	},
	{
		Platform: XTime,
		Name:     "XTime",
		Capabilities: []string{
			"book service appointments",
			"reschedule (cancel and rebook) and cancel the appointments it booked, as rescheduleStrategy says",
		},
		Events: []string{"appointment.*"},
		Settings: []KeySpec{
			{Key: "baseUrl", Required: true, URL: true, Description: "XTime API base URL"},
			{Key: "tokenUrl", Required: true, URL: true, Description: "OAuth 2.0 token endpoint"},
			{Key: "dealerCode", Required: true, Description: "XTime dealer code"},
			{Key: "timezone", Required: true, Description: "the dealership's IANA time zone, e.g. America/Chicago"},
			{Key: "defaultOpcode", Required: true, Description: "opcode of the service booked"},
			{Key: "rescheduleStrategy", Default: "cancel-and-rebook", Description: "cancel-and-rebook or skip: what rescheduled and cancelled appointments do"},
			{Key: "cancelPath", Default: "/service/appointments-bookings/{appointmentId}/cancel", Description: "path of the cancel call (not published by XTime), relative to baseUrl"},
		},
		Credentials: []KeySpec{
			{Key: "clientId", Required: true, Description: "OAuth 2.0 client id"},
			{Key: "clientSecret", Required: true, Description: "OAuth 2.0 client secret"},
			{Key: "apiKey", Required: true, Description: "API key (x-api-key header)"},
		},
	},
}

// Platforms lists the four platforms, in the API's order.
func Platforms() []PlatformInfo {
	out := make([]PlatformInfo, len(platforms))
	for i, p := range platforms {
		p.Capabilities = slices.Clone(p.Capabilities)
		p.Events = slices.Clone(p.Events)
		p.Settings = slices.Clone(p.Settings)
		p.Credentials = slices.Clone(p.Credentials)
		out[i] = p
	}
	return out
}

// Platform returns one platform's description.
func Platform(platform string) (PlatformInfo, bool) {
	for _, p := range Platforms() {
		if p.Platform == platform {
			return p, true
		}
	}
	return PlatformInfo{}, false
}

// PublicAgent is an agent as the API shows it: never its credentials, only which are set.
type PublicAgent struct {
	Platform     string            `json:"platform"`
	Name         string            `json:"name"`
	Capabilities []string          `json:"capabilities"`
	Events       []string          `json:"events"`
	Enabled      bool              `json:"enabled"`
	Settings     map[string]string `json:"settings"`
	// CredentialsSet names the credentials that are stored, sorted.
	CredentialsSet []string   `json:"credentialsSet"`
	UpdatedAt      *time.Time `json:"updatedAt"`
	// SettingsSpec and CredentialsSpec say what the platform takes, so a form can be built
	// from them.
	SettingsSpec    []KeySpec `json:"settingsSpec"`
	CredentialsSpec []KeySpec `json:"credentialsSpec"`
}

// Public is the API view of an agent. An agent never configured is &Agent{Platform: p}:
// disabled, no settings, no credentials, updatedAt null.
func Public(a *Agent) PublicAgent {
	info, _ := Platform(a.Platform)
	p := PublicAgent{
		Platform:        a.Platform,
		Name:            info.Name,
		Capabilities:    info.Capabilities,
		Events:          info.Events,
		Enabled:         a.Enabled,
		Settings:        map[string]string{},
		CredentialsSet:  []string{},
		SettingsSpec:    info.Settings,
		CredentialsSpec: info.Credentials,
	}
	for k, v := range a.Settings {
		p.Settings[k] = v
	}
	for k, v := range a.Credentials {
		if v != "" {
			p.CredentialsSet = append(p.CredentialsSet, k)
		}
	}
	sort.Strings(p.CredentialsSet)
	if !a.UpdatedAt.IsZero() {
		t := a.UpdatedAt
		p.UpdatedAt = &t
	}
	return p
}

// withDefaults returns settings with the platform's defaults for the absent keys.
func withDefaults(info PlatformInfo, settings map[string]string) map[string]string {
	out := make(map[string]string, len(info.Settings))
	for _, k := range info.Settings {
		if k.Default != "" {
			out[k.Key] = k.Default
		}
	}
	for k, v := range settings {
		if v != "" {
			out[k] = v
		}
	}
	return out
}
