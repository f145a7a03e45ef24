package delivery

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dealerai/integrations/events/webhook"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/safeurl"
	"github.com/dealerai/integrations/shared/signing"
	"github.com/dealerai/integrations/shared/targets"
)

// UserAgent identifies our requests.
const UserAgent = "DealerAI-Webhooks/1.0"

// post makes one signed webhook request (docs/webhooks.md).
func (h *Handler) post(ctx context.Context, msg *deliveryq.Message, attempt int, t *targets.Target) Outcome {
	sub := h.signingSubscription(ctx, msg.DealerID, t.Subscription)
	if h.CheckURL != nil {
		if err := h.CheckURL(sub.URL); err != nil {
			return Outcome{Result: Failed, Attempt: deliverylog.Attempt{ErrorClass: deliverylog.ClassBlocked, Error: err.Error()}}
		}
	}
	now := h.now()
	sig, err := signing.Sign(sub.SigningSecrets(now), msg.EventID, now.Unix(), msg.Payload)
	if err != nil {
		return internal(fmt.Errorf("sign: %w", err))
	}
	timeout := h.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL, bytes.NewReader(msg.Payload))
	if err != nil {
		return internal(errors.New("invalid subscription URL"))
	}
	// The Standard Webhooks header names as the spec writes them (sent as given).
	req.Header["Content-Type"] = []string{"application/json"}
	req.Header["User-Agent"] = []string{UserAgent}
	req.Header[webhook.HeaderID] = []string{msg.EventID}
	req.Header[webhook.HeaderTimestamp] = []string{strconv.FormatInt(now.Unix(), 10)}
	req.Header[webhook.HeaderSignature] = []string{sig}
	req.Header[webhook.HeaderEventType] = []string{msg.EventType}
	req.Header[webhook.HeaderDeliveryID] = []string{msg.DeliveryID}
	req.Header[webhook.HeaderAttempt] = []string{strconv.Itoa(attempt)}

	start := time.Now()
	resp, err := h.HTTP.Do(req)
	if err != nil {
		class, text := classify(err)
		return Outcome{Result: Failed, Requested: class != deliverylog.ClassBlocked, Attempt: deliverylog.Attempt{
			DurationMs: time.Since(start).Milliseconds(), ErrorClass: class, Error: text,
		}}
	}
	// Read at most 64 KiB; reading to EOF lets the connection be reused.
	body, readErr := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes))
	resp.Body.Close()
	out := Outcome{Requested: true, Attempt: deliverylog.Attempt{
		StatusCode: resp.StatusCode,
		DurationMs: time.Since(start).Milliseconds(),
	}}
	code := resp.StatusCode
	switch {
	case code >= 200 && code < 300:
		out.Result = Succeeded // the answer is the status; a body cut short does not matter
		return out
	case code == http.StatusGone:
		out.Result = FailedPermanently
		out.Attempt.Error = "HTTP 410 Gone: the subscription is disabled"
	case code >= 300 && code < 400:
		out.Result = Failed
		out.Attempt.Error = fmt.Sprintf("HTTP %d: redirects are not followed", code)
	default:
		out.Result = Failed
		out.Attempt.Error = fmt.Sprintf("HTTP %d", code)
		if code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable {
			out.RetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), h.now())
		}
	}
	out.Attempt.ErrorClass = deliverylog.ClassHTTPStatus
	if readErr != nil {
		out.Attempt.Error += "; reading the response failed: " + errorText(readErr)
	}
	out.Attempt.ResponseSnippet = snippet(body)
	return out
}

// classify names the error class of a request that got no response, with a message that
// never contains the URL (which may carry a token).
func classify(err error) (class, text string) {
	var blocked *safeurl.Error
	switch {
	case errors.As(err, &blocked):
		return deliverylog.ClassBlocked, blocked.Reason
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		return deliverylog.ClassTimeout, "no response within the attempt's timeout"
	}
	return deliverylog.ClassConnection, errorText(err)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// errorText is err's message without the request URL that *url.Error adds.
func errorText(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return err.Error()
}

// snippet is the start of a response body kept for a failed attempt: at most 1 KiB of valid
// UTF-8.
func snippet(body []byte) string {
	s := strings.ToValidUTF8(string(body[:min(len(body), deliverylog.MaxSnippetLen)]), "\uFFFD")
	if len(s) > deliverylog.MaxSnippetLen {
		n := deliverylog.MaxSnippetLen
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		s = s[:n]
	}
	return s
}
