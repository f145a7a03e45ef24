package fortellis

import (
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
)

// Platform is Fortellis as the agents core knows it.
var Platform = platform.Platform{
	ID:   "fortellis",
	Name: "Fortellis",
	Capabilities: []string{
		"push leads as Elead customers and opportunities (with the vehicle sought and the lead's comments)",
		"schedule Elead activities for sales, test-drive, trade-in and lease-return appointments; note cancellations on the opportunity",
		"book service appointments (created; a reschedule of an unknown appointment books it)",
	},
	Events: []string{"lead.created", "appointment.*"},
	Settings: []platform.KeySpec{
		{Key: "baseUrl", Default: "https://api.fortellis.io", URL: true, Description: "Fortellis API base URL"},
		{Key: "tokenUrl", Default: "https://identity.fortellis.io/oauth2/aus1p1ixy7YL8cMq02p7/v1/token", URL: true, Description: "Fortellis token endpoint"},
		{Key: "subscriptionId", Required: true, Description: "the dealer's Fortellis subscription id (Subscription-Id header)"},
		{Key: "leadSource", Default: "DealerAI", Description: "opportunity source"},
		{Key: "upType", Default: "Internet", Description: "opportunity up type"},
		{Key: "activityTypeId", Description: "Elead activity type id of scheduled appointment activities (the platform's default when empty)"},
	},
	Credentials: []platform.KeySpec{
		{Key: "apiKey", Required: true, Description: "Fortellis API key (client id)"},
		{Key: "apiSecret", Required: true, Description: "Fortellis API secret"},
	},
	// The API gateway (production and the /cdk-test paths), the identity server, the
	// subscriptions API and Event Relay (docs/agents.md).
	Hosts:        []string{"api.fortellis.io", "identity.fortellis.io", "subscriptions.fortellis.io", "event-relay.fortellis.io"},
	NewConnector: func(deps platform.Deps) connector.Connector { return New(deps.Tokens) },
}
