package agents_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/resources"
)

// countingServer counts the requests it gets and answers 500.
func countingServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

// TestDispatcherSendsNoCredentialOutsideThePlatformsHosts: the exfiltration attempt at
// delivery, for each platform and its real connector — an agent stored before the host rule
// (its item written directly) with every URL setting on a server of the attacker's: the
// attempt fails permanently as blocked and the server gets nothing. The same agent in a
// deployment that allows the server's host reaches it (the control).
func TestDispatcherSendsNoCredentialOutsideThePlatformsHosts(t *testing.T) {
	ctx := context.Background()
	env := localtest.New(t)
	table := env.Table(resources.ConfigTable)
	store := agents.NewStore(env.DynamoDB, table)
	correlations := agents.NewCorrelationStore(env.DynamoDB, table)
	srv, hits := countingServer(t)
	official := agents.NewDispatcher(correlations, srv.Client(), registry.Platforms())
	withLoopback, err := registry.Platforms().WithExtraHosts([]platform.ExtraHost{{Host: "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	control := agents.NewDispatcher(correlations, srv.Client(), withLoopback)

	for _, p := range registry.Platforms() {
		in := validPut(p.ID)
		for k := range in.Credentials {
			in.Credentials[k] = "cred-" + p.ID + "-" + k + "-9f3"
		}
		a := &agents.Agent{DealerID: "dlr_42", Platform: p.ID, Enabled: true, Events: p.Events,
			Settings: maps.Clone(in.Settings), Credentials: in.Credentials}
		for _, k := range p.URLSettings() {
			a.Settings[k] = srv.URL + "/" + k
		}
		if _, err := store.Put(ctx, a); err != nil {
			t.Fatal(err)
		}
		stored, err := store.Get(ctx, "dlr_42", p.ID)
		if err != nil {
			t.Fatal(err)
		}
		msg := message(t, p.ID, "lead.created", nil)
		if p.ID == "xtime" {
			msg = message(t, p.ID, "appointment.created", map[string]any{"appointmentType": "service", "serviceType": "Oil change"})
		}

		hits.Store(0)
		_, err = official.DeliverTo(ctx, stored, msg, 1, nil)
		var ae *agents.AttemptError
		if !errors.As(err, &ae) || ae.Class != connector.ClassBlocked || !ae.Permanent || !strings.Contains(ae.Message, "settings.") {
			t.Errorf("%s: err = %v; want a permanent blocked attempt naming the setting", p.ID, err)
		}
		for _, v := range in.Credentials {
			if strings.Contains(err.Error(), v) {
				t.Errorf("%s: the error shows a credential", p.ID)
			}
		}
		if n := hits.Load(); n != 0 {
			t.Errorf("%s: %d requests reached the attacker's server", p.ID, n)
		}

		if _, err := control.DeliverTo(ctx, stored, msg, 1, nil); err == nil || hits.Load() == 0 {
			t.Errorf("%s control: err = %v, %d requests; want the (failing) server reached", p.ID, err, hits.Load())
		}
	}
}

// hrefFollower requests a URL, as a connector following a link a platform returned would.
type hrefFollower struct{ url string }

func (c hrefFollower) Deliver(ctx context.Context, d *connector.Delivery) (connector.Result, error) {
	req, err := connector.NewRequest(ctx, http.MethodGet, c.url, "", nil, "TestCRM follow href")
	if err != nil {
		return connector.Result{}, err
	}
	resp, err := connector.Send(d.HTTP, req, "TestCRM follow href")
	if err != nil {
		return connector.Result{}, err
	}
	return connector.Result{StatusCode: resp.StatusCode, Correlation: map[string]string{"leadId": "L1"}}, nil
}

// TestDispatcherClientReachesOnlyThePlatformsHosts: whatever URL a connector requests (one a
// platform returned, say), the delivery's client refuses a host that is not the platform's.
func TestDispatcherClientReachesOnlyThePlatformsHosts(t *testing.T) {
	ctx := context.Background()
	e := newDispatcher(t)
	srv, hits := countingServer(t)
	e.d.Connectors["testcrm"] = hrefFollower{url: srv.URL + "/leads/1"}
	a, _ := e.store.Get(ctx, "dlr_42", "testcrm")
	_, err := e.d.DeliverTo(ctx, a, message(t, "testcrm", "lead.created", nil), 1, nil)
	var ae *agents.AttemptError
	if !errors.As(err, &ae) || ae.Class != connector.ClassBlocked || !ae.Permanent || hits.Load() != 0 ||
		!strings.Contains(ae.Message, "TestCRM follow href: refused to send a request to 127.0.0.1") {
		t.Fatalf("err = %v, %d requests; want blocked before sending", err, hits.Load())
	}

	// the platform's own host goes through
	e.d.Platforms, _ = e.d.Platforms.WithExtraHosts([]platform.ExtraHost{{Platform: "testcrm", Host: "127.0.0.1"}})
	res, err := e.d.DeliverTo(ctx, a, message(t, "testcrm", "lead.created", nil), 1, nil)
	if err != nil || res.StatusCode != http.StatusInternalServerError || hits.Load() != 1 {
		t.Fatalf("allowed host: %+v %v, %d requests", res, err, hits.Load())
	}
}
