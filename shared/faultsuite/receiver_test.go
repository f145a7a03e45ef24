package faultsuite

import (
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dealerai/integrations/events/webhook"
)

// mode is how a receiver answers.
type mode int32

const (
	modeOK      mode = iota // 200
	mode500                 // 500 with a small body
	modeHang                // no answer until the client gives up (past the attempt's timeout)
	modeHijack              // the connection closed in the middle of the response
	mode301                 // a redirect to the cloud metadata address
	mode410                 // Gone: the subscription is disabled
	mode429                 // Too Many Requests with Retry-After
	modeRefused             // no listener: connections refused (see refuse/restore)
	modeSlow                // 200 after slowFor: deliveries are in flight when an outage starts
)

// slowFor is how long a receiver in modeSlow takes to answer 200.
const slowFor = 300 * time.Millisecond

func (m mode) String() string {
	return [...]string{"200", "500", "hang", "hijack", "301", "410", "429", "refused", "slow"}[m]
}

// retryAfter is the Retry-After (seconds) a receiver in mode429 sends: longer than the
// suite's 1 s backoff, so the handler must honour it.
const retryAfter = 2

// metadataURL is where a receiver in mode301 redirects: the delivery must not follow.
const metadataURL = "http://169.254.169.254/latest/meta-data/iam/security-credentials/"

// hit is one request a receiver got.
type hit struct {
	arrived    time.Time
	deliveryID string
	webhookID  string
	eventType  string
	attempt    string
	path       string
	body       []byte
	sigErr     error
	// status is what the receiver answered (0: no answer: it hung, or the connection was
	// closed before a status line); answered is when the answer was flushed.
	status   int
	answered time.Time
	mode     mode
}

// receiver is a webhook endpoint that records every request, verifies its signature with
// events/webhook (the package dealers use), and answers as its mode says.
type receiver struct {
	t        testing.TB
	name     string
	addr     string
	verifier atomic.Pointer[webhook.Verifier]
	mode     atomic.Int32

	mu      sync.Mutex
	srv     *http.Server
	hits    []*hit
	hijacks int
}

func newReceiver(t testing.TB, name string) *receiver {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	rc := &receiver{t: t, name: name, addr: ln.Addr().String()}
	rc.serve(ln)
	t.Cleanup(rc.refuse) // closes the server and its connections
	return rc
}

func (rc *receiver) serve(ln net.Listener) {
	srv := &http.Server{Handler: rc, ReadHeaderTimeout: 10 * time.Second, ErrorLog: nil}
	rc.mu.Lock()
	rc.srv = srv
	rc.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
}

// URL is the endpoint's URL; credential is a token in its query string, as dealers put in
// their webhook URLs (it must never appear in a log line or a delivery record).
func (rc *receiver) URL(credential string) string {
	return "http://" + rc.addr + "/hooks/" + rc.name + "?token=" + credential
}

func (rc *receiver) setVerifier(secret string) {
	v, err := webhook.NewVerifier(secret)
	if err != nil {
		rc.t.Fatalf("verifier: %v", err)
	}
	rc.verifier.Store(v)
}

func (rc *receiver) setMode(m mode) {
	switch m {
	case modeRefused:
		rc.refuse()
	default:
		if mode(rc.mode.Load()) == modeRefused {
			rc.restore()
		}
	}
	rc.mode.Store(int32(m))
}

// refuse closes the listener and every open connection: connections are refused.
func (rc *receiver) refuse() {
	rc.mu.Lock()
	srv := rc.srv
	rc.srv = nil
	rc.mu.Unlock()
	if srv != nil {
		_ = srv.Close()
	}
}

// restore listens again on the same address.
func (rc *receiver) restore() {
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", rc.addr); err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		rc.t.Errorf("receiver %s: listen again on %s: %v", rc.name, rc.addr, err)
		return
	}
	rc.serve(ln)
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	arrived := time.Now()
	body, _ := io.ReadAll(io.LimitReader(r.Body, 2<<20))
	h := &hit{
		arrived:    arrived,
		deliveryID: r.Header.Get(webhook.HeaderDeliveryID),
		webhookID:  r.Header.Get(webhook.HeaderID),
		eventType:  r.Header.Get(webhook.HeaderEventType),
		attempt:    r.Header.Get(webhook.HeaderAttempt),
		path:       r.URL.Path,
		body:       body,
		mode:       mode(rc.mode.Load()),
	}
	if v := rc.verifier.Load(); v != nil {
		h.sigErr = v.Verify(r.Header, body)
	} else {
		h.sigErr = errors.New("no verifier")
	}
	rc.mu.Lock()
	rc.hits = append(rc.hits, h)
	n := len(rc.hits)
	rc.mu.Unlock()

	status := 0
	switch h.mode {
	case modeOK, modeRefused, modeSlow: // modeRefused: a request that got in just before the close
		if h.mode == modeSlow {
			time.Sleep(slowFor)
		}
		status = http.StatusOK
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"received":true}`)
	case mode500:
		status = http.StatusInternalServerError
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"error":"database is down"}`)
	case mode410:
		status = http.StatusGone
		w.WriteHeader(status)
	case mode301:
		status = http.StatusMovedPermanently
		w.Header().Set("Location", metadataURL)
		w.WriteHeader(status)
	case mode429:
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(retryAfter))
		w.WriteHeader(status)
	case modeHang:
		select {
		case <-r.Context().Done():
		case <-time.After(30 * time.Second):
		}
		panic(http.ErrAbortHandler) // no answer at all
	case modeHijack:
		conn, buf, err := w.(http.Hijacker).Hijack()
		if err != nil {
			panic(http.ErrAbortHandler)
		}
		rc.mu.Lock()
		rc.hijacks++
		partial := rc.hijacks%2 == 0
		rc.mu.Unlock()
		if partial {
			// A status line and part of the body, then the connection is gone: the status
			// is the answer (docs/design.md#delivery: the answer is the status code).
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"rec")
			_ = buf.Flush()
			status = http.StatusOK
		}
		_ = conn.Close()
		rc.answer(n-1, status)
		return
	}
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
	rc.answer(n-1, status)
}

func (rc *receiver) answer(i, status int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.hits[i].status, rc.hits[i].answered = status, time.Now()
}

// all returns a snapshot of the hits.
func (rc *receiver) all() []hit {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]hit, len(rc.hits))
	for i, h := range rc.hits {
		out[i] = *h
	}
	return out
}

// delivered reports whether the delivery got a 2xx answer.
func (rc *receiver) delivered(deliveryID string) bool {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, h := range rc.hits {
		if h.deliveryID == deliveryID && h.status >= 200 && h.status < 300 {
			return true
		}
	}
	return false
}
