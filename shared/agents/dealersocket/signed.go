package dealersocket

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"net/http"
	"strings"

	"github.com/dealerai/integrations/shared/agents/connector"
)

// Paths of the signed APIs, relative to apiUrl (docs/agents.md#dealersocket).
const (
	PathActivity     = "/Activity"
	PathWorkNote     = "/WorkNote"
	PathEventSales   = "/eventsales"
	PathCustomer     = "/Customer"
	PathSearchEntity = "/SearchEntity"
)

// Sign is the Authentication header of a signed API request: the public key and the base64
// HMAC-SHA256 of the exact body under the private key.
func Sign(publicKey, secretKey string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write(body)
	return publicKey + ":" + base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// Result is the answer of a signed API call: an <ActivityResponse> or a <Response>, whatever
// its root element, read for the fields the calls answer.
type Result struct {
	Success      bool
	ErrorCode    string
	ErrorMessage string
	// ActivityID is an activity call's id; EntityID a customer call's ("" for "0").
	ActivityID string
	EntityID   string
}

// ParseResult reads a signed API answer; ok is false when it is not an XML document with a
// Success element.
func ParseResult(body []byte) (r Result, ok bool) {
	var raw struct {
		Success      *string `xml:"Success"`
		ErrorCode    string  `xml:"ErrorCode"`
		ErrorMessage string  `xml:"ErrorMessage"`
		Message      string  `xml:"Message"`
		ActivityID   string  `xml:"ActivityId"`
		ActivityID2  string  `xml:"ActivityID"`
		EntityID     string  `xml:"EntityId"`
	}
	if xml.Unmarshal(body, &raw) != nil || raw.Success == nil {
		return Result{}, false
	}
	return Result{
		Success:      isTrue(*raw.Success),
		ErrorCode:    clean(raw.ErrorCode, 64),
		ErrorMessage: clean(firstOf(raw.ErrorMessage, raw.Message), 200),
		ActivityID:   id(firstOf(raw.ActivityID, raw.ActivityID2)),
		EntityID:     id(raw.EntityID),
	}, true
}

// call sends one signed request of the delivery (sendSigned), keeping the answer's status.
func (s *session) call(ctx context.Context, method, target, mediaType string, body []byte, step string) (*connector.Response, error) {
	resp, err := sendSigned(ctx, s.d.HTTP, s.d.Credentials, method, target, mediaType, body, step)
	if err != nil {
		return nil, err
	}
	s.status = resp.StatusCode
	return resp, nil
}

// sendSigned sends one request to a signed API: body under Content-Type mediaType, signed
// with the agent's publicKey and secretKey.
func sendSigned(ctx context.Context, hc *http.Client, creds map[string]string, method, target, mediaType string, body []byte, step string) (*connector.Response, error) {
	req, err := connector.NewRequest(ctx, method, target, mediaType, body, step)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", mediaType)
	req.Header.Set("Authentication", Sign(creds["publicKey"], creds["secretKey"], body))
	return connector.Send(hc, req, step)
}

// signedXML sends an XML document to a signed API path and reads its Result.
func (s *session) signedXML(ctx context.Context, method, path string, doc any, step string) (Result, error) {
	body, err := marshalXML(doc)
	if err != nil {
		return Result{}, err
	}
	resp, err := s.call(ctx, method, s.apiURL(path), "application/xml", body, step)
	if err != nil {
		return Result{}, err
	}
	r, ok := ParseResult(resp.Body)
	switch {
	case !ok && !resp.OK():
		return Result{}, connector.StatusError(resp, step)
	case !ok:
		return Result{}, platformError(resp, step+": the answer is not a DealerSocket response")
	case !r.Success:
		return Result{}, refused(resp, step, r.ErrorCode, r.ErrorMessage)
	case !resp.OK():
		return Result{}, connector.StatusError(resp, step)
	}
	return r, nil
}

func (s *session) apiURL(path string) string {
	return strings.TrimRight(s.d.Settings["apiUrl"], "/") + path
}

// refused is the error of an answer in DealerSocket's format that refuses the request:
// its code and message, class auth for 401 and 403.
func refused(resp *connector.Response, step, code, msg string) *connector.AttemptError {
	e := platformError(resp, step+": DealerSocket refused it")
	if code != "" {
		e.Message += " (" + code + ")"
	}
	if msg != "" {
		e.Message += ": " + msg
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		e.Class = connector.ClassAuth
	case code == "ACCOUNT_DEACTIVATED":
		e.Permanent = true // the dealer's account is off at DealerSocket: retrying cannot help
	}
	return e
}

func platformError(resp *connector.Response, msg string) *connector.AttemptError {
	return &connector.AttemptError{Class: connector.ClassPlatform, StatusCode: resp.StatusCode,
		Message: msg, Snippet: connector.Snippet(resp.Body)}
}

// marshalXML renders a request document with the XML declaration.
func marshalXML(doc any) ([]byte, error) {
	body, err := xml.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append([]byte(xml.Header), append(body, '\n')...), nil
}

func (s *session) hasKeys() bool { return hasKeys(s.d.Credentials) }

// hasKeys reports whether the credentials hold the signed API keys.
func hasKeys(creds map[string]string) bool {
	return creds["publicKey"] != "" && creds["secretKey"] != ""
}

// isTrue reads an XML boolean.
func isTrue(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "true") }

// id is a DealerSocket id as the platform answered it, "" for none: DealerSocket answers "0"
// where it has no id (a duplicate's DSLeadId, a failed activity's ActivityId).
func id(v string) string {
	v = clean(v, 64)
	if strings.Trim(v, "0") == "" {
		return ""
	}
	return v
}

// clean trims a value from the platform and bounds its length.
func clean(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "") + "..."
	}
	return s
}

func firstOf(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
