package webhook_test

import (
	"bytes"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events/webhook"
	"github.com/dealerai/integrations/shared/signing"
)

func newSecret(t *testing.T) string {
	t.Helper()
	s, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t *testing.T, secrets []string, id string, ts int64, body []byte) string {
	t.Helper()
	sig, err := signing.Sign(secrets, id, ts, body)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// request is one signed request as the delivery Lambda sends it.
type request struct {
	header http.Header
	body   []byte
}

func signedRequest(t *testing.T, secrets []string, ts int64) request {
	t.Helper()
	body := []byte(`{"eventType":"lead.created","eventId":"evt_01JDQ5Z8X7K3M9N2P4R6T8V0WY","dealerId":"dlr_42","firstName":"Ana"}`)
	h := http.Header{}
	h.Set("Content-Type", "application/json")
	h.Set(webhook.HeaderID, "evt_01JDQ5Z8X7K3M9N2P4R6T8V0WY")
	h.Set(webhook.HeaderTimestamp, strconv.FormatInt(ts, 10))
	h.Set(webhook.HeaderSignature, sign(t, secrets, "evt_01JDQ5Z8X7K3M9N2P4R6T8V0WY", ts, body))
	h.Set(webhook.HeaderEventType, "lead.created")
	return request{header: h, body: body}
}

func TestVerify(t *testing.T) {
	a, b, c := newSecret(t), newSecret(t), newSecret(t)
	now := time.Now().Unix()

	tests := []struct {
		name      string
		verifier  []string         // secrets of the Verifier
		tolerance time.Duration    // 0 = default
		signWith  []string         // secrets the request is signed with
		ts        int64            // webhook-timestamp signed and sent
		mutate    func(r *request) // applied after signing
		want      error            // nil = accepted
	}{
		{name: "valid", verifier: []string{a}, signWith: []string{a}, ts: now},
		{name: "4 minutes old", verifier: []string{a}, signWith: []string{a}, ts: now - 240},
		{name: "4 minutes ahead", verifier: []string{a}, signWith: []string{a}, ts: now + 240},
		{name: "rotation: only the second signature matches", verifier: []string{a}, signWith: []string{b, a}, ts: now},
		{name: "rotation: only the first signature matches", verifier: []string{b}, signWith: []string{b, a}, ts: now},
		{name: "verifier with two secrets, request with the old one", verifier: []string{b, a}, signWith: []string{a}, ts: now},
		{name: "bare base64 secret", verifier: []string{strings.TrimPrefix(a, "whsec_")}, signWith: []string{a}, ts: now},
		{
			name: "unknown version and junk before a valid signature", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) {
				sig := r.header.Get(webhook.HeaderSignature)
				r.header.Set(webhook.HeaderSignature, "v1a,xyz junk v2,"+strings.TrimPrefix(sig, "v1,")+"  "+sig)
			},
		},

		{
			name: "tampered body", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) { r.body = bytes.Replace(r.body, []byte("Ana"), []byte("Eve"), 1) },
			want:   webhook.ErrNoMatchingSignature,
		},
		{
			name: "body with a trailing newline", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) { r.body = append(r.body, '\n') },
			want:   webhook.ErrNoMatchingSignature,
		},
		{name: "wrong secret", verifier: []string{c}, signWith: []string{a}, ts: now, want: webhook.ErrNoMatchingSignature},
		{name: "rotation, neither secret", verifier: []string{c}, signWith: []string{b, a}, ts: now, want: webhook.ErrNoMatchingSignature},
		{name: "stale timestamp", verifier: []string{a}, signWith: []string{a}, ts: now - 6*60, want: webhook.ErrTimestampTooOld},
		{name: "very old timestamp", verifier: []string{a}, signWith: []string{a}, ts: 0, want: webhook.ErrTimestampTooOld},
		{name: "future timestamp", verifier: []string{a}, signWith: []string{a}, ts: now + 6*60, want: webhook.ErrTimestampTooNew},
		{name: "custom tolerance", verifier: []string{a}, tolerance: time.Minute, signWith: []string{a}, ts: now - 120, want: webhook.ErrTimestampTooOld},
		{
			name: "timestamp changed after signing", verifier: []string{a}, signWith: []string{a}, ts: now - 10,
			mutate: func(r *request) { r.header.Set(webhook.HeaderTimestamp, strconv.FormatInt(now, 10)) },
			want:   webhook.ErrNoMatchingSignature,
		},
		{
			name: "id changed after signing", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) { r.header.Set(webhook.HeaderID, "evt_other") },
			want:   webhook.ErrNoMatchingSignature,
		},
		{
			name: "signature without version", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) {
				r.header.Set(webhook.HeaderSignature, strings.TrimPrefix(r.header.Get(webhook.HeaderSignature), "v1,"))
			},
			want: webhook.ErrNoMatchingSignature,
		},
		{
			name: "signature of another version", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) {
				r.header.Set(webhook.HeaderSignature, "v1a,"+strings.TrimPrefix(r.header.Get(webhook.HeaderSignature), "v1,"))
			},
			want: webhook.ErrNoMatchingSignature,
		},
		{
			name: "truncated signature", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) {
				sig := r.header.Get(webhook.HeaderSignature)
				r.header.Set(webhook.HeaderSignature, sig[:len(sig)-4])
			},
			want: webhook.ErrNoMatchingSignature,
		},
		{
			name: "missing webhook-id", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) { r.header.Del(webhook.HeaderID) },
			want:   webhook.ErrMissingHeaders,
		},
		{
			name: "missing webhook-timestamp", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) { r.header.Del(webhook.HeaderTimestamp) },
			want:   webhook.ErrMissingHeaders,
		},
		{
			name: "missing webhook-signature", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) { r.header.Del(webhook.HeaderSignature) },
			want:   webhook.ErrMissingHeaders,
		},
		{
			name: "no headers at all", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) { r.header = http.Header{} },
			want:   webhook.ErrMissingHeaders,
		},
		{
			name: "timestamp not a number", verifier: []string{a}, signWith: []string{a}, ts: now,
			mutate: func(r *request) { r.header.Set(webhook.HeaderTimestamp, "2026-11-27T15:04:05Z") },
			want:   webhook.ErrInvalidTimestamp,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := webhook.NewVerifier(tt.verifier...)
			if err != nil {
				t.Fatal(err)
			}
			if tt.tolerance != 0 {
				v.Tolerance = tt.tolerance
			}
			r := signedRequest(t, tt.signWith, tt.ts)
			if tt.mutate != nil {
				tt.mutate(&r)
			}
			err = v.Verify(r.header, r.body)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("Verify = %v, want accepted", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestZeroToleranceMeansDefault(t *testing.T) {
	a := newSecret(t)
	v, err := webhook.NewVerifier(a)
	if err != nil {
		t.Fatal(err)
	}
	if v.Tolerance != webhook.DefaultTolerance || webhook.DefaultTolerance != 5*time.Minute {
		t.Fatalf("Tolerance = %v, want 5m", v.Tolerance)
	}
	v.Tolerance = 0
	r := signedRequest(t, []string{a}, time.Now().Unix()-240)
	if err := v.Verify(r.header, r.body); err != nil {
		t.Fatalf("Verify with Tolerance 0 = %v, want the 5 min default", err)
	}
}

func TestNewVerifierRejectsBadSecrets(t *testing.T) {
	good := newSecret(t)
	tests := []struct {
		name    string
		secrets []string
	}{
		{"none", nil},
		{"empty", []string{""}},
		{"prefix only", []string{"whsec_"}},
		{"not base64", []string{"whsec_not*base64!"}},
		{"bad second", []string{good, "whsec_%%%%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := webhook.NewVerifier(tt.secrets...); err == nil {
				t.Fatal("NewVerifier accepted a bad secret")
			} else if len(tt.secrets) > 0 && len(tt.secrets[len(tt.secrets)-1]) > 8 &&
				strings.Contains(err.Error(), tt.secrets[len(tt.secrets)-1]) {
				t.Fatalf("error %q leaks the secret", err)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	a, other := newSecret(t), newSecret(t)
	v, err := webhook.NewVerifier(a)
	if err != nil {
		t.Fatal(err)
	}
	var served int
	var gotBody []byte
	srv := httptest.NewServer(v.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served++
		gotBody, _ = io.ReadAll(r.Body)
		if r.ContentLength != int64(len(gotBody)) {
			t.Errorf("ContentLength = %d, body has %d bytes", r.ContentLength, len(gotBody))
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	defer srv.Close()

	now := time.Now().Unix()
	big := bytes.Repeat([]byte("x"), webhook.MaxBodyBytes+1)
	tests := []struct {
		name       string
		req        request
		chunked    bool // hide the Content-Length
		wantStatus int
	}{
		{"valid", signedRequest(t, []string{a}, now), false, http.StatusNoContent},
		{"valid, rotation", signedRequest(t, []string{other, a}, now), false, http.StatusNoContent},
		{"wrong secret", signedRequest(t, []string{other}, now), false, http.StatusUnauthorized},
		{"stale", signedRequest(t, []string{a}, now-3600), false, http.StatusUnauthorized},
		{"tampered", func() request {
			r := signedRequest(t, []string{a}, now)
			r.body = append([]byte(nil), r.body...)
			r.body[len(r.body)-2] = 'X'
			return r
		}(), false, http.StatusUnauthorized},
		{"unsigned", request{header: http.Header{}, body: []byte("{}")}, false, http.StatusUnauthorized},
		{"too large", request{header: signedRequest(t, []string{a}, now).header, body: big}, false, http.StatusRequestEntityTooLarge},
		{"too large, chunked", request{header: signedRequest(t, []string{a}, now).header, body: big}, true, http.StatusRequestEntityTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			served, gotBody = 0, nil
			var body io.Reader = bytes.NewReader(tt.req.body)
			if tt.chunked {
				body = io.MultiReader(body) // unknown length: sent chunked
			}
			req, err := http.NewRequest(http.MethodPost, srv.URL, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.req.header {
				req.Header[k] = vs
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tt.wantStatus)
			}
			if ok := tt.wantStatus < 300; ok != (served == 1) {
				t.Fatalf("handler called %d times", served)
			}
			if served == 1 && !bytes.Equal(gotBody, tt.req.body) {
				t.Fatalf("handler read %q, want the verified body %q", gotBody, tt.req.body)
			}
		})
	}
}

// TestStandardLibraryOnly keeps the package importable by receivers on its
// own: no import from this module's shared packages or any third party.
func TestStandardLibraryOnly(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(path, "/"); strings.Contains(first, ".") {
				t.Errorf("%s imports %s; the package must use the standard library only", file, path)
			}
		}
	}
}
