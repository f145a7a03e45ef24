package connector

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	// MaxResponseBytes is how much of a platform's answer is read.
	MaxResponseBytes = 64 << 10
	// SnippetBytes is how much of a failed answer an AttemptError keeps.
	SnippetBytes = 1024
	// UserAgent is sent with every platform request.
	UserAgent = "DealerAI-Integrations/1.0"
)

// Response is a platform's answer, its body read up to MaxResponseBytes.
type Response struct {
	StatusCode int
	Header     http.Header
	Body       []byte
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// NewRequest builds a request with a body (nil for none). step names what the request does,
// for the error; the URL never appears in it (a DealerSocket URL holds a key).
func NewRequest(ctx context.Context, method, rawURL, contentType string, body []byte, step string) (*http.Request, error) {
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, r)
	if err != nil {
		return nil, &AttemptError{Class: ClassInternal, Message: step + ": the configured URL is invalid", Permanent: true}
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("User-Agent", UserAgent)
	return req, nil
}

// Send sends req and reads the answer. A request that gets no answer fails with an
// *AttemptError of class timeout or connection; its message names the step, not the URL.
func Send(hc *http.Client, req *http.Request, step string) (*Response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, transportError(err, step)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	if err != nil {
		return nil, transportError(err, step)
	}
	return &Response{StatusCode: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

func transportError(err error, step string) *AttemptError {
	// *url.Error prints the URL: keep only what went wrong.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var refused *HostNotAllowedError
	if errors.As(err, &refused) {
		return &AttemptError{Class: ClassBlocked, Message: step + ": " + refused.Error(), Permanent: true}
	}
	class := ClassConnection
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || (errors.As(err, &ne) && ne.Timeout()) {
		class = ClassTimeout
	}
	return &AttemptError{Class: class, Message: step + ": " + err.Error()}
}

// StatusError is the error of an answer with a non-success status: its snippet, the
// Retry-After of a 429 or 503, and Permanent when the platform rejected the request as invalid.
func StatusError(resp *Response, step string) *AttemptError {
	e := &AttemptError{
		Class:      ClassHTTPStatus,
		StatusCode: resp.StatusCode,
		Message:    step + ": HTTP " + strconv.Itoa(resp.StatusCode),
		Snippet:    Snippet(resp.Body),
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		e.Class = ClassAuth
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		e.RetryAfter = RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType, http.StatusUnprocessableEntity:
		e.Permanent = true
	}
	return e
}

// Snippet is the start of a body, at most SnippetBytes, cut on a character boundary.
func Snippet(body []byte) string {
	if len(body) > SnippetBytes {
		body = body[:SnippetBytes]
		for len(body) > 0 && !utf8.Valid(body) {
			body = body[:len(body)-1]
		}
	}
	return strings.ToValidUTF8(string(body), "\uFFFD")
}

// RetryAfter parses a Retry-After header: delay seconds or an HTTP date; 0 when absent or
// invalid.
func RetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// HostNotAllowedError is a request refused before it was sent: its host is not one of the
// platform's.
type HostNotAllowedError struct {
	Host     string
	Platform string
}

func (e *HostNotAllowedError) Error() string {
	return "refused to send a request to " + e.Host + ", which is not a " + e.Platform + " host (nothing was sent)"
}

// RestrictHosts returns a copy of hc whose requests go only to the hosts allow accepts (it
// gets a URL's Hostname()); any other request fails with a *HostNotAllowedError before
// anything is sent — a token request, an API call, or a URL the platform returned alike.
// platform names the platform in the error.
func RestrictHosts(hc *http.Client, platform string, allow func(host string) bool) *http.Client {
	c := *hc
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = hostGuard{base: base, platform: platform, allow: allow}
	return &c
}

type hostGuard struct {
	base     http.RoundTripper
	platform string
	allow    func(host string) bool
}

func (g hostGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if !g.allow(req.URL.Hostname()) {
		if req.Body != nil {
			req.Body.Close() // a RoundTripper closes the body, even on error
		}
		return nil, &HostNotAllowedError{Host: req.URL.Hostname(), Platform: g.platform}
	}
	return g.base.RoundTrip(req)
}
