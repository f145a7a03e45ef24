// Command fakeplatform is a fake VinSolutions for trying the integration agents on the local
// stack. It issues OAuth 2.0 client-credentials tokens (form-authenticated, scope PublicAPI)
// at /connect/token and serves the Lead Management calls the VinSolutions connector makes
// with the CRM of package vinsolutionstest — the same fake the tests use, so it keeps the
// contacts, leads, notes and vehicles of interest it is sent and refuses what VinSolutions
// refuses (a missing api_key, the wrong media type, a flat vehicle of interest...) — and
// prints each request and its answer. It is a demo: its state lives in memory.
//
//	go run ./infra/local/cmd/fakeplatform -addr 127.0.0.1:9400
//	go run ./infra/local/cmd/fakeplatform -addr 127.0.0.1:9400 -status 500   # a failing CRM
//
// While it runs, POST /fake/fail?status=500 makes every API call answer 500, and
// POST /fake/fail?status=0 heals it (the state is kept).
//
// It serves the two-way sync's change feed too (GET /leads?sortby=date, newest first), and
// a person changes the CRM as the dealership would:
//
//	curl -X POST 'http://127.0.0.1:9400/fake/leads/1002/status?type=SOLD&status=SOLD_DELIVERED'  # a lead sold
//	curl -X POST 'http://127.0.0.1:9400/fake/leads?firstName=Mia&lastName=Chen'                  # a walk-in entered
//
// and watches the inbound event arrive (go run ./infra/local/cmd/stack inbound).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dealerai/integrations/shared/agents/vinsolutions/vinsolutionstest"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:9400", "address to listen on")
	clientID := flag.String("client-id", "demo-client", "the OAuth client id it accepts")
	clientSecret := flag.String("client-secret", "demo-secret", "the OAuth client secret it accepts")
	apiKey := flag.String("api-key", "demo-api-key", "the api_key it accepts")
	dealerID := flag.Int64("dealer-id", 5001, "the VinSolutions dealer id it serves")
	userID := flag.Int64("user-id", 7001, "the VinSolutions user id of its credentials")
	leadSourceID := flag.Int64("lead-source-id", 9001, "the dealer's lead source id")
	status := flag.Int("status", 0, "answer every API call with this status instead (e.g. 500)")
	flag.Parse()

	f := newFake(*clientID, *clientSecret, *apiKey, *dealerID, *userID, *leadSourceID, log.Writer())
	f.fail(*status)
	log.Printf("fake VinSolutions listening on http://%s (token URL http://%s/connect/token; dealer %d, user %d, lead source %d)",
		*addr, *addr, *dealerID, *userID, *leadSourceID)
	server := &http.Server{Addr: *addr, Handler: f, ReadHeaderTimeout: 10 * time.Second}
	log.Fatal(server.ListenAndServe())
}

type fake struct {
	clientID, clientSecret string
	crm                    *vinsolutionstest.CRM
	out                    io.Writer

	mu     sync.Mutex
	tokens map[string]bool
	next   int
}

func newFake(clientID, clientSecret, apiKey string, dealerID, userID, leadSourceID int64, out io.Writer) *fake {
	f := &fake{clientID: clientID, clientSecret: clientSecret, out: out, tokens: map[string]bool{}}
	f.crm = &vinsolutionstest.CRM{APIKey: apiKey, DealerID: dealerID, UserID: userID, LeadSourceIDs: []int64{leadSourceID}, Authorized: f.authorized}
	return f
}

// fail makes every API call answer status from now on (0: none).
func (f *fake) fail(status int) {
	f.crm.ClearFaults()
	if status != 0 {
		f.crm.Fail(vinsolutionstest.Fault{Status: status, Times: -1})
	}
}

func (f *fake) authorized(r *http.Request) bool {
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.tokens[tok]
}

func (f *fake) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	now := time.Now().Format(time.TimeOnly)
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/connect/token":
		fmt.Fprintf(f.out, "%s POST /connect/token\n", now)
		code, answer := f.token(r, body)
		writeJSON(w, code, answer)
		fmt.Fprintf(f.out, "  → %d %s\n\n", code, answer)
		return
	case r.Method == http.MethodPost && r.URL.Path == "/fake/fail":
		status, err := strconv.Atoi(r.URL.Query().Get("status"))
		if err != nil || status != 0 && (status < 400 || status > 599) {
			writeJSON(w, http.StatusBadRequest, `{"message":"status must be 0 or an error status (400-599)"}`)
			return
		}
		f.fail(status)
		fmt.Fprintf(f.out, "%s fake: every API call answers %s from now on\n\n", now, map[bool]string{true: "normally", false: strconv.Itoa(status)}[status == 0])
		w.WriteHeader(http.StatusNoContent)
		return
	case r.Method == http.MethodPost && strings.HasPrefix(r.URL.Path, "/fake/leads"):
		f.change(w, r, now)
		return
	}
	mediaType := r.Header.Get("Accept")
	if len(body) > 0 {
		mediaType += "  Content-Type: " + r.Header.Get("Content-Type")
	}
	fmt.Fprintf(f.out, "%s %s %s  Accept: %s  token: %s  api_key: %s\n%s", now, r.Method, r.URL.RequestURI(), mediaType,
		okOr(f.authorized(r), "REFUSED"), okOr(r.Header.Get("api_key") == f.crm.APIKey, "WRONG"), indent(body))
	r.Body = io.NopCloser(bytes.NewReader(body))
	tee := &teeWriter{ResponseWriter: w}
	f.crm.ServeHTTP(tee, r)
	fmt.Fprintf(f.out, "  → %d %s\n\n", tee.status, strings.TrimSpace(tee.body.String()))
}

// change is a change made in the CRM as the dealership would: POST /fake/leads/{id}/status
// ?type&status sets a lead's leadStatusType and leadStatus; POST /fake/leads?firstName&lastName
// enters a lead (and its contact) of the configured lead source.
func (f *fake) change(w http.ResponseWriter, r *http.Request, now string) {
	q := r.URL.Query()
	if r.URL.Path == "/fake/leads" {
		first, last := q.Get("firstName"), q.Get("lastName")
		if first == "" || last == "" {
			writeJSON(w, http.StatusBadRequest, `{"message":"firstName and lastName are required"}`)
			return
		}
		contact := f.crm.AddContact(first, last, q.Get("email"), q.Get("phone"))
		lead := f.crm.AddLead(contact, f.crm.LeadSourceIDs[0], "")
		fmt.Fprintf(f.out, "%s fake: lead %d (contact %d, %s %s) entered in the CRM\n\n", now, lead, contact, first, last)
		writeJSON(w, http.StatusCreated, fmt.Sprintf(`{"leadId":%d,"contactId":%d}`, lead, contact))
		return
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/fake/leads/")
	idText, found := strings.CutSuffix(rest, "/status")
	id, err := strconv.ParseInt(idText, 10, 64)
	if !ok || !found || err != nil || q.Get("type") == "" || q.Get("status") == "" {
		writeJSON(w, http.StatusBadRequest, `{"message":"POST /fake/leads/{id}/status?type=SOLD&status=SOLD_DELIVERED, or POST /fake/leads?firstName=&lastName="}`)
		return
	}
	if !f.crm.SetStatus(id, q.Get("type"), q.Get("status")) {
		writeJSON(w, http.StatusNotFound, `{"message":"no such lead"}`)
		return
	}
	fmt.Fprintf(f.out, "%s fake: lead %d is %s / %s\n\n", now, id, q.Get("type"), q.Get("status"))
	w.WriteHeader(http.StatusNoContent)
}

// token is the client-credentials grant: client_id and client_secret in the form, scope
// PublicAPI.
func (f *fake) token(r *http.Request, body []byte) (int, string) {
	form, err := url.ParseQuery(string(body))
	switch {
	case !strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded") || err != nil:
		return http.StatusBadRequest, `{"error":"invalid_request"}`
	case form.Get("grant_type") != "client_credentials":
		return http.StatusBadRequest, `{"error":"unsupported_grant_type"}`
	case form.Get("scope") != "PublicAPI":
		return http.StatusBadRequest, `{"error":"invalid_scope"}`
	case form.Get("client_id") != f.clientID || form.Get("client_secret") != f.clientSecret:
		return http.StatusUnauthorized, `{"error":"invalid_client"}`
	}
	f.mu.Lock()
	f.next++
	tok := fmt.Sprintf("fake-token-%d", f.next)
	f.tokens[tok] = true
	f.mu.Unlock()
	return http.StatusOK, fmt.Sprintf(`{"access_token":%q,"token_type":"Bearer","expires_in":3600}`, tok)
}

// teeWriter keeps the status and body written, for printing.
type teeWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (t *teeWriter) WriteHeader(code int) {
	t.status = code
	t.ResponseWriter.WriteHeader(code)
}

func (t *teeWriter) Write(b []byte) (int, error) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	t.body.Write(b)
	return t.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func okOr(ok bool, bad string) string {
	if ok {
		return "ok"
	}
	return bad
}

func indent(body []byte) string {
	if len(body) == 0 {
		return ""
	}
	var b bytes.Buffer
	if json.Indent(&b, body, "  ", "  ") != nil {
		return "  " + string(body) + "\n"
	}
	return "  " + b.String() + "\n"
}
