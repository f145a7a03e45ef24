package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/app"
)

// TestNewAPI wires the api function as main does, from the environment, and serves a few
// requests through the local gateway.
func TestNewAPI(t *testing.T) {
	env := localtest.New(t)
	vars := env.Env()
	vars["ALLOW_ENDPOINT_CIDRS"] = "127.0.0.0/8"
	cfg, err := app.ConfigFromEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	fn, err := app.NewAPI(context.Background(), env.AWS, cfg)
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := local.NewEphemeralIssuer()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(&local.Gateway{Issuer: issuer, API: fn})
	defer srv.Close()
	tok, _ := issuer.Token("dlr_1", "")

	post := func(url string) (int, string) {
		req, _ := http.NewRequest("POST", srv.URL+"/v1/subscriptions", strings.NewReader(`{"url":"`+url+`","events":["lead.*"]}`))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// ALLOW_ENDPOINT_CIDRS opens loopback; plain http stays refused (ALLOW_HTTP_ENDPOINTS unset)
	if code, body := post("https://127.0.0.1:9443/hook"); code != http.StatusCreated || !strings.Contains(body, `"secret":"whsec_`) {
		t.Fatalf("create: %d %s", code, body)
	}
	if code, body := post("http://127.0.0.1:9443/hook"); code != http.StatusUnprocessableEntity {
		t.Fatalf("http url: %d %s", code, body)
	}
	if code, body := post("https://10.1.2.3/hook"); code != http.StatusUnprocessableEntity {
		t.Fatalf("private url: %d %s", code, body)
	}
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

func TestNewAPIRequiresTables(t *testing.T) {
	cfg, _ := app.ConfigFromEnv(func(string) string { return "" })
	if _, err := app.NewAPI(context.Background(), aws.Config{}, cfg); err == nil || !strings.Contains(err.Error(), "CONFIG_TABLE") {
		t.Fatalf("err = %v", err)
	}
}
