package connector_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/connector"
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
