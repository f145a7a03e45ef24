// Package agents is the core of DealerAI's integration agents: an agent is one dealer's
// configuration of one platform (settings and write-only credentials, validated on PUT), kept
// in the config table with the ids the platform returned; the Dispatcher delivers one event
// to one agent through the platform's connector.
//
// The core knows platforms only through package platform's contract: each platform is its
// own package (shared/agents/vinsolutions, …) listed by package registry, and the composition
// root (shared/app) hands that list to the API and to the Dispatcher.
//
// An agent is a delivery target like a webhook subscription: its config item carries the
// attributes the router reads for every target (kind, id, events, enabled).
package agents

import (
	"sort"
	"time"

	"github.com/dealerai/integrations/shared/agents/platform"
)

// Agent is one dealer's configuration of one platform.
type Agent struct {
	DealerID string
	Platform string
	Enabled  bool
	// Events are the filters of the events the router delivers to the agent: the platform's,
	// as they were when the agent was stored.
	Events      []string
	Settings    map[string]string
	Credentials map[string]string // write-only: never returned by the API, never logged
	UpdatedAt   time.Time
	// Version counts the writes; the API's ETag. 0 for an agent never stored.
	Version int
	// SyncDue is when the agent's next two-way sync is due, as read from its item; zero when
	// it is not in the schedule (disabled). Put makes an enabled agent due at once (it ignores
	// this field); the sync moves it (Store.SetSyncDue).
	SyncDue time.Time
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
	SettingsSpec    []platform.KeySpec `json:"settingsSpec"`
	CredentialsSpec []platform.KeySpec `json:"credentialsSpec"`
}

// Public is the API view of a, an agent of platform p. An agent never configured is
// &Agent{Platform: p.ID}: disabled, no settings, no credentials, updatedAt null.
func Public(p platform.Platform, a *Agent) PublicAgent {
	pub := PublicAgent{
		Platform:        p.ID,
		Name:            p.Name,
		Capabilities:    p.Capabilities,
		Events:          p.Events,
		Enabled:         a.Enabled,
		Settings:        map[string]string{},
		CredentialsSet:  []string{},
		SettingsSpec:    p.Settings,
		CredentialsSpec: p.Credentials,
	}
	for k, v := range a.Settings {
		pub.Settings[k] = v
	}
	for k, v := range a.Credentials {
		if v != "" {
			pub.CredentialsSet = append(pub.CredentialsSet, k)
		}
	}
	sort.Strings(pub.CredentialsSet)
	if !a.UpdatedAt.IsZero() {
		t := a.UpdatedAt
		pub.UpdatedAt = &t
	}
	return pub
}
