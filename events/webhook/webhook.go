// Package webhook verifies the requests DealerAI sends to a dealer's webhook
// endpoint. It is the only package a Go receiver needs to import, and it
// depends on the standard library alone.
//
// Every request is a POST of one JSON event, signed with the Standard
// Webhooks scheme (https://www.standardwebhooks.com/):
//
//	Content-Type: application/json
//	webhook-id: <eventId>              the same on every retry: deduplicate on it
//	webhook-timestamp: <unix seconds>  of this attempt
//	webhook-signature: v1,<base64 HMAC-SHA256(key, id + "." + timestamp + "." + body)>
//	DealerAI-Event-Type: lead.created
//	DealerAI-Delivery-Id: <deliveryId>
//	DealerAI-Attempt: <1..4>
//
// The key is the base64 after "whsec_" in the subscription's secret. While a
// rotated secret is in its 24-hour grace period the webhook-signature header
// carries two signatures, the new secret's first; a Verifier built with
// either secret accepts the request, and one built with both accepts it
// during and after the rotation.
//
// Typical use wraps the endpoint's handler:
//
//	v, err := webhook.NewVerifier(os.Getenv("DEALERAI_WEBHOOK_SECRET"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	http.Handle("POST /webhooks/dealerai", v.Middleware(handler))
//
// The middleware answers 401 to a request that fails verification and hands
// verified requests to the handler with the body intact. Answer 2xx quickly:
// anything else, or no answer within 10 seconds, is retried; 410 Gone
// disables the subscription. Any Standard Webhooks or Svix library also
// verifies these requests.
package webhook

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Header names of a DealerAI webhook request.
const (
	HeaderID         = "webhook-id"
	HeaderTimestamp  = "webhook-timestamp"
	HeaderSignature  = "webhook-signature"
	HeaderEventType  = "DealerAI-Event-Type"
	HeaderDeliveryID = "DealerAI-Delivery-Id"
	HeaderAttempt    = "DealerAI-Attempt"
)

const (
	// DefaultTolerance is how far webhook-timestamp may be from the
	// receiver's clock, in either direction, when Verifier.Tolerance is 0.
	DefaultTolerance = 5 * time.Minute
	// MaxBodyBytes is the largest body Middleware reads.
	MaxBodyBytes = 1 << 20

	// SecretPrefix starts every signing secret: "whsec_" and the base64 of the key.
	SecretPrefix = "whsec_"
)

// sigLen is the length of the base64 of an HMAC-SHA256 (44 characters).
var sigLen = base64.StdEncoding.EncodedLen(sha256.Size)

var strictBase64 = base64.StdEncoding.Strict()

// Verification errors; Verify's error matches one of them with errors.Is.
var (
	ErrMissingHeaders      = errors.New("webhook: missing webhook-id, webhook-timestamp or webhook-signature header")
	ErrInvalidTimestamp    = errors.New("webhook: invalid webhook-timestamp")
	ErrTimestampTooOld     = errors.New("webhook: timestamp too old")
	ErrTimestampTooNew     = errors.New("webhook: timestamp too new")
	ErrNoMatchingSignature = errors.New("webhook: no matching signature")
)

// Verifier checks request signatures against one or more secrets. It is safe
// for concurrent use once built; set Tolerance before the first Verify.
type Verifier struct {
	keys [][]byte

	// Tolerance is the largest accepted difference between the request's
	// webhook-timestamp and the local clock; 0 means DefaultTolerance. It
	// bounds how long a captured request can be replayed.
	Tolerance time.Duration
}

// NewVerifier returns a Verifier that accepts a request signed with any of
// the given secrets ("whsec_<base64>"; the bare base64 is accepted too).
// Pass two secrets to keep accepting requests across a rotation.
func NewVerifier(secrets ...string) (*Verifier, error) {
	if len(secrets) == 0 {
		return nil, errors.New("webhook: NewVerifier needs at least one secret")
	}
	v := &Verifier{Tolerance: DefaultTolerance}
	for i, secret := range secrets {
		enc := strings.TrimPrefix(strings.TrimSpace(secret), SecretPrefix)
		key, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(key) == 0 {
			// The secret itself is never part of the message.
			return nil, fmt.Errorf("webhook: secret %d is not a whsec_ secret (whsec_ followed by base64)", i+1)
		}
		v.keys = append(v.keys, key)
	}
	return v, nil
}

// Verify checks a request's headers and exact body bytes: webhook-id,
// webhook-timestamp within Tolerance of now, and at least one "v1,"
// signature in webhook-signature that matches one of the secrets (compared
// in constant time). Signatures of other versions are ignored.
func (v *Verifier) Verify(h http.Header, body []byte) error {
	id := h.Get(HeaderID)
	tsHeader := h.Get(HeaderTimestamp)
	sigHeader := h.Get(HeaderSignature)
	if id == "" || tsHeader == "" || sigHeader == "" {
		return ErrMissingHeaders
	}
	ts, err := strconv.ParseInt(tsHeader, 10, 64)
	if err != nil {
		return ErrInvalidTimestamp
	}
	tolerance := v.Tolerance
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	tol := int64(tolerance / time.Second)
	now := time.Now().Unix()
	switch {
	case ts < now-tol:
		return ErrTimestampTooOld
	case ts > now+tol:
		return ErrTimestampTooNew
	}

	expected := make([][]byte, len(v.keys))
	for i, key := range v.keys {
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(id))
		mac.Write([]byte{'.'})
		mac.Write(strconv.AppendInt(nil, ts, 10))
		mac.Write([]byte{'.'})
		mac.Write(body)
		expected[i] = mac.Sum(nil)
	}

	var got [sha256.Size + 1]byte // DecodedLen(sigLen)
	for _, field := range strings.Fields(sigHeader) {
		version, sig, ok := strings.Cut(field, ",")
		if !ok || version != "v1" || len(sig) != sigLen {
			continue
		}
		n, err := strictBase64.Decode(got[:], []byte(sig))
		if err != nil || n != sha256.Size {
			continue
		}
		for _, want := range expected {
			if hmac.Equal(got[:n], want) {
				return nil
			}
		}
	}
	return ErrNoMatchingSignature
}

// Middleware verifies each request before next sees it. It reads the body
// (at most MaxBodyBytes; a larger one is answered 413), answers 401 when
// Verify fails, and otherwise calls next with the body restored, so next
// reads exactly the bytes that were verified.
func (v *Verifier) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > MaxBodyBytes {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err != nil {
			http.Error(w, "cannot read request body", http.StatusBadRequest)
			return
		}
		if len(body) > MaxBodyBytes {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(w, "invalid webhook signature", http.StatusUnauthorized)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.GetBody = func() (io.ReadCloser, error) {
			return io.NopCloser(bytes.NewReader(body)), nil
		}
		next.ServeHTTP(w, r)
	})
}
