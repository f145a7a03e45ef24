package oauth_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/oauth"
)

// TestSendAuthorizedUsesTheTokenType: the Authorization value is the token endpoint's
// token_type and access_token; "Bearer" when the type is absent or not a scheme name.
func TestSendAuthorizedUsesTheTokenType(t *testing.T) {
	for tokenType, want := range map[string]string{
		`"token_type":"XTBearer",`:        "XTBearer tok",
		`"token_type":"bearer",`:          "bearer tok",
		``:                                "Bearer tok",
		`"token_type":"",`:                "Bearer tok",
		`"token_type":"Bearer x\r\nX:1",`: "Bearer tok",
		`"token_type":7,`:                 "Bearer tok",
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, `{%s"access_token":"tok","expires_in":3600}`, tokenType)
		}))
		var got string
		_, err := oauth.NewCache().SendAuthorized(context.Background(), &http.Client{}, oauth.Grant{TokenURL: srv.URL, ClientID: "id"}, "test",
			func(authorization string) (*http.Request, error) {
				got = authorization
				return http.NewRequest(http.MethodGet, srv.URL, nil)
			}, oauth.Unauthorized)
		srv.Close()
		if err != nil || got != want {
			t.Errorf("%s: Authorization %q, %v; want %q", tokenType, got, err, want)
		}
	}
}

// TestSendAuthorizedRefreshesARefusedToken: one 401 drops the token and fetches another, whose
// type is the new answer's.
func TestSendAuthorizedRefreshesARefusedToken(t *testing.T) {
	grants := 0
	var seen []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/token" {
			grants++
			fmt.Fprintf(w, `{"token_type":"T%d","access_token":"tok%d","expires_in":3600}`, grants, grants)
			return
		}
		seen = append(seen, r.Header.Get("Authorization"))
		if r.Header.Get("Authorization") != "T2 tok2" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	resp, err := oauth.NewCache().SendAuthorized(context.Background(), &http.Client{}, oauth.Grant{TokenURL: srv.URL + "/token", ClientID: "id"}, "test",
		func(authorization string) (*http.Request, error) {
			req, err := http.NewRequest(http.MethodGet, srv.URL+"/api", nil)
			if err == nil {
				req.Header.Set("Authorization", authorization)
			}
			return req, err
		}, func(r *connector.Response) bool { return r.StatusCode == http.StatusUnauthorized })
	if err != nil || resp.StatusCode != http.StatusOK || grants != 2 || len(seen) != 2 || seen[0] != "T1 tok1" {
		t.Fatalf("resp %v, err %v, grants %d, seen %v", resp, err, grants, seen)
	}
}
