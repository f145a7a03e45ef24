package signing_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/dealerai/integrations/shared/signing"
)

type vector struct {
	Description string   `json:"description"`
	Secrets     []string `json:"secrets"`
	MsgID       string   `json:"msgId"`
	Timestamp   int64    `json:"timestamp"`
	Body        string   `json:"body"`
	Expected    string   `json:"expected"`
}

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(standardwebhooks.HeaderWebhookID, id)
	h.Set(standardwebhooks.HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(standardwebhooks.HeaderWebhookSignature, sig)
	return h
}

// TestGoldenVectors checks Sign against testdata/signing/*.json and
// cross-checks every vector with the official Standard Webhooks library.
func TestGoldenVectors(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "signing", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 4 {
		t.Fatalf("found %d golden files, want at least 4", len(files))
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var v vector
			if err := json.Unmarshal(raw, &v); err != nil {
				t.Fatal(err)
			}
			got, err := signing.Sign(v.Secrets, v.MsgID, v.Timestamp, []byte(v.Body))
			if err != nil {
				t.Fatal(err)
			}
			if got != v.Expected {
				t.Fatalf("Sign = %q, want %q", got, v.Expected)
			}

			sigs := strings.Split(v.Expected, " ")
			if len(sigs) != len(v.Secrets) {
				t.Fatalf("%d signatures for %d secrets", len(sigs), len(v.Secrets))
			}
			for i, secret := range v.Secrets {
				wh, err := standardwebhooks.NewWebhook(secret)
				if err != nil {
					t.Fatal(err)
				}
				official, err := wh.Sign(v.MsgID, time.Unix(v.Timestamp, 0), []byte(v.Body))
				if err != nil {
					t.Fatal(err)
				}
				if official != sigs[i] {
					t.Errorf("secret %d: official library signs %q, vector has %q", i, official, sigs[i])
				}
				// The timestamps are in the past: verify the signature only.
				if err := wh.VerifyIgnoringTimestamp([]byte(v.Body), headers(v.MsgID, v.Timestamp, got)); err != nil {
					t.Errorf("secret %d: official library rejects %q: %v", i, got, err)
				}
			}
		})
	}
}

func TestOfficialLibraryVerifiesFreshRequests(t *testing.T) {
	newSecret, oldSecret, otherSecret := mustSecret(t), mustSecret(t), mustSecret(t)
	body := []byte(`{"eventType":"lead.created","eventId":"evt_01JDQ5Z8X7K3M9N2P4R6T8V0WY","dealerId":"dlr_42"}`)
	now := time.Now().Unix()

	tests := []struct {
		name     string
		signWith []string
		verifier string
		wantOK   bool
	}{
		{"one secret", []string{newSecret}, newSecret, true},
		{"rotation, verified with the new secret", []string{newSecret, oldSecret}, newSecret, true},
		{"rotation, verified with the old secret", []string{newSecret, oldSecret}, oldSecret, true},
		{"wrong secret", []string{newSecret, oldSecret}, otherSecret, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := signing.Sign(tt.signWith, "evt_1", now, body)
			if err != nil {
				t.Fatal(err)
			}
			wh, err := standardwebhooks.NewWebhook(tt.verifier)
			if err != nil {
				t.Fatal(err)
			}
			err = wh.Verify(body, headers("evt_1", now, sig))
			if tt.wantOK && err != nil {
				t.Fatalf("official Verify rejects %q: %v", sig, err)
			}
			if !tt.wantOK && !errors.Is(err, standardwebhooks.ErrNoMatchingSignature) {
				t.Fatalf("official Verify = %v, want ErrNoMatchingSignature", err)
			}
		})
	}
}

func TestSignOrderAndFormat(t *testing.T) {
	a, b := mustSecret(t), mustSecret(t)
	body := []byte("{}")
	sa, err := signing.Sign([]string{a}, "evt_x", 1700000000, body)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := signing.Sign([]string{b}, "evt_x", 1700000000, body)
	if err != nil {
		t.Fatal(err)
	}
	both, err := signing.Sign([]string{a, b}, "evt_x", 1700000000, body)
	if err != nil {
		t.Fatal(err)
	}
	if both != sa+" "+sb {
		t.Fatalf("Sign(a, b) = %q, want %q", both, sa+" "+sb)
	}
	if !strings.HasPrefix(sa, "v1,") || len(sa) != len("v1,")+44 {
		t.Fatalf("signature %q is not v1,<44 base64 chars>", sa)
	}
	// Every input byte counts.
	for _, other := range []struct {
		id   string
		ts   int64
		body string
	}{{"evt_y", 1700000000, "{}"}, {"evt_x", 1700000001, "{}"}, {"evt_x", 1700000000, "{ }"}} {
		s, _ := signing.Sign([]string{a}, other.id, other.ts, []byte(other.body))
		if s == sa {
			t.Errorf("Sign(%q, %d, %q) equals Sign(evt_x, 1700000000, {})", other.id, other.ts, other.body)
		}
	}
}

func TestSignRejectsMalformedSecrets(t *testing.T) {
	good := mustSecret(t)
	tests := []struct {
		name    string
		secrets []string
	}{
		{"none", nil},
		{"empty", []string{""}},
		{"prefix only", []string{"whsec_"}},
		{"no prefix", []string{strings.TrimPrefix(good, "whsec_")}},
		{"not base64", []string{"whsec_not*base64!"}},
		{"url-safe base64", []string{"whsec_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-_-"}},
		{"bad second secret", []string{good, "whsec_%%%"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig, err := signing.Sign(tt.secrets, "evt_1", 1, []byte("{}"))
			if err == nil {
				t.Fatalf("Sign = %q, want an error", sig)
			}
			for _, s := range tt.secrets {
				if len(s) > len("whsec_") && strings.Contains(err.Error(), s) {
					t.Fatalf("error %q leaks the secret", err)
				}
			}
		})
	}
}

func TestNewSecret(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 100; i++ {
		s := mustSecret(t)
		enc, ok := strings.CutPrefix(s, "whsec_")
		if !ok {
			t.Fatalf("%q lacks the whsec_ prefix", s)
		}
		key, err := base64.StdEncoding.DecodeString(enc)
		if err != nil || len(key) != 32 {
			t.Fatalf("%q: key of %d bytes, err %v; want 32 bytes of standard base64", s, len(key), err)
		}
		if seen[s] {
			t.Fatalf("NewSecret repeated %q", s)
		}
		seen[s] = true
	}
}

func TestSignConcurrent(t *testing.T) {
	secret := mustSecret(t)
	want, err := signing.Sign([]string{secret}, "evt_c", 42, []byte("body"))
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				got, err := signing.Sign([]string{secret}, "evt_c", 42, []byte("body"))
				if err != nil || got != want {
					t.Errorf("Sign = %q, %v; want %q", got, err, want)
					return
				}
				// Interleave other ids to catch shared-buffer bugs.
				if _, err := signing.Sign([]string{secret}, strings.Repeat("x", i), int64(i), nil); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func mustSecret(t testing.TB) string {
	t.Helper()
	s, err := signing.NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func BenchmarkSign(b *testing.B) {
	body := []byte(`{"eventType":"lead.created","eventId":"evt_01JDQ5Z8X7K3M9N2P4R6T8V0WY","dealerId":"dlr_42",` +
		`"timestamp":"2026-11-27T15:04:05Z","firstName":"Ana","lastName":"Diaz","email":"ana@example.com",` +
		`"comments":"` + strings.Repeat("x", 700) + `"}`) // ~1 KiB, a typical lead
	one := []string{mustSecret(b)}
	two := []string{mustSecret(b), mustSecret(b)}
	for _, bc := range []struct {
		name    string
		secrets []string
	}{{"1KiB/one-secret", one}, {"1KiB/rotation-two-secrets", two}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := signing.Sign(bc.secrets, "evt_01JDQ5Z8X7K3M9N2P4R6T8V0WY", 1795878245, body); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
