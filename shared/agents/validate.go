package agents

import (
	"context"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/validation"
)

// PutRequest is the body of PUT /v1/agents/{platform}.
//
//   - enabled: absent keeps the stored value (true for a new agent).
//   - settings: replace the stored settings; absent keys take the platform's default. An
//     absent settings object keeps the stored settings (so {"enabled": false} only disables).
//   - credentials: write-only, so they merge: a key given replaces the stored value, a key
//     given as "" removes it, a key not given keeps the stored value; an absent credentials
//     object keeps them all — except when a URL setting changes: then every credential the
//     agent keeps must be given again.
type PutRequest struct {
	Enabled     *bool             `json:"enabled,omitempty"`
	Settings    map[string]string `json:"settings,omitempty"`
	Credentials map[string]string `json:"credentials,omitempty"`
}

// Length limits of values.
const (
	MaxSettingLength    = 2048
	MaxCredentialLength = 4096
)

// Validate checks a PUT of an agent of platform p against what is stored (nil when nothing
// is) and returns the agent to store, or a *validation.Error listing the invalid fields.
//
// Beyond the keys the platform declares (required, defaults, lengths, no control characters)
// and the platform's own Check, credentials stay bound to the platform
// (docs/agents.md#platform-hosts):
//   - a URL setting must name one of the platform's hosts (the request's, and, for an agent
//     that stays enabled, the stored ones it keeps), and a URL the request gives must also
//     pass urlCheck (safeurl.Policy.Check: the error's text is the field's message);
//   - changing a URL setting of a stored agent requires every credential it will have in the
//     same request (else an error naming "credentials"): stored credentials never follow a
//     URL to a new place.
//
// The agent returned has stored's DealerID and Version (the version to store it at: pass it
// to Store.Put unchanged, so a concurrent write is detected); a new agent has neither — the
// caller sets DealerID.
func Validate(ctx context.Context, p platform.Platform, in PutRequest, stored *Agent, urlCheck func(ctx context.Context, rawURL string) error) (*Agent, error) {
	a := &Agent{Platform: p.ID, Enabled: true, Events: slices.Clone(p.Events)}
	if stored != nil {
		a.DealerID, a.Enabled, a.Version, a.UpdatedAt = stored.DealerID, stored.Enabled, stored.Version, stored.UpdatedAt
	}
	if in.Enabled != nil {
		a.Enabled = *in.Enabled
	}
	var errs []validation.FieldError

	// Settings: the request's, else the stored ones.
	settings := in.Settings
	givenSettings := in.Settings != nil
	if !givenSettings && stored != nil {
		settings = stored.Settings
	}
	if givenSettings {
		errs = append(errs, unknownKeys("settings", settings, p.Settings)...)
	}
	a.Settings = map[string]string{}
	for _, spec := range p.Settings {
		field := "settings." + spec.Key
		v := strings.TrimSpace(settings[spec.Key])
		if v == "" {
			v = spec.Default
		}
		if v == "" {
			if spec.Required {
				errs = append(errs, validation.FieldError{Field: field, Message: "is required"})
			}
			continue
		}
		if msg := checkValue(v, MaxSettingLength); msg != "" {
			errs = append(errs, validation.FieldError{Field: field, Message: msg})
			continue
		}
		a.Settings[spec.Key] = v
		if !spec.URL {
			continue
		}
		given := givenSettings && settings[spec.Key] != ""
		if !given && !a.Enabled {
			continue // a stored URL kept by an agent being disabled
		}
		if msg := p.CheckURL(v); msg != "" {
			errs = append(errs, validation.FieldError{Field: field, Message: msg})
			continue
		}
		if given {
			if err := urlCheck(ctx, v); err != nil {
				errs = append(errs, validation.FieldError{Field: field, Message: err.Error()})
			}
		}
	}

	// Credentials: the stored ones, with the request's merged in.
	creds := map[string]string{}
	if stored != nil {
		maps.Copy(creds, stored.Credentials)
	}
	errs = append(errs, unknownKeys("credentials", in.Credentials, p.Credentials)...)
	for k, v := range in.Credentials {
		if v == "" {
			delete(creds, k)
		} else {
			creds[k] = v
		}
	}
	a.Credentials = map[string]string{}
	for _, spec := range p.Credentials {
		field := "credentials." + spec.Key
		v, ok := creds[spec.Key]
		if !ok {
			if spec.Required {
				errs = append(errs, validation.FieldError{Field: field, Message: "is required"})
			}
			continue
		}
		if msg := checkValue(v, MaxCredentialLength); msg != "" {
			errs = append(errs, validation.FieldError{Field: field, Message: msg})
			continue
		}
		a.Credentials[spec.Key] = v
	}
	if changed := ChangedURLSettings(p, stored, a); len(changed) > 0 {
		var missing []string
		for k := range a.Credentials {
			if in.Credentials[k] == "" {
				missing = append(missing, k)
			}
		}
		if len(missing) > 0 {
			slices.Sort(missing)
			errs = append(errs, validation.FieldError{Field: "credentials", Message: "changing " + strings.Join(changed, ", ") +
				" requires sending all the agent's credentials again in the same request (missing " + strings.Join(missing, ", ") + ")"})
		}
	}

	if p.Check != nil {
		errs = append(errs, p.Check(a.Settings, creds)...)
	}
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	return a, nil
}

// ChangedURLSettings names the URL settings ("settings.baseUrl") whose value differs
// between the stored agent and next, the platform's defaults applied to both; none when
// nothing is stored.
func ChangedURLSettings(p platform.Platform, stored, next *Agent) []string {
	if stored == nil {
		return nil
	}
	before, after := p.WithDefaults(stored.Settings), p.WithDefaults(next.Settings)
	var changed []string
	for _, k := range p.URLSettings() {
		if before[k] != after[k] {
			changed = append(changed, "settings."+k)
		}
	}
	return changed
}

func invalid(errs ...validation.FieldError) *validation.Error {
	return &validation.Error{Subject: "agent", Fields: errs}
}

func unknownKeys(section string, given map[string]string, specs []platform.KeySpec) []validation.FieldError {
	var unknown []string
	for k := range given {
		if !slices.ContainsFunc(specs, func(s platform.KeySpec) bool { return s.Key == k }) {
			unknown = append(unknown, k)
		}
	}
	slices.Sort(unknown)
	errs := make([]validation.FieldError, len(unknown))
	for i, k := range unknown {
		errs[i] = validation.FieldError{Field: section + "." + k, Message: "is not a " + strings.TrimSuffix(section, "s") + " of this platform"}
	}
	return errs
}

// checkValue refuses values that are too long or hold control characters (they end up in
// HTTP headers and XML).
func checkValue(v string, max int) string {
	if utf8.RuneCountInString(v) > max {
		return "is too long"
	}
	if !utf8.ValidString(v) || strings.ContainsFunc(v, unicode.IsControl) {
		return "must not contain control characters"
	}
	return ""
}
