package dealersocket_test

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/dealerai/integrations/shared/agents/adf"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/dealersocket"
	"github.com/dealerai/integrations/shared/agents/internal/dtd"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

const (
	directLeadKey = "dlk-5f2a"
	username      = "dealerai"
	password      = "p@ss:word"
	publicKey     = "pub-123"
	secretKey     = "sec-456"
)

// fakeDealerSocket checks what DealerSocket checks: the direct lead key in the path, the raw
// "username:password" Authorization, an application/xml ADF 1.0 document valid against the
// DTD (duplicates by email answer DUPLICATE_LEAD); for activities the HMAC-SHA256
// Authentication signature of the exact body and the required fields.
type fakeDealerSocket struct {
	*httptest.Server
	adf    *dtd.DTD
	rec    agenttest.Recorder
	faults agenttest.Faults

	mu     sync.Mutex
	leads  map[string]string // email -> DSLeadId
	nextID int
}

func newFake(t *testing.T) *fakeDealerSocket {
	raw, err := os.ReadFile(filepath.Join(agenttest.Testdata(), "agents", "adf-1.0.dtd"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dtd.Parse(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeDealerSocket{adf: d, leads: map[string]string{}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+dealersocket.LeadPath+"{key}", f.lead)
	mux.HandleFunc("POST /api/DealerSocket/Activity", f.activity)
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func leadResponse(w http.ResponseWriter, status int, inner string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="utf-8"?><LeadResponse>%s</LeadResponse>`, inner)
}

func (f *fakeDealerSocket) lead(w http.ResponseWriter, r *http.Request) {
	body := f.rec.Record(r).Body
	refuse := func(status int, code, msg string) {
		leadResponse(w, status, fmt.Sprintf(`<Success>false</Success><ErrorCode>%s</ErrorCode><ErrorMessage>%s</ErrorMessage>`, code, msg))
	}
	switch {
	case r.PathValue("key") != directLeadKey:
		refuse(http.StatusNotFound, "INVALID_LEAD_KEY", "unknown direct lead key")
		return
	case r.Header.Get("Authorization") != username+":"+password:
		refuse(http.StatusUnauthorized, "UNAUTHORIZED", "bad credentials")
		return
	case r.Header.Get("Content-Type") != "application/xml":
		refuse(http.StatusUnsupportedMediaType, "BAD_CONTENT_TYPE", "application/xml expected")
		return
	case !bytes.Contains(body, []byte(`<?adf version="1.0"?>`)):
		refuse(http.StatusBadRequest, "INVALID_ADF", "not ADF 1.0")
		return
	}
	if err := f.adf.Validate(body, "adf"); err != nil {
		refuse(http.StatusBadRequest, "INVALID_ADF", err.Error())
		return
	}
	if f.faults.Serve(w, r) {
		return
	}
	var doc struct {
		Email string `xml:"prospect>customer>contact>email"`
	}
	_ = xml.Unmarshal(body, &doc)
	f.mu.Lock()
	existing, dup := f.leads[doc.Email]
	if !dup {
		f.nextID++
		f.leads[doc.Email] = fmt.Sprintf("DS%d", 7000+f.nextID)
	}
	id := f.leads[doc.Email]
	f.mu.Unlock()
	if dup {
		leadResponse(w, http.StatusOK, `<Success>false</Success><ErrorCode>DUPLICATE_LEAD</ErrorCode><ErrorMessage>Lead already exists</ErrorMessage><DSExistingLeadId>`+existing+`</DSExistingLeadId>`)
		return
	}
	leadResponse(w, http.StatusOK, `<Success>true</Success><DSLeadId>`+id+`</DSLeadId>`)
}

func (f *fakeDealerSocket) activity(w http.ResponseWriter, r *http.Request) {
	body := f.rec.Record(r).Body
	pub, sig, _ := strings.Cut(r.Header.Get("Authentication"), ":")
	mac := hmac.New(sha256.New, []byte(secretKey))
	mac.Write(body)
	want := base64.StdEncoding.EncodeToString(mac.Sum(nil))
	if pub != publicKey || !hmac.Equal([]byte(sig), []byte(want)) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"Message":"signature mismatch"}`)
		return
	}
	if r.Header.Get("Content-Type") != "application/json" {
		w.WriteHeader(http.StatusUnsupportedMediaType)
		return
	}
	if f.faults.Serve(w, r) {
		return
	}
	var a map[string]any
	if json.Unmarshal(body, &a) != nil || a["LeadId"] == "" || a["DealerNumberId"] == "" || a["ActivityType"] == "" {
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"Message":"LeadId, DealerNumberId and ActivityType are required"}`)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"ActivityId":99001}`)
}

func (f *fakeDealerSocket) delivery(t *testing.T, event string, edits map[string]any) *connector.Delivery {
	return &connector.Delivery{
		Event:    agenttest.Event(t, event, edits),
		DealerID: "dlr_42",
		Settings: map[string]string{
			"baseUrl": f.URL, "activityUrl": f.URL + "/api/DealerSocket/Activity",
			"vendorName": "Austin Toyota", "dealerNumberId": "DS-77",
			"activityType": "Appointment", "activityStatus": "Scheduled", "cancelledActivityStatus": "Cancelled",
		},
		Credentials: map[string]string{
			"directLeadKey": directLeadKey, "username": username, "password": password,
			"publicKey": publicKey, "secretKey": secretKey,
		},
		Attempt: 1,
		HTTP:    &http.Client{},
	}
}

func TestLeadCreated(t *testing.T) {
	f := newFake(t)
	res, err := dealersocket.New().Deliver(context.Background(), f.delivery(t, "lead.created", nil))
	if err != nil {
		t.Fatal(err)
	}
	reqs := f.rec.Requests(dealersocket.LeadPath + directLeadKey)
	if len(reqs) != 1 {
		t.Fatalf("%d lead requests, want 1", len(reqs))
	}
	agenttest.Golden(t, "dealersocket/lead.created.xml", reqs[0].Body)
	if !bytes.HasPrefix(reqs[0].Body, []byte(adf.Header)) {
		t.Error("missing ADF header")
	}
	if res.Correlation["leadId"] != "DS7001" {
		t.Errorf("correlation = %v", res.Correlation)
	}
}

func TestDuplicateLeadCountsAsDelivered(t *testing.T) {
	f := newFake(t)
	c := dealersocket.New()
	if _, err := c.Deliver(context.Background(), f.delivery(t, "lead.created", nil)); err != nil {
		t.Fatal(err)
	}
	res, err := c.Deliver(context.Background(), f.delivery(t, "lead.created", map[string]any{"eventId": "evt_other", "leadId": "other"}))
	if err != nil {
		t.Fatalf("a duplicate must count as delivered: %v", err)
	}
	if res.Skipped || res.Correlation["leadId"] != "DS7001" || res.Progress["duplicateOf"] != "DS7001" {
		t.Errorf("result = %+v", res)
	}
	if !strings.Contains(res.Summary, "already had") {
		t.Errorf("summary = %q", res.Summary)
	}
}

func TestOtherLeadErrorsFailTheAttempt(t *testing.T) {
	f := newFake(t)
	f.faults.Add(dealersocket.LeadPath+directLeadKey, agenttest.Fault{Status: http.StatusOK,
		Body: `<LeadResponse><Success>false</Success><ErrorCode>INVALID_DEALER</ErrorCode><ErrorMessage>Dealer is inactive</ErrorMessage></LeadResponse>`})
	_, err := dealersocket.New().Deliver(context.Background(), f.delivery(t, "lead.created", nil))
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassPlatform || !strings.Contains(ae.Message, "INVALID_DEALER") || !strings.Contains(ae.Message, "inactive") {
		t.Fatalf("err = %v, want a platform error with DealerSocket's code and message", err)
	}
}

func TestWrongPasswordIsAnAuthErrorWithoutCredentials(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "lead.created", nil)
	d.Credentials["password"] = "hunter2-wrong"
	_, err := dealersocket.New().Deliver(context.Background(), d)
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassAuth {
		t.Fatalf("err = %v, want auth", err)
	}
	for _, secret := range []string{"hunter2-wrong", directLeadKey, username} {
		if strings.Contains(ae.Error()+ae.Snippet, secret) {
			t.Errorf("the error shows a credential (%s): %v", secret, ae)
		}
	}
}

func TestConnectionErrorDoesNotShowTheLeadKey(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "lead.created", nil)
	f.Close() // nothing listens any more
	_, err := dealersocket.New().Deliver(context.Background(), d)
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassConnection {
		t.Fatalf("err = %v, want connection", err)
	}
	if strings.Contains(err.Error(), directLeadKey) {
		t.Errorf("the error shows the direct lead key: %v", err)
	}
}

func TestAppointmentOfAKnownLeadIsASignedActivity(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "appointment.created", nil)
	d.Lead = map[string]string{"leadId": "DS7001"}
	res, err := dealersocket.New().Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(f.rec.Requests(dealersocket.LeadPath + directLeadKey)); n != 0 {
		t.Errorf("%d ADF leads sent, want 0", n)
	}
	acts := f.rec.Requests("/api/DealerSocket/Activity")
	if len(acts) != 1 {
		t.Fatalf("%d activities, want 1", len(acts))
	}
	agenttest.Golden(t, "dealersocket/appointment.created.activity.json", agenttest.Indent(t, acts[0].Body))
	if res.Correlation["activityId"] != "99001" || res.LeadCorrelation != nil {
		t.Errorf("result = %+v", res)
	}
}

func TestAppointmentOfAnUnknownLeadSendsTheLeadFirstAndResumes(t *testing.T) {
	f := newFake(t)
	c := dealersocket.New()
	f.faults.Add("/api/DealerSocket/Activity", agenttest.Fault{Status: http.StatusBadGateway, Body: "upstream"})
	d := f.delivery(t, "appointment.cancelled", nil) // the trade-in example
	_, err := c.Deliver(context.Background(), d)
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusBadGateway || ae.Progress["leadId"] != "DS7001" {
		t.Fatalf("attempt 1: err = %+v, want 502 with the lead in progress", err)
	}
	d.Attempt, d.Progress = 2, ae.Progress
	res, err := c.Deliver(context.Background(), d)
	if err != nil {
		t.Fatal(err)
	}
	leads := f.rec.Requests(dealersocket.LeadPath + directLeadKey)
	if len(leads) != 1 {
		t.Fatalf("%d ADF leads sent, want 1 (the retry resumes at the activity)", len(leads))
	}
	agenttest.Golden(t, "dealersocket/appointment.cancelled.tradein.xml", leads[0].Body)
	acts := f.rec.Requests("/api/DealerSocket/Activity")
	agenttest.Golden(t, "dealersocket/appointment.cancelled.activity.json", agenttest.Indent(t, acts[len(acts)-1].Body))
	if res.LeadCorrelation["leadId"] != "DS7001" || res.Correlation["leadId"] != "DS7001" {
		t.Errorf("result = %+v", res)
	}
}

func TestAppointmentWithoutActivityKeysIsSkipped(t *testing.T) {
	f := newFake(t)
	d := f.delivery(t, "appointment.created", nil)
	delete(d.Credentials, "publicKey")
	delete(d.Credentials, "secretKey")
	res, err := dealersocket.New().Deliver(context.Background(), d)
	if err != nil || !res.Skipped {
		t.Fatalf("res = %+v, err = %v; want skipped", res, err)
	}
	if n := len(f.rec.Requests("")); n != 0 {
		t.Errorf("%d requests, want 0", n)
	}
}

func TestSign(t *testing.T) {
	// HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog"), RFC 4231-style vector
	got := dealersocket.Sign("pub", "key", []byte("The quick brown fox jumps over the lazy dog"))
	if want := "pub:97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg="; got != want {
		t.Errorf("Sign = %s, want %s", got, want)
	}
}
