package agentstest

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/dealerai/integrations/shared/agents/vinsolutions/vinsolutionstest"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

// fakeVinSolutions is vinsolutionstest's CRM (which keeps what it is sent and refuses what
// VinSolutions refuses) behind a token endpoint, recording the API requests.
type fakeVinSolutions struct {
	*vinsolutionstest.CRM
	*httptest.Server
	agenttest.Recorder // the API requests (not the token grants)
	issuer             *agenttest.Issuer

	mu     sync.Mutex
	denied int // 401s answered to API calls
}

func newFakeVinSolutions(t testing.TB, creds map[string]string) *fakeVinSolutions {
	f := &fakeVinSolutions{issuer: &agenttest.Issuer{ClientID: creds["clientId"], ClientSecret: creds["clientSecret"], Scope: "PublicAPI"}}
	f.CRM = &vinsolutionstest.CRM{APIKey: creds["apiKey"], DealerID: 5001, UserID: 7001, Authorized: func(r *http.Request) bool {
		ok := f.issuer.Authorized(r)
		if !ok {
			f.mu.Lock()
			f.denied++
			f.mu.Unlock()
		}
		return ok
	}}
	mux := http.NewServeMux()
	mux.Handle("POST /connect/token", f.issuer)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		r.Body = io.NopCloser(bytes.NewReader(f.Record(r).Body))
		f.CRM.ServeHTTP(w, r)
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *fakeVinSolutions) settings() map[string]string {
	return map[string]string{"baseUrl": f.URL, "tokenUrl": f.URL + "/connect/token",
		"dealerId": "5001", "userId": "7001", "leadSourceId": "9001"}
}

// failPath makes every request to path answer status (0: stop failing).
func (f *fakeVinSolutions) failPath(path string, status int) {
	if status == 0 {
		f.ClearFaults()
		return
	}
	f.Fail(vinsolutionstest.Fault{Path: path, Status: status, Times: -1})
}

func (f *fakeVinSolutions) deniedCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.denied
}
