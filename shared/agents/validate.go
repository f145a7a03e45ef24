package agents

import (
	"context"
	"maps"
	"slices"
	"strings"
	"time"
	_ "time/tzdata" // XTime time zones must load on Lambda, whose image has no zoneinfo
	"unicode"
	"unicode/utf8"

	"github.com/dealerai/integrations/shared/validation"
)

// PutRequest is the body of PUT /v1/agents/{platform}.
//
//   - enabled: absent keeps the stored value (true for a new agent).
//   - settings: replace the stored settings; absent keys take the platform's default. An
//     absent settings object keeps the stored settings (so {"enabled": false} only disables).
//   - credentials: write-only, so they merge: a key given replaces the stored value, a key
//     given as "" removes it, a key not given keeps the stored value; an absent credentials
//     object keeps them all.
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

// XTime reschedule strategies.
const (
	CancelAndRebook = "cancel-and-rebook"
	SkipReschedules = "skip"
)

// Validate checks a PUT of platform's agent against what is stored (nil when nothing is) and
// returns the agent to store, or a *validation.Error listing the invalid fields. Every URL setting the request gives is
// checked with urlCheck (safeurl.Policy.Check: the error's text is the field's message).
//
// The agent returned has stored's DealerID and Version (the version to store it at: pass it
// to Store.Put unchanged, so a concurrent write is detected); a new agent has neither — the
// caller sets DealerID.
func Validate(ctx context.Context, platform string, in PutRequest, stored *Agent, urlCheck func(ctx context.Context, rawURL string) error) (*Agent, error) {
	info, ok := Platform(platform)
	if !ok {
		return nil, invalid(validation.FieldError{Field: "platform", Message: "unknown platform; one of vinsolutions, dealersocket, fortellis, xtime"})
	}
	a := &Agent{Platform: platform, Enabled: true}
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
		errs = append(errs, unknownKeys("settings", settings, info.Settings)...)
	}
	a.Settings = map[string]string{}
	for _, spec := range info.Settings {
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
		if spec.URL && givenSettings && settings[spec.Key] != "" {
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
	errs = append(errs, unknownKeys("credentials", in.Credentials, info.Credentials)...)
	for k, v := range in.Credentials {
		if v == "" {
			delete(creds, k)
		} else {
			creds[k] = v
		}
	}
	a.Credentials = map[string]string{}
	for _, spec := range info.Credentials {
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

	errs = append(errs, checkPlatform(platform, a, creds)...)
	if len(errs) > 0 {
		return nil, invalid(errs...)
	}
	return a, nil
}

func invalid(errs ...validation.FieldError) *validation.Error {
	return &validation.Error{Subject: "agent", Fields: errs}
}

// checkPlatform holds the rules of one platform beyond required keys and URLs.
func checkPlatform(platform string, a *Agent, creds map[string]string) []validation.FieldError {
	var errs []validation.FieldError
	s := a.Settings
	switch platform {
	case VinSolutions:
		for _, k := range []string{"dealerId", "userId", "leadSourceId"} {
			if v, ok := s[k]; ok && !isNumber(v) {
				errs = append(errs, validation.FieldError{Field: "settings." + k, Message: "must be a number"})
			}
		}
	case DealerSocket:
		_, pub := creds["publicKey"]
		_, sec := creds["secretKey"]
		switch {
		case pub && !sec:
			errs = append(errs, validation.FieldError{Field: "credentials.secretKey", Message: "is required with publicKey"})
		case sec && !pub:
			errs = append(errs, validation.FieldError{Field: "credentials.publicKey", Message: "is required with secretKey"})
		}
	case XTime:
		if tz, ok := s["timezone"]; ok {
			if _, err := time.LoadLocation(tz); err != nil || tz == "Local" {
				errs = append(errs, validation.FieldError{Field: "settings.timezone", Message: "must be an IANA time zone such as America/Chicago"})
			}
		}
		if v := s["rescheduleStrategy"]; v != CancelAndRebook && v != SkipReschedules {
			errs = append(errs, validation.FieldError{Field: "settings.rescheduleStrategy", Message: "must be cancel-and-rebook or skip"})
		}
		if p := s["cancelPath"]; !strings.HasPrefix(p, "/") || !strings.Contains(p, "{appointmentId}") {
			errs = append(errs, validation.FieldError{Field: "settings.cancelPath", Message: "must be a path starting with / that contains {appointmentId}"})
		}
	}
	return errs
}

func unknownKeys(section string, given map[string]string, specs []KeySpec) []validation.FieldError {
	var unknown []string
	for k := range given {
		if !slices.ContainsFunc(specs, func(s KeySpec) bool { return s.Key == k }) {
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
