package httpapi

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/dealerai/integrations/shared/validation"
)

// DefaultMaxSubscriptionsPerHost is how many of a dealer's subscriptions may point at one
// endpoint host unless configured (MAX_SUBSCRIPTIONS_PER_HOST).
const DefaultMaxSubscriptionsPerHost = 10

// endpointHost is the host a webhook URL names, lower-cased, without its port ("" when the
// URL does not parse: validation has refused it already).
func endpointHost(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
}

// checkHostCap refuses (422 naming url) a subscription to rawURL when the dealer has as many
// subscriptions to its host as the cap allows already, not counting the subscription except
// (the one a PATCH changes). One dealer's subscriptions to one endpoint that never answers
// take the delivery function's time from every dealer: the cap bounds how much.
//
// It reads the dealer's subscriptions (at most subscriptions.MaxPerDealer, one or two Query
// pages). Two creates at the same moment can both pass it: the cap can be passed by as many
// as are made concurrently, within the 50 per dealer that the store enforces atomically.
func (a *API) checkHostCap(r *http.Request, rawURL, except string) error {
	max := a.opts.MaxSubscriptionsPerHost
	if max == 0 {
		max = DefaultMaxSubscriptionsPerHost
	}
	host := endpointHost(rawURL)
	if max < 0 || host == "" {
		return nil
	}
	n, cursor := 0, ""
	for {
		subs, next, err := a.opts.Subscriptions.List(r.Context(), dealerOf(r), maxLimit, cursor)
		if err != nil {
			return err
		}
		for _, s := range subs {
			if s.ID != except && endpointHost(s.URL) == host {
				n++
			}
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if n >= max {
		return NewProblem(http.StatusUnprocessableEntity, "the request has invalid fields", validation.FieldError{Field: "url",
			Message: "a dealer can have at most " + strconv.Itoa(max) + " subscriptions to one host, and has " + strconv.Itoa(n) + " to " + host + " already"})
	}
	return nil
}
