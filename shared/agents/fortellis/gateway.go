package fortellis

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
)

// What every Fortellis API shares (the Elead sales APIs, Appointments v3, and the inventory
// and change-feed APIs to come): the token, the headers of every call, and how the gateway
// and the APIs behind it say what went wrong.

// Scope of the token (client credentials, HTTP Basic apiKey:apiSecret).
const Scope = "anonymous"

// Fortellis gateway error codes (the gateway's own errors, before or instead of the API's).
const (
	TokenExpired            = "TOKEN-EXPIRED"
	InvalidToken            = "INVALID-TOKEN"
	MissingSubscriptionID   = "MISSING-SUBSCRIPTION-ID"
	SubscriptionMismatch    = "SUBSCRIPTION-MISMATCH"
	APISubscriptionInactive = "API-SUBSCRIPTION-INACTIVE"
	UnauthorizedAPIAccess   = "UNAUTHORIZED-API-ACCESS"
	SubscriberConfigPending = "SUBSCRIBER-CONFIGURATION-PENDING"
	QuotaExceeded           = "QUOTA-EXCEEDED"
	APIDoesNotExist         = "API-DOES-NOT-EXIST"
	TargetUnreachable       = "TARGET-SYSTEM-UNREACHABLE"
	TargetTimedOut          = "TARGET-SYSTEM-TIMED-OUT"
)

// grant is the token grant of a delivery's agent.
func grant(settings, credentials map[string]string) oauth.Grant {
	return oauth.Grant{
		Platform:     "Fortellis",
		TokenURL:     settings["tokenUrl"],
		ClientID:     credentials["apiKey"],
		ClientSecret: credentials["apiSecret"],
		Scope:        Scope,
		BasicAuth:    true,
	}
}

// call is one request to a Fortellis API.
type call struct {
	method string
	// path is relative to baseUrl, query included.
	path string
	// body is sent as JSON; nil sends none.
	body any
	// step names the call in errors ("Fortellis customer").
	step string
	// notFound: a 404 that is not the gateway's API-DOES-NOT-EXIST is an answer (an empty
	// search, a record that is gone), not an error.
	notFound bool
}

// send performs c with the token, the Subscription-Id and a new Request-Id. A token the
// gateway refuses (401) is fetched again once; every other failure becomes an
// *connector.AttemptError (gatewayFailure).
func (s *session) send(ctx context.Context, c call) (*connector.Response, error) {
	var payload []byte
	contentType := ""
	if c.body != nil {
		var err error
		if payload, err = json.Marshal(c.body); err != nil {
			return nil, err
		}
		contentType = "application/json"
	}
	target := strings.TrimRight(s.d.Settings["baseUrl"], "/") + c.path
	var requestID string
	resp, err := s.tokens.Send(ctx, s.d.HTTP, s.grant, c.step, func(token string) (*http.Request, error) {
		req, err := connector.NewRequest(ctx, c.method, target, contentType, payload, c.step)
		if err != nil {
			return nil, err
		}
		requestID = NewRequestID()
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Subscription-Id", s.d.Settings["subscriptionId"])
		req.Header.Set("Request-Id", requestID)
		return req, nil
	}, oauth.Unauthorized)
	if err != nil {
		return nil, err
	}
	s.status = resp.StatusCode
	if resp.OK() {
		return resp, nil
	}
	e := ParseError(resp.Body)
	if c.notFound && resp.StatusCode == http.StatusNotFound && e.Code != APIDoesNotExist {
		return resp, nil
	}
	return nil, gatewayFailure(resp, e, c.step, requestID)
}

// gatewayFailure is the error of an answer with a non-success status, classified by the
// gateway's code or the API's error body.
func gatewayFailure(resp *connector.Response, e Error, step, requestID string) *connector.AttemptError {
	ae := connector.StatusError(resp, step)
	detail := func(what string) {
		ae.Message = step + ": " + what + " (" + e.Code + ")"
	}
	switch e.Code {
	case "":
	case TokenExpired, InvalidToken:
		ae.Class = connector.ClassAuth
		detail("Fortellis refused a freshly issued token")
	case SubscriptionMismatch, MissingSubscriptionID:
		ae.Class = connector.ClassAuth
		detail("the subscriptionId setting is not a subscription of this Fortellis solution")
	case APISubscriptionInactive, SubscriberConfigPending:
		ae.Class = connector.ClassAuth
		detail("the dealer's Fortellis subscription is not active for this API yet")
	case UnauthorizedAPIAccess:
		ae.Class = connector.ClassAuth
		detail("this Fortellis solution has no access to the API")
	case QuotaExceeded:
		detail("Fortellis quota exceeded")
		if ae.RetryAfter == 0 {
			ae.RetryAfter = connector.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		}
	case APIDoesNotExist:
		ae.Class, ae.Permanent = connector.ClassPlatform, true
		detail("no such Fortellis API: check the baseUrl setting")
	case TargetUnreachable:
		ae.Class = connector.ClassConnection
		detail("the platform behind Fortellis did not answer")
	case TargetTimedOut:
		// It may have done the work: the next attempt looks before it creates anything.
		ae.Class = connector.ClassTimeout
		detail("the platform behind Fortellis timed out")
	default:
		// The API's own error {code, message, referenceId}.
		ae.Class = connector.ClassPlatform
		ae.Message += " (" + e.Code + ")"
		if e.Message != "" {
			ae.Message += ": " + e.Message
		}
		if e.ReferenceID != "" {
			ae.Message += " [referenceId " + e.ReferenceID + "]"
		}
	}
	if requestID != "" {
		ae.Message += " [Request-Id " + requestID + "]"
	}
	return ae
}

// NewRequestID is a random (version 4) UUID.
func NewRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// Error is a Fortellis error answer: the gateway's {code, message} or an Elead API's
// {code, message, link?, referenceId}.
type Error struct {
	Code        string
	Message     string
	ReferenceID string
}

// ParseError reads an error answer; zero when the body is not one. Values are bounded.
func ParseError(body []byte) Error {
	var raw struct {
		Code        any    `json:"code"`
		Message     string `json:"message"`
		ReferenceID string `json:"referenceId"`
	}
	if json.Unmarshal(body, &raw) != nil {
		return Error{}
	}
	var e Error
	switch c := raw.Code.(type) {
	case string:
		e.Code = truncate(c, 64)
	case float64:
		e.Code = strconv.FormatFloat(c, 'f', -1, 64)
	}
	e.Message = truncate(raw.Message, 200)
	e.ReferenceID = truncate(raw.ReferenceID, 64)
	return e
}

// decodeAnswer reads a JSON answer into v; an answer that is not JSON of v's shape is a
// platform error.
func decodeAnswer(resp *connector.Response, v any, step string) error {
	if err := json.Unmarshal(resp.Body, v); err != nil {
		return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
			Message: step + ": the answer is not the documented JSON", Snippet: connector.Snippet(resp.Body)}
	}
	return nil
}

// noID is the error of a create whose answer holds no id.
func noID(resp *connector.Response, step, where string) error {
	return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
		Message: step + ": the answer holds no " + where, Snippet: connector.Snippet(resp.Body)}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "..."
}
