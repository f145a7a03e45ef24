// Package plans is which integration agents a dealer may use: its entitlement, the agent
// platforms its plan includes, set by DealerAI staff; a dealer with none stored has the
// deployment's default (DEFAULT_AGENT_PLATFORMS). An agent whose platform the plan does not
// include cannot be turned on, and receives nothing: the router does not route to it and the
// delivery handler skips what was already queued for it (docs/design.md#plans).
//
// The entitlement is one item of the config table (Store), under the sort-key prefix of the
// dealer's targets, so the router's one query of a dealer's targets reads it as well
// (package targets applies it).
package plans

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/shared/validation"
)

// Entitlement is the agent platforms a dealer's plan includes.
type Entitlement struct {
	DealerID string
	// Platforms are sorted and distinct; empty: no agent at all.
	Platforms []string
	UpdatedAt time.Time
	// UpdatedBy is who set it: the sub claim of the DealerAI staff member's token.
	UpdatedBy string
	// Version counts the writes (the API's ETag); 0 for an entitlement never stored.
	Version int
}

// Includes reports whether the plan includes platform.
func (e *Entitlement) Includes(platform string) bool {
	return slices.Contains(e.Platforms, platform)
}

// Policy resolves a dealer's platforms: its stored entitlement's, else Default.
type Policy struct {
	// Default are the platforms of a dealer with no entitlement stored (DEFAULT_AGENT_PLATFORMS).
	Default []string
}

// Resolve is the dealer's entitlement given what is stored (nil: nothing), and whether it is
// the default.
func (p Policy) Resolve(dealerID string, stored *Entitlement) (e *Entitlement, isDefault bool) {
	if stored != nil {
		return stored, false
	}
	return &Entitlement{DealerID: dealerID, Platforms: Normalize(p.Default)}, true
}

// Reasons an agent is unavailable, for whoever reads them.
const (
	// UnavailableReason is what the API shows the dealer of a platform its plan does not
	// include.
	UnavailableReason = "not in your plan — contact your DealerAI account manager to enable it"
	// SkipReason is what the delivery log records of a delivery skipped for that reason.
	SkipReason = "agent's platform is not in the dealer's plan"
)

// Normalize sorts platforms and drops duplicates (a new slice; never nil).
func Normalize(platforms []string) []string {
	out := append([]string{}, platforms...)
	slices.Sort(out)
	return slices.Compact(out)
}

// Validate checks the platforms of an entitlement given by DealerAI staff: each one of
// known, none twice. Errors name "platforms[i]".
func Validate(platforms, known []string) []validation.FieldError {
	var errs []validation.FieldError
	for i, p := range platforms {
		field := "platforms[" + strconv.Itoa(i) + "]"
		switch {
		case !slices.Contains(known, p):
			errs = append(errs, validation.FieldError{Field: field, Message: "unknown platform; one of " + strings.Join(known, ", ")})
		case slices.Contains(platforms[:i], p):
			errs = append(errs, validation.FieldError{Field: field, Message: "is given twice"})
		}
	}
	return errs
}

// ParseDefault reads DEFAULT_AGENT_PLATFORMS: comma-separated platforms of known; empty means
// every known platform, "none" none at all.
func ParseDefault(v string, known []string) ([]string, error) {
	v = strings.TrimSpace(v)
	switch v {
	case "":
		return Normalize(known), nil
	case "none":
		return []string{}, nil
	}
	var out []string
	for _, p := range strings.Split(v, ",") {
		p = strings.TrimSpace(p)
		if !slices.Contains(known, p) {
			return nil, fmt.Errorf("DEFAULT_AGENT_PLATFORMS: %q is not a platform (want a comma-separated list of %s, or none)", p, strings.Join(known, ", "))
		}
		out = append(out, p)
	}
	return Normalize(out), nil
}
