package xtimefake_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/agents/xtime/xtimefake"
)

// TestFakeRefusesWhatXTimeRefuses: a request that diverges from the published shapes —
// auth, headers, query, media type, body fields and types, time format, phone, opcode —
// is refused in XTime's format, so a connector that sends it fails its tests.
func TestFakeRefusesWhatXTimeRefuses(t *testing.T) {
	f := xtimefake.New(t, xtimefake.Config{ClientID: "id", ClientSecret: "secret", APIKey: "key", DealerCode: "D1",
		TokenType: "Bearer", Services: []xtimefake.Service{{Opcode: "OIL", ServiceName: "Oil change"}}})
	token := grant(t, f)

	good := `{"appointmentDateTimeLocal":"2026-12-01T07:00-0600","firstName":"Grace","lastName":"Kim","phoneNumber":"5125550131","services":[{"opcode":"OIL"}]}`
	type req struct {
		method, path, query, auth, apiKey, contentType, body string
	}
	base := req{"POST", "/service/appointments-bookings", "dealerCode=D1&vin=5YJ3E1EA7KF317000", "Bearer " + token, "key", "application/json", good}
	cases := []struct {
		name   string
		edit   func(*req)
		status int
		code   string
	}{
		{"no token", func(r *req) { r.auth = "" }, 401, "UNAUTHORIZED"},
		{"token without its type", func(r *req) { r.auth = token }, 401, "UNAUTHORIZED"},
		{"another token type", func(r *req) { r.auth = "MAC " + token }, 401, "UNAUTHORIZED"},
		{"no x-api-key", func(r *req) { r.apiKey = "" }, 403, "FORBIDDEN"},
		{"no dealerCode", func(r *req) { r.query = "vin=5YJ3E1EA7KF317000" }, 200, "x-000001"},
		{"no vehicle", func(r *req) { r.query = "dealerCode=D1&year=2021&make=Toyota" }, 200, "x-000422"},
		{"form body", func(r *req) { r.contentType = "application/x-www-form-urlencoded" }, 415, "x-000415"},
		{"unknown field", func(r *req) { r.body = strings.Replace(good, `"lastName"`, `"customerName":"x","lastName"`, 1) }, 400, "x-000400"},
		{"number for a string", func(r *req) { r.body = strings.Replace(good, `"5125550131"`, `5125550131`, 1) }, 400, "x-000400"},
		{"RFC 3339 time", func(r *req) { r.body = strings.Replace(good, "07:00-0600", "07:00:00-06:00", 1) }, 200, "x-000422"},
		{"UTC time", func(r *req) { r.body = strings.Replace(good, "2026-12-01T07:00-0600", "2026-12-01T13:00:00Z", 1) }, 200, "x-000422"},
		{"phone with +", func(r *req) { r.body = strings.Replace(good, `"5125550131"`, `"+15125550131"`, 1) }, 200, "x-000422"},
		{"no first name", func(r *req) { r.body = strings.Replace(good, `"Grace"`, `""`, 1) }, 200, "x-000422"},
		{"no services", func(r *req) { r.body = strings.Replace(good, `[{"opcode":"OIL"}]`, `[]`, 1) }, 200, "x-000422"},
		{"unknown opcode", func(r *req) { r.body = strings.Replace(good, `"OIL"`, `"TIRE"`, 1) }, 200, "x-000422"},
		{"services as names", func(r *req) { r.body = strings.Replace(good, `[{"opcode":"OIL"}]`, `["OIL"]`, 1) }, 400, "x-000400"},
		{"move of an unknown appointment", func(r *req) { r.body = strings.Replace(good, `{`, `{"appointmentId":"XT-404",`, 1) }, 200, "x-000422"},
		{"appointments without vin", func(r *req) { r.method, r.path, r.query, r.body = "GET", "/service/appointments", "dealerCode=D1", "" }, 200, "x-000422"},
		{"services without a vehicle", func(r *req) { r.method, r.path, r.query, r.body = "GET", "/service/services", "dealerCode=D1", "" }, 200, "x-000422"},
		{"a cancel call XTime does not publish", func(r *req) { r.path = "/service/appointments-bookings/XT-1/cancel" }, 404, "NOT_FOUND"},
	}
	for _, c := range cases {
		r := base
		c.edit(&r)
		status, body := send(t, f, r.method, r.path+"?"+r.query, r.auth, r.apiKey, r.contentType, r.body)
		var m struct {
			Success *bool
			Code    string
			Message string
		}
		if err := json.Unmarshal(body, &m); err != nil || status != c.status || m.Success == nil || *m.Success || m.Code != c.code || m.Message == "" {
			t.Errorf("%s: %d %s, want %d {success:false, code:%s, message}", c.name, status, body, c.status, c.code)
		}
	}
	if n := len(f.Appointments()); n != 0 {
		t.Fatalf("%d appointments booked by refused requests", n)
	}
	// the unedited request is taken
	status, body := send(t, f, base.method, base.path+"?"+base.query, base.auth, base.apiKey, base.contentType, base.body)
	if status != 200 || string(body) != `{"appointmentId":"XT-1","success":true}`+"\n" {
		t.Fatalf("good booking: %d %s", status, body)
	}
}

// TestFakeTokenGrant: Basic client credentials and both scheduling scopes, or no token.
func TestFakeTokenGrant(t *testing.T) {
	f := xtimefake.New(t, xtimefake.Config{ClientID: "id", ClientSecret: "secret", APIKey: "key", DealerCode: "D1"})
	for name, form := range map[string]url.Values{
		"one scope":    {"grant_type": {"client_credentials"}, "scope": {"cai.scheduling.appointments.write"}},
		"in the form":  {"grant_type": {"client_credentials"}, "scope": {xtimefake.Scope}, "client_id": {"id"}, "client_secret": {"secret"}},
		"another type": {"grant_type": {"password"}, "scope": {xtimefake.Scope}},
	} {
		req, _ := http.NewRequest("POST", f.URL+xtimefake.TokenPath, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if name != "in the form" {
			req.SetBasicAuth("id", "secret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("%s: a token was issued", name)
		}
	}
	if f.Issuer.Grants() != 0 {
		t.Errorf("%d grants", f.Issuer.Grants())
	}
}

// TestFakeLosesAnswersAfterBooking: LoseNext performs the booking, then loses its answer.
func TestFakeLosesAnswersAfterBooking(t *testing.T) {
	f := xtimefake.New(t, xtimefake.Config{ClientID: "id", ClientSecret: "secret", APIKey: "key", DealerCode: "D1",
		Services: []xtimefake.Service{{Opcode: "OIL"}}})
	token := grant(t, f)
	body := `{"appointmentDateTimeLocal":"2026-12-01T07:00-0600","firstName":"Grace","services":[{"opcode":"OIL"}]}`
	f.LoseNext("/service/appointments-bookings", xtimefake.Answer500)
	f.LoseNext("/service/appointments-bookings", xtimefake.DropConnection)
	if status, _ := send(t, f, "POST", "/service/appointments-bookings?dealerCode=D1&vin=V1", "Bearer "+token, "key", "application/json", body); status != 500 {
		t.Errorf("first: %d, want 500", status)
	}
	req, _ := http.NewRequestWithContext(context.Background(), "POST", f.URL+"/service/appointments-bookings?dealerCode=D1&vin=V1", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("x-api-key", "key")
	req.Header.Set("Content-Type", "application/json")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Errorf("second: answered %d, want the connection dropped", resp.StatusCode)
	}
	if n := len(f.Appointments()); n != 2 {
		t.Fatalf("%d booked, want 2 (both performed)", n)
	}
}

func grant(t *testing.T, f *xtimefake.Server) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "scope": {xtimefake.Scope}}
	req, _ := http.NewRequest("POST", f.URL+xtimefake.TokenPath, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth("id", "secret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || tok.AccessToken == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tok.AccessToken
}

func send(t *testing.T, f *xtimefake.Server, method, pathQuery, auth, apiKey, contentType, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, f.URL+pathQuery, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Authorization": auth, "x-api-key": apiKey, "Content-Type": contentType} {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out
}
