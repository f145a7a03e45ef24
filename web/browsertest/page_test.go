package browsertest

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/dealerai/integrations/shared/circuit"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// TestIntegrationsPage walks a dealership user's paths through the page, each in its own tab
// as its own dealer, on one stack and one browser.
func TestIntegrationsPage(t *testing.T) {
	s := newSuite(t)
	tests := []struct {
		name string
		run  func(*testing.T, *suite)
	}{
		{"ConfigureAndEnableAnAgent", configureAndEnableAnAgent},
		{"SubscriptionSecretAndTestEvent", subscriptionSecretAndTestEvent},
		{"FailingEndpointAndRetry", failingEndpointAndRetry},
		{"ConflictDisabledReasonAndDelete", conflictDisabledReasonAndDelete},
		{"KeyboardOnlyCreate", keyboardOnlyCreate},
		{"Pagination", pagination},
		{"StrictContentSecurityPolicy", strictContentSecurityPolicy},
		{"PlanAndSync", planAndSync},
		{"OpenCircuit", openCircuit},
		{"RecoverSince", recoverSince},
	}
	// Two tabs at a time: the tests wait on the pipeline (the failing endpoint's backoff)
	// more than they work, and each is its own dealer.
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, s)
		})
	}
}

// attr is an attribute (or property) of the component's first element matching selector.
func attr(tb *tab, selector, name string) string {
	tb.t.Helper()
	return eval[string](tb, fmt.Sprintf(`String(%s?.[%q] ?? "")`, q(selector), name))
}

func configureAndEnableAnAgent(t *testing.T, s *suite) {
	const dealer = "dlr_agents"
	tb := s.open(t, dealer, "")
	for _, name := range []string{"VinSolutions", "DealerSocket", "Fortellis", "XTime", "book service appointments"} {
		tb.waitText(name)
	}
	tb.screenshot("agents")

	tb.click(in(`[data-platform="fortellis"]`, "button"))
	tb.waitFor("the Fortellis settings form", root+`.querySelector("#setting-subscriptionId")`)
	if attr(tb, `input[name="enabled"]`, "checked") != "true" {
		t.Error("a new agent's Enabled box is not checked")
	}
	// Saving without the required values: the API's field errors appear on their fields.
	tb.click(button("Save"))
	tb.waitText("Please correct the highlighted fields")
	for _, id := range []string{"setting-subscriptionId", "credential-apiKey", "credential-apiSecret"} {
		if attr(tb, "#"+id, "ariaInvalid") != "true" || attr(tb, "#"+id+"-err", "textContent") == "" {
			t.Errorf("%s shows no error: invalid=%s message=%q", id, attr(tb, "#"+id, "ariaInvalid"), attr(tb, "#"+id+"-err", "textContent"))
		}
	}
	if got := eval[string](tb, activeElement+`?.id`); got != "setting-subscriptionId" {
		t.Errorf("the focus went to %q, not the first invalid field", got)
	}

	const apiSecret = "ft-secret-from-the-browser-7f3a"
	tb.fill(q("#setting-subscriptionId"), "sub-42")
	tb.fill(q("#credential-apiKey"), "ft-key-from-the-browser-2b9c")
	tb.fill(q("#credential-apiSecret"), apiSecret)
	tb.click(button("Save"))
	tb.waitText("Fortellis is saved and enabled.")

	// Credentials are write-only: the inputs are empty again, each shows "Set", and the value
	// is nowhere in the page.
	if v := attr(tb, "#credential-apiSecret", "value"); v != "" {
		t.Errorf("the secret input still holds %q", v)
	}
	if state := attr(tb, "#credential-apiSecret-state", "textContent"); state != "Set" {
		t.Errorf("credential state %q", state)
	}
	if html := eval[string](tb, root+`.innerHTML`); strings.Contains(html, apiSecret) {
		t.Error("the credential is in the page")
	}
	var agent struct {
		Enabled        bool
		Settings       map[string]string
		CredentialsSet []string
	}
	s.call(t, "GET", "/v1/agents/fortellis", dealer, nil, nil).decode(t, &agent)
	if !agent.Enabled || agent.Settings["subscriptionId"] != "sub-42" || !slices.Equal(agent.CredentialsSet, []string{"apiKey", "apiSecret"}) {
		t.Errorf("the API has %+v", agent)
	}
	tb.screenshot("agent")

	tb.click(button("← All integration agents"))
	tb.waitFor("Fortellis shown as enabled", root+`.querySelector('[data-platform="fortellis"] .badge.ok')`)

	// Removing the configuration asks first, then erases settings and credentials.
	tb.click(in(`[data-platform="fortellis"]`, "button"))
	tb.click(button("Remove configuration"))
	tb.waitFor("the confirmation dialog", root+`.querySelector("dialog[open]")`)
	tb.click(q("[data-confirm]"))
	tb.waitFor("the removal notice", root+`.querySelector(".notice.success")?.textContent.includes("settings and credentials are erased")`)
	var removed struct {
		Enabled        bool
		Settings       map[string]string
		CredentialsSet []string
		UpdatedAt      *string
	}
	s.call(t, "GET", "/v1/agents/fortellis", dealer, nil, nil).decode(t, &removed)
	if removed.Enabled || len(removed.CredentialsSet) != 0 || len(removed.Settings) != 0 || removed.UpdatedAt != nil {
		t.Errorf("after removal the API has %+v", removed)
	}
}

func subscriptionSecretAndTestEvent(t *testing.T, s *suite) {
	const dealer = "dlr_subs"
	endpoint := newReceiver(t, http.StatusOK, "ok")
	tb := s.open(t, dealer, "&tab=subscriptions")
	tb.waitText("No event subscriptions yet")

	tb.click(button("Create your first subscription"))
	tb.waitFor("the form", root+`.querySelector("#sub-url")`)
	tb.waitText("A contact replies to a sequence message") // the catalog's descriptions
	for _, group := range []string{"Lead events", "Appointment events", "Contact events", "Conversation events", "Sequence events"} {
		tb.waitText(group)
	}
	if n := eval[int](tb, root+`.querySelectorAll('input[name="event"]').length`); n != 23+5+1 {
		t.Errorf("the picker offers %d filters, want 23 types, 5 groups and *", n)
	}
	tb.fill(q("#sub-url"), endpoint.URL+"/hooks/dealerai")
	tb.fill(q("#sub-desc"), "Lead router")
	tb.click(q(`input[value="lead.*"]`))
	if attr(tb, `input[value="lead.created"]`, "checked") != "true" || attr(tb, `input[value="lead.created"]`, "disabled") != "true" {
		t.Error("lead.* does not cover lead.created in the picker")
	}
	tb.screenshot("subscription-new")
	tb.click(button("Create subscription"))
	tb.waitText("Subscription created.")

	var list struct{ Items []subscriptionView }
	s.call(t, "GET", "/v1/subscriptions", dealer, nil, nil).decode(t, &list)
	if len(list.Items) != 1 || !slices.Equal(list.Items[0].Events, []string{"lead.*"}) || list.Items[0].Description != "Lead router" {
		t.Fatalf("the API has %+v", list.Items)
	}
	id := list.Items[0].ID
	secretOf := func() (secret, previous string) {
		var v struct{ Secret, PreviousSecret string }
		s.call(t, "GET", "/v1/subscriptions/"+id+"/secret", dealer, nil, nil).decode(t, &v)
		return v.Secret, v.PreviousSecret
	}
	first, _ := secretOf()

	// The secret is masked until revealed.
	if html := eval[string](tb, root+`.innerHTML`); strings.Contains(html, first) || !strings.Contains(attr(tb, `[data-role="secret"]`, "textContent"), "•••") {
		t.Error("the secret is shown before it was revealed")
	}
	tb.click(button("Reveal"))
	tb.waitFor("the revealed secret", fmt.Sprintf(`%s.textContent === %q`, q(`[data-role="secret"]`), first))
	tb.click(button("Copy"))
	tb.waitText("copied to the clipboard")

	// Rotation asks first, and says the old secret signs for 24 hours.
	tb.click(button("Rotate secret"))
	tb.waitFor("the confirmation dialog", root+`.querySelector("dialog[open]")`)
	if !strings.Contains(attr(tb, "dialog", "textContent"), "24 hours") {
		t.Errorf("the dialog says %q", attr(tb, "dialog", "textContent"))
	}
	tb.click(q("[data-confirm]"))
	tb.waitText("The previous secret still signs deliveries for 24 hours")
	second, previous := secretOf()
	if second == first || previous != first {
		t.Errorf("after rotation the API has secret %q previous %q (first %q)", second, previous, first)
	}
	tb.click(button("Reveal"))
	tb.waitFor("the new secret", fmt.Sprintf(`%s.textContent === %q`, q(`[data-role="secret"]`), second))
	tb.waitText("The previous secret also signs deliveries until")
	tb.click(button("Hide"))

	// A leaked secret: rotating with "Revoke now" stops the old one at once.
	tb.click(button("Revoke now…"))
	tb.waitFor("the revocation dialog", root+`.querySelector("dialog[open]")?.textContent.includes("stops at once")`)
	tb.click(q("[data-confirm]"))
	tb.waitText("the previous one is revoked")
	if third, previous := secretOf(); third == second || previous != "" {
		t.Errorf("after revoking the API has secret %q previous %q (second %q)", third, previous, second)
	}

	// A test event goes through the pipeline to the endpoint and shows as succeeded.
	tb.selectOption(q("#test-type"), "lead.created")
	tb.click(button("Send test event"))
	tb.waitText("A test lead.created event is on its way")
	tb.waitFor("the delivery to succeed", root+`.querySelector('tr[data-status="succeeded"]')`)
	if endpoint.requests() != 1 {
		t.Errorf("the endpoint got %d requests", endpoint.requests())
	}
	tb.click(in(`tr[data-status="succeeded"]`, "button"))
	tb.waitFor("the attempt", root+`.querySelector('tr[data-attempt="1"]')?.textContent.includes("200")`)
	tb.screenshot("subscription")
}

func failingEndpointAndRetry(t *testing.T, s *suite) {
	const dealer = "dlr_fail"
	// The endpoint answers with markup: attacker-controlled text the page must show as text.
	const attack = `<img src=x onerror="document.title='pwned'">`
	endpoint := newReceiver(t, http.StatusInternalServerError, attack)
	s.subscribe(t, dealer, endpoint.URL, "lead.*")
	tb := s.open(t, dealer, "&tab=subscriptions")
	tb.click(button("Open"))
	tb.waitFor("the test event form", root+`.querySelector("#test-type")`)
	tb.selectOption(q("#test-type"), "lead.received")
	tb.click(button("Send test event"))

	// The delivery fails after the first attempt and three retries.
	tb.waitFor("the delivery to fail", root+`.querySelector('tr[data-status="failed"]')`)
	if got := eval[string](tb, root+`.querySelector('tr[data-status="failed"] td:nth-child(3)').textContent.trim()`); got != "4" || endpoint.requests() != 4 {
		t.Errorf("attempts shown %s, endpoint got %d requests", got, endpoint.requests())
	}
	tb.click(button("Show attempts"))
	tb.waitFor("four attempts", root+`.querySelector('tr[data-attempt="4"]')`)
	if n := eval[int](tb, root+`.querySelectorAll("img").length + document.querySelectorAll("img").length`); n != 0 {
		t.Errorf("the response snippet became %d img elements", n)
	}
	if !eval[bool](tb, fmt.Sprintf(`[...%s.querySelectorAll("pre.snippet")].some((p) => p.textContent === %q)`, root, attack)) {
		t.Error("the response snippet is not shown as text")
	}
	if title := eval[string](tb, "document.title"); title == "pwned" {
		t.Error("the snippet's script ran")
	}
	for _, want := range []string{"500", "ms"} {
		if !strings.Contains(attr(tb, `tr[data-attempt="4"]`, "textContent"), want) {
			t.Errorf("attempt 4 does not show %q: %s", want, attr(tb, `tr[data-attempt="4"]`, "textContent"))
		}
	}
	tb.screenshot("delivery-failed")

	// The status filter asks the API for one status.
	tb.selectOption(q(`[data-role="status-filter"]`), "succeeded")
	tb.waitText("No succeeded deliveries.")
	tb.selectOption(q(`[data-role="status-filter"]`), "failed")
	tb.waitFor("the failed delivery", root+`.querySelector('tr[data-status="failed"]')`)
	tb.selectOption(q(`[data-role="status-filter"]`), "")

	// The endpoint is fixed; a retry delivers the event again.
	endpoint.answer(http.StatusOK, "thanks")
	tb.waitFor("the failed delivery", root+`.querySelector('tr[data-status="failed"]')`)
	tb.click(button("Retry"))
	tb.waitText("Retry queued")
	tb.waitFor("the retry to succeed", root+`.querySelector('tr[data-status="succeeded"]')?.textContent.includes("retry of dlv_")`)
}

func conflictDisabledReasonAndDelete(t *testing.T, s *suite) {
	const dealer = "dlr_conflict"
	endpoint := newReceiver(t, http.StatusOK, "ok")
	sub := s.subscribe(t, dealer, endpoint.URL, "appointment.created")
	tb := s.open(t, dealer, "&tab=subscriptions")
	tb.click(button("Open"))
	tb.click(button("Edit"))
	tb.waitFor("the edit form", fmt.Sprintf(`%s?.value === %q`, q("#sub-url"), endpoint.URL))

	// Someone else changes the subscription while this form is open.
	if r := s.call(t, "PATCH", "/v1/subscriptions/"+sub.ID, dealer, map[string]any{"description": "changed elsewhere"}, nil); r.status != http.StatusOK {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	tb.fill(q("#sub-desc"), "my edit")
	tb.click(button("Save changes"))
	tb.waitText("Someone else changed this")
	tb.waitFor("the latest version in the form", fmt.Sprintf(`%s.value === "changed elsewhere"`, q("#sub-desc")))
	tb.fill(q("#sub-desc"), "my edit")
	tb.click(button("Save changes"))
	tb.waitText("Your changes are saved.")
	var got subscriptionView
	s.call(t, "GET", "/v1/subscriptions/"+sub.ID, dealer, nil, nil).decode(t, &got)
	if got.Description != "my edit" {
		t.Errorf("description %q", got.Description)
	}

	// A subscription the system disabled shows why; enabling it is one click.
	const reason = "the endpoint answered 410 Gone; deliveries stopped"
	if err := s.subs.Disable(context.Background(), dealer, sub.ID, reason); err != nil {
		t.Fatal(err)
	}
	tb.click(button("← All event subscriptions"))
	tb.waitText(reason)
	tb.click(button("Open"))
	tb.waitText("Disabled: " + reason)
	tb.click(button("Enable"))
	tb.waitText("The subscription is enabled")
	s.call(t, "GET", "/v1/subscriptions/"+sub.ID, dealer, nil, nil).decode(t, &got)
	if !got.Enabled {
		t.Error("not enabled in the API")
	}

	// Delete asks first; Cancel keeps it.
	tb.click(button("Delete"))
	tb.waitFor("the confirmation dialog", root+`.querySelector("dialog[open]")`)
	tb.click(q("[data-cancel]"))
	tb.waitFor("the dialog to close", "!"+root+`.querySelector("dialog[open]")`)
	if r := s.call(t, "GET", "/v1/subscriptions/"+sub.ID, dealer, nil, nil); r.status != http.StatusOK {
		t.Fatalf("cancelled delete: %d", r.status)
	}
	tb.click(button("Delete"))
	tb.click(q("[data-confirm]"))
	tb.waitText("is deleted")
	tb.waitText("No event subscriptions yet")
	if r := s.call(t, "GET", "/v1/subscriptions/"+sub.ID, dealer, nil, nil); r.status != http.StatusNotFound {
		t.Errorf("after delete: %d", r.status)
	}
}

func keyboardOnlyCreate(t *testing.T, s *suite) {
	const dealer = "dlr_keys"
	endpoint := newReceiver(t, http.StatusOK, "ok")
	tb := s.open(t, dealer, "")
	tb.waitText("VinSolutions")

	tb.tabTo("the Integration agents tab", `a.id === "tab-agents"`)
	tb.press(kb.ArrowRight)
	tb.waitText("No event subscriptions yet")
	if id := eval[string](tb, activeElement+`?.id`); id != "tab-subscriptions" {
		t.Errorf("the focus is on %q after the arrow key", id)
	}
	tb.tabTo("New subscription", `a.textContent.trim() === "New subscription"`)
	tb.press(kb.Enter)
	tb.waitFor("the form", root+`.querySelector("#sub-url")`)
	tb.tabTo("the URL field", `a.id === "sub-url"`)
	tb.press(endpoint.URL + "/keyboard")
	tb.tabTo("the lead.* box", `a.value === "lead.*"`)
	tb.press(" ")
	tb.tabTo("Create subscription", `a.textContent.trim() === "Create subscription"`)
	tb.press(kb.Enter)
	tb.waitText("Subscription created.")

	var list struct{ Items []subscriptionView }
	s.call(t, "GET", "/v1/subscriptions", dealer, nil, nil).decode(t, &list)
	if len(list.Items) != 1 || list.Items[0].URL != endpoint.URL+"/keyboard" || !slices.Equal(list.Items[0].Events, []string{"lead.*"}) {
		t.Errorf("the API has %+v", list.Items)
	}
}

func pagination(t *testing.T, s *suite) {
	const dealer = "dlr_pages"
	endpoint := newReceiver(t, http.StatusOK, "ok")
	s.subscribe(t, dealer, endpoint.URL+"/crm", "lead.*", "appointment.*")
	s.subscribe(t, dealer, endpoint.URL+"/bi", "*")
	s.subscribe(t, dealer, endpoint.URL+"/sequences", "sequence.step.*", "sequence.enrollment.created")
	tb := s.open(t, dealer, "&tab=subscriptions&pageSize=2")
	tb.waitFor("the first page", root+`.querySelectorAll("tr[data-subscription]").length === 2`)
	tb.click(button("Load more subscriptions"))
	tb.waitFor("the second page", root+`.querySelectorAll("tr[data-subscription]").length === 3`)
	tb.waitFor("no more pages", "!"+string(button("Load more subscriptions")))
	tb.screenshot("subscriptions")

	// The dark theme keeps its contrast (the screenshot checks accessibility first).
	dark := s.open(t, dealer, "&tab=subscriptions&theme=dark")
	dark.waitFor("the list", root+`.querySelectorAll("tr[data-subscription]").length === 3`)
	if got := eval[string](dark, `document.querySelector("dealerai-integrations").getAttribute("theme")`); got != "dark" {
		t.Errorf("theme attribute %q", got)
	}
	dark.screenshot("subscriptions-dark")
}

func strictContentSecurityPolicy(t *testing.T, s *suite) {
	resp, err := http.Get(s.pageURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"script-src 'self'", "style-src 'self'", "connect-src 'self' " + s.apiURL, "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	}
	// The violation check of every test works: an inline script is refused and reported.
	tb := s.open(t, "dlr_csp", "")
	tb.waitText("VinSolutions")
	eval[chromedp.Void](tb, `(() => { const s = document.createElement("script"); s.textContent = "window.__ran = true"; document.body.append(s); })()`)
	tb.waitFor("the violation report", `window.__csp.length > 0`)
	if eval[bool](tb, `window.__ran === true`) {
		t.Error("an inline script ran under the page's CSP")
	}
	eval[chromedp.Void](tb, `window.__csp = []`)
}

// planAndSync: a platform outside the dealer's plan is shown as such and cannot be enabled;
// an agent with a change feed shows its sync and runs it on request.
func planAndSync(t *testing.T, s *suite) {
	const dealer = "dlr_plan"
	if r := s.admin(t, "PUT", "/v1/admin/dealers/"+dealer+"/entitlements", map[string]any{"platforms": []string{"dealersocket"}}); r.status != http.StatusOK {
		t.Fatalf("set the plan: %d %s", r.status, r.body)
	}
	put := map[string]any{
		"enabled":  true,
		"settings": map[string]string{"vendorName": "Austin Toyota", "dealerNumberId": "ds-123"},
		"credentials": map[string]string{"directLeadKey": "ds-key-7b", "username": "ds-user", "password": "ds-pass-3c",
			"publicKey": "ds-public-5d", "secretKey": "ds-secret-9e"},
	}
	if r := s.call(t, "PUT", "/v1/agents/dealersocket", dealer, put, nil); r.status != http.StatusOK {
		t.Fatalf("configure DealerSocket: %d %s", r.status, r.body)
	}

	tb := s.open(t, dealer, "")
	tb.waitFor("XTime marked as outside the plan", root+`.querySelector('[data-platform="xtime"]')?.textContent.includes("Not in your plan")`)
	if strings.Contains(eval[string](tb, root+`.querySelector('[data-platform="dealersocket"]')?.textContent ?? ""`), "Not in your plan") {
		t.Error("DealerSocket, in the plan, is marked as outside it")
	}

	tb.click(in(`[data-platform="xtime"]`, "button"))
	tb.waitText("Not in your plan.")
	if attr(tb, `input[name="enabled"]`, "disabled") != "true" {
		t.Error("the Enabled box of a platform outside the plan can be ticked")
	}
	if attr(tb, `button[type="submit"]`, "disabled") != "true" {
		t.Error("the Save button of a platform outside the plan can be pressed")
	}
	// The API says the same to a caller who goes around the page.
	xtime := map[string]any{"enabled": true, "settings": map[string]string{}, "credentials": map[string]string{}}
	if r := s.call(t, "PUT", "/v1/agents/xtime", dealer, xtime, nil); r.status != http.StatusForbidden {
		t.Errorf("enabling XTime outside the plan: %d %s", r.status, r.body)
	}
	tb.screenshot("agent-not-in-plan")

	tb.click(button("← All integration agents"))
	tb.click(in(`[data-platform="dealersocket"]`, "button"))
	tb.waitFor("the sync section", root+`.querySelector("#sync-title")?.textContent.includes("Sync from DealerSocket")`)
	tb.waitText("Next run")
	tb.click(button("Sync now"))
	tb.waitText("Sync started.")
	var sync struct{ State string }
	s.call(t, "GET", "/v1/agents/dealersocket/sync", dealer, nil, nil).decode(t, &sync)
	if sync.State == "" {
		t.Error("the API shows no sync state after Sync now")
	}
	tb.checkAccessibility("agent with sync")
}

// openCircuit: a subscription whose endpoint's circuit breaker is open says so, with the
// failure that opened it (as text) and when the next try goes; so does an agent whose circuit
// is open.
func openCircuit(t *testing.T, s *suite) {
	const dealer = "dlr_circuit"
	endpoint := newReceiver(t, http.StatusOK, "ok")
	sub := s.subscribe(t, dealer, endpoint.URL, "lead.created")
	opened, retry := time.Now().Add(-2*time.Minute), time.Now().Add(3*time.Minute)
	const lastError = `HTTP 503 <img src=x onerror="window.pwned=1">`
	circuits := &circuit.Store{DB: s.env.DynamoDB, Table: s.cfg.ConfigTable}
	state := circuit.State{State: circuit.Open, Failures: 5, OpenedAt: &opened, RetryAt: &retry, Cooldown: time.Minute,
		LastError: lastError, UpdatedAt: opened, Version: 1}
	if err := circuits.Put(context.Background(), dealer, deliveryq.Target{Kind: deliveryq.KindSubscription, ID: sub.ID}, state, 0); err != nil {
		t.Fatal(err)
	}
	var got struct{ Circuit *struct{ State string } }
	s.call(t, "GET", "/v1/subscriptions/"+sub.ID, dealer, nil, nil).decode(t, &got)
	if got.Circuit == nil || got.Circuit.State != circuit.Open {
		t.Fatalf("the API shows the circuit as %+v", got.Circuit)
	}

	tb := s.open(t, dealer, "&tab=subscriptions")
	tb.click(button("Open"))
	tb.waitFor("the circuit", root+`.querySelector('[data-role="circuit"]')?.textContent.includes("Open — the endpoint keeps failing")`)
	if text := attr(tb, `[data-role="circuit-error"]`, "textContent"); !strings.Contains(text, lastError) {
		t.Errorf("the last error shows as %q", text)
	}
	if eval[bool](tb, `window.pwned === 1`) || eval[bool](tb, root+`.querySelector('[data-role="circuit-error"] img') !== null`) {
		t.Error("the endpoint's error text became markup")
	}
	tb.waitText("Next try")
	tb.checkAccessibility("subscription with an open circuit")

	// An agent's circuit (its deliveries to the platform's API) shows on the agent when open.
	agentState := circuit.State{State: circuit.Open, Failures: 5, OpenedAt: &opened, RetryAt: &retry, Cooldown: time.Minute,
		LastError: "HTTP 503 from the platform", UpdatedAt: opened, Version: 1}
	if err := circuits.Put(context.Background(), dealer, deliveryq.Target{Kind: deliveryq.KindAgent, ID: "vinsolutions"}, agentState, 0); err != nil {
		t.Fatal(err)
	}
	agents := s.open(t, dealer, "")
	agents.click(in(`[data-platform="vinsolutions"]`, "button"))
	agents.waitFor("the agent's circuit", root+`.querySelector('[data-role="circuit"]')?.textContent.includes("Open — the endpoint keeps failing")`)
	if text := attr(agents, `[data-role="circuit-error"]`, "textContent"); !strings.Contains(text, "HTTP 503 from the platform") {
		t.Errorf("the agent's last error shows as %q", text)
	}
}

// recoverSince: an endpoint that was down; "Recover" queues its failed deliveries again once,
// and each original then shows the retry made of it instead of a Retry button.
func recoverSince(t *testing.T, s *suite) {
	const dealer = "dlr_recover"
	endpoint := newReceiver(t, http.StatusServiceUnavailable, "down for maintenance")
	sub := s.subscribe(t, dealer, endpoint.URL, "lead.*")
	for _, typ := range []string{"lead.created", "lead.received"} {
		if r := s.call(t, "POST", "/v1/subscriptions/"+sub.ID+"/test", dealer, map[string]string{"eventType": typ}, nil); r.status != http.StatusAccepted {
			t.Fatalf("test send: %d %s", r.status, r.body)
		}
	}
	tb := s.open(t, dealer, "&tab=subscriptions")
	tb.click(button("Open"))
	tb.waitFor("both deliveries to fail", root+`.querySelectorAll('tr[data-status="failed"]').length === 2`)
	failedRequests := endpoint.requests()

	endpoint.answer(http.StatusOK, "back")
	since := time.Now().Add(-time.Hour).Format("2006-01-02T15:04")
	eval[chromedp.Void](tb, fmt.Sprintf(`(() => { %s.value = %q; })()`, q("#dl-since"), since))
	tb.click(button("Recover"))
	tb.waitText("2 failed deliveries since")
	tb.waitFor("both retries to succeed", `[...`+root+`.querySelectorAll('tr[data-status="succeeded"]')].filter((r) => r.textContent.includes("retry of dlv_")).length === 2`)
	if got := endpoint.requests() - failedRequests; got != 2 {
		t.Errorf("the endpoint got %d requests after the recovery, want 2", got)
	}
	if n := eval[int](tb, root+`.querySelectorAll('tr[data-status="failed"] button').length - `+root+`.querySelectorAll('tr[data-status="failed"] button[aria-expanded]').length`); n != 0 {
		t.Errorf("%d recovered deliveries still offer Retry", n)
	}
	tb.waitFor("the originals naming their retries", root+`.querySelectorAll('tr[data-status="failed"]')[0]?.textContent.includes("retried as")`)

	// Recovering again queues nothing: each failed delivery is recovered once.
	tb.click(button("Recover"))
	tb.waitText("No failed deliveries since")
	tb.checkAccessibility("delivery log after a recovery")
}
