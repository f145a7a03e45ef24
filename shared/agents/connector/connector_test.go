package connector_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

func TestSendNeverShowsTheURL(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL + "/SalesLead/secret-key"
	srv.Close()
	req, err := connector.NewRequest(context.Background(), http.MethodPost, url, "application/xml", []byte("<a/>"), "lead")
	if err != nil {
		t.Fatal(err)
	}
	_, err = connector.Send(&http.Client{}, req, "lead")
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassConnection || strings.Contains(err.Error(), "secret-key") {
		t.Fatalf("err = %v", err)
	}
	if _, err := connector.NewRequest(context.Background(), http.MethodPost, "http://[::1/secret-key", "", nil, "lead"); err == nil || strings.Contains(err.Error(), "secret-key") {
		t.Fatalf("invalid URL: %v", err)
	}
}

func TestSendTimeout(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { time.Sleep(300 * time.Millisecond) }))
	defer srv.Close()
	req, _ := connector.NewRequest(context.Background(), http.MethodGet, srv.URL, "", nil, "call")
	_, err := connector.Send(&http.Client{Timeout: 50 * time.Millisecond}, req, "call")
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassTimeout {
		t.Fatalf("err = %v, want timeout", err)
	}
}

func TestStatusError(t *testing.T) {
	cases := []struct {
		status    int
		class     string
		permanent bool
		retry     time.Duration
	}{
		{400, connector.ClassHTTPStatus, true, 0},
		{401, connector.ClassAuth, false, 0},
		{403, connector.ClassAuth, false, 0},
		{404, connector.ClassHTTPStatus, false, 0},
		{429, connector.ClassHTTPStatus, false, 2 * time.Second},
		{500, connector.ClassHTTPStatus, false, 0},
		{503, connector.ClassHTTPStatus, false, 2 * time.Second},
	}
	for _, c := range cases {
		e := connector.StatusError(&connector.Response{StatusCode: c.status, Header: http.Header{"Retry-After": {"2"}}, Body: []byte(strings.Repeat("é", 2000))}, "step")
		if e.Class != c.class || e.Permanent != c.permanent || e.RetryAfter != c.retry || e.StatusCode != c.status {
			t.Errorf("%d: %+v", c.status, e)
		}
		if len(e.Snippet) > connector.SnippetBytes || !strings.HasPrefix(e.Snippet, "é") || strings.ContainsRune(e.Snippet, '\uFFFD') {
			t.Errorf("%d: snippet of %d bytes, cut inside a character", c.status, len(e.Snippet))
		}
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"120": 2 * time.Minute, "": 0, "-1": 0, "soon": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second,
	} {
		if got := connector.RetryAfter(v, now); got != want {
			t.Errorf("RetryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

func TestSplitName(t *testing.T) {
	for in, want := range map[string][2]string{"Grace Kim": {"Grace", "Kim"}, " Ana  Maria Diaz ": {"Ana", "Maria Diaz"}, "Cher": {"Cher", ""}, "": {"", ""}} {
		if f, l := connector.SplitName(in); f != want[0] || l != want[1] {
			t.Errorf("SplitName(%q) = %q, %q", in, f, l)
		}
	}
}

func TestRestrictHosts(t *testing.T) {
	var hits int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits++ }))
	defer srv.Close()
	base := &http.Client{Timeout: 7 * time.Second}
	hc := connector.RestrictHosts(base, "TestCRM", func(h string) bool { return h == "127.0.0.1" })
	if hc.Timeout != base.Timeout || base.Transport != nil {
		t.Fatalf("the copy lost the timeout, or the original changed")
	}
	req, _ := connector.NewRequest(context.Background(), http.MethodPost, srv.URL+"/ok", "text/plain", []byte("x"), "call")
	if resp, err := connector.Send(hc, req, "call"); err != nil || resp.StatusCode != 200 || hits != 1 {
		t.Fatalf("allowed host: %v %v", resp, err)
	}
	other := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1) + "/key-in-path"
	req, _ = connector.NewRequest(context.Background(), http.MethodPost, other, "text/plain", []byte("secret body"), "TestCRM lead")
	_, err := connector.Send(hc, req, "TestCRM lead")
	var ae *connector.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassBlocked || !ae.Permanent || hits != 1 ||
		ae.Message != "TestCRM lead: refused to send a request to localhost, which is not a TestCRM host (nothing was sent)" {
		t.Fatalf("other host: %#v, %d requests", err, hits)
	}
}

func TestKinds(t *testing.T) {
	for typ, want := range map[string]connector.Kind{
		"lead.created": connector.KindLead, "lead.received": connector.KindLead,
		"lead.update.disposition": connector.KindLeadUpdate, "contact.basic.updated": connector.KindLeadUpdate,
		"contact.vehicleofinterest.updated": connector.KindLeadUpdate,
		"appointment.created":               connector.KindAppointment, "appointment.cancelled": connector.KindAppointment,
		"contact.created": connector.KindOther, "conversation.started": connector.KindOther,
	} {
		if got := connector.KindOf(typ); got != want {
			t.Errorf("KindOf(%s) = %v, want %v", typ, got, want)
		}
	}
}

func TestDecodeLeadLifecycleEvents(t *testing.T) {
	ev := func(name string) *events.Event { return agenttest.Event(t, name, nil) }
	if l, err := connector.LeadReceived(ev("lead.received")); err != nil || l.LeadID == "" {
		t.Errorf("lead.received: %+v %v", l, err)
	}
	if d, err := connector.Disposition(ev("lead.update.disposition")); err != nil || d.DispositionCode != "APPT_SET" || d.Notes == "" {
		t.Errorf("disposition: %+v %v", d, err)
	}
	if c, err := connector.ContactUpdate(ev("contact.basic.updated")); err != nil || c.ContactID == "" || c.Email == "" {
		t.Errorf("contact update: %+v %v", c, err)
	}
	if v, err := connector.VehicleOfInterest(ev("contact.vehicleofinterest.updated")); err != nil || v.VehicleInterest == nil || v.VehicleInterest.Model == "" {
		t.Errorf("vehicle of interest: %+v %v", v, err)
	}
	bad := ev("lead.update.disposition")
	bad.Body = []byte(`{"notes": 5}`)
	var ae *connector.AttemptError
	if _, err := connector.Disposition(bad); !errors.As(err, &ae) || !ae.Permanent || !strings.Contains(ae.Message, "lead.update.disposition") {
		t.Errorf("undecodable: %v", err)
	}
}
