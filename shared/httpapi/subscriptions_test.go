package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/subscriptions"
)

func TestSubscriptionCRUD(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")

	r := at.do("POST", "/v1/subscriptions", tok, map[string]any{
		"url": "https://hooks.example.com/dealerai", "events": []string{"lead.*", "appointment.created"},
		"description": "CRM bridge",
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	var created struct {
		ID, URL, Description, Status, Secret string
		Events                               []string
		Enabled                              bool
		DisabledReason                       *string
		CreatedAt, UpdatedAt                 time.Time
	}
	r.json(t, &created)
	if !strings.HasPrefix(created.Secret, "whsec_") || !strings.HasPrefix(created.ID, "sub_") || !created.Enabled ||
		created.Status != "active" || created.DisabledReason != nil || created.CreatedAt.IsZero() || len(created.Events) != 2 {
		t.Fatalf("created: %s", r.body)
	}
	if r.header.Get("ETag") != `"1"` || r.header.Get("Location") != "/v1/subscriptions/"+created.ID {
		t.Fatalf("create headers: %v", r.header)
	}
	path := "/v1/subscriptions/" + created.ID

	r = at.do("GET", path, tok, nil)
	if r.status != http.StatusOK || r.header.Get("ETag") != `"1"` {
		t.Fatalf("get: %d %v %s", r.status, r.header, r.body)
	}
	if strings.Contains(string(r.body), "secret") || strings.Contains(string(r.body), created.Secret) {
		t.Fatalf("get shows the secret: %s", r.body)
	}
	var got map[string]any
	r.json(t, &got)
	if got["url"] != "https://hooks.example.com/dealerai" || got["description"] != "CRM bridge" {
		t.Fatalf("get: %s", r.body)
	}

	r = at.do("GET", "/v1/subscriptions", tok, nil)
	if r.status != http.StatusOK || strings.Contains(string(r.body), created.Secret) || strings.Contains(string(r.body), "secret") {
		t.Fatalf("list: %d %s", r.status, r.body)
	}
	var list struct {
		Items      []map[string]any
		NextCursor *string
	}
	r.json(t, &list)
	if len(list.Items) != 1 || list.Items[0]["id"] != created.ID || list.NextCursor != nil {
		t.Fatalf("list: %s", r.body)
	}

	// a merge patch: description cleared, events and enabled changed, url kept
	r = at.do("PATCH", path, tok, `{"description": null, "events": ["*"], "enabled": false}`,
		header{"Content-Type", "application/merge-patch+json"}, header{"If-Match", `"1"`})
	if r.status != http.StatusOK || r.header.Get("ETag") != `"2"` {
		t.Fatalf("patch: %d %s", r.status, r.body)
	}
	r.json(t, &got)
	if got["description"] != "" || got["enabled"] != false || got["status"] != "disabled" ||
		got["url"] != "https://hooks.example.com/dealerai" || fmt.Sprint(got["events"]) != "[*]" {
		t.Fatalf("after patch: %s", r.body)
	}
	r = at.do("PATCH", path, tok, `{"enabled": true, "url": "https://crm.example.net/in"}`)
	r.json(t, &got)
	if r.status != http.StatusOK || got["status"] != "active" || got["url"] != "https://crm.example.net/in" {
		t.Fatalf("patch with application/json: %d %s", r.status, r.body)
	}
	// an empty patch changes nothing
	if r = at.do("PATCH", path, tok, `{}`); r.status != http.StatusOK || r.header.Get("ETag") != `"3"` {
		t.Fatalf("empty patch: %d %v %s", r.status, r.header, r.body)
	}

	r = at.do("GET", path+"/secret", tok, nil)
	var secret map[string]string
	r.json(t, &secret)
	if r.status != http.StatusOK || secret["secret"] != created.Secret || len(secret) != 1 {
		t.Fatalf("secret: %d %s", r.status, r.body)
	}

	if r = at.do("DELETE", path, tok, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	at.do("GET", path, tok, nil).problem(t, http.StatusNotFound)
	at.do("DELETE", path, tok, nil).problem(t, http.StatusNotFound)
	at.do("GET", "/v1/subscriptions/not-an-id", tok, nil).problem(t, http.StatusNotFound)
}

// TestPATCHReenablesAfterGone: a subscription the pipeline disabled (410) is reactivated by
// PATCH {"enabled": true}, which clears the reason.
func TestPATCHReenablesAfterGone(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	sub := at.create("dlr_1", nil)
	id := sub["id"].(string)
	if err := at.store.Disable(context.Background(), "dlr_1", id, "endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	at.do("GET", "/v1/subscriptions/"+id, tok, nil).json(t, &got)
	if got["status"] != "disabled" || got["enabled"] != false || got["disabledReason"] != "endpoint answered 410 Gone" {
		t.Fatalf("disabled: %v", got)
	}
	at.do("PATCH", "/v1/subscriptions/"+id, tok, `{"enabled": true}`).json(t, &got)
	if got["status"] != "active" || got["enabled"] != true || got["disabledReason"] != nil {
		t.Fatalf("re-enabled: %v", got)
	}
}

func TestPagination(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	want := map[string]bool{}
	for range 7 {
		want[at.create("dlr_1", nil)["id"].(string)] = true
	}
	at.create("dlr_2", nil)

	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		path := "/v1/subscriptions?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		r := at.do("GET", path, tok, nil)
		if r.status != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, r.status, r.body)
		}
		var page struct {
			Items []struct {
				ID string
			}
			NextCursor *string
		}
		r.json(t, &page)
		pages++
		for _, it := range page.Items {
			if seen[it.ID] || !want[it.ID] {
				t.Fatalf("unexpected or repeated item %s", it.ID)
			}
			seen[it.ID] = true
		}
		if page.NextCursor == nil {
			break
		}
		cursor = *page.NextCursor
	}
	if pages != 3 || len(seen) != 7 {
		t.Fatalf("%d pages, %d items; want 3 and 7", pages, len(seen))
	}

	for _, q := range []string{"limit=0", "limit=101", "limit=abc", "limit=", "limit=1&limit=2"} {
		if p := at.do("GET", "/v1/subscriptions?"+q, tok, nil).problem(t, http.StatusBadRequest); !hasField(p, "limit") {
			t.Errorf("?%s: errors %v, want field limit", q, p.Errors)
		}
	}
	for _, q := range []string{"cursor=%21%21", "cursor=", "cursor=c3ViXzAx"} {
		if p := at.do("GET", "/v1/subscriptions?"+q, tok, nil).problem(t, http.StatusBadRequest); !hasField(p, "cursor") {
			t.Errorf("?%s: errors %v, want field cursor", q, p.Errors)
		}
	}
	if r := at.do("GET", "/v1/subscriptions?limit=100", tok, nil); r.status != http.StatusOK {
		t.Fatalf("limit=100: %d", r.status)
	}
}

func TestValidation(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	long := "https://hooks.example.com/" + strings.Repeat("a", 2048)
	cases := []struct {
		name   string
		body   string
		status int
		field  string
	}{
		{"malformed JSON", `{"url": `, 400, ""},
		{"not an object", `["https://hooks.example.com"]`, 400, ""},
		{"null body", `null`, 400, ""},
		{"empty body", ``, 400, ""},
		{"trailing data", `{"url":"https://hooks.example.com/x","events":["*"]} {}`, 400, ""},
		{"unknown field", `{"url":"https://hooks.example.com/x","events":["*"],"secret":"whsec_AAAA"}`, 400, "secret"},
		{"field name case", `{"URL":"https://hooks.example.com/x","events":["*"]}`, 400, "URL"},
		{"url missing", `{"events":["*"]}`, 422, "url"},
		{"url null", `{"url":null,"events":["*"]}`, 422, "url"},
		{"url not a string", `{"url":42,"events":["*"]}`, 422, "url"},
		{"url http", `{"url":"http://hooks.example.com/x","events":["*"]}`, 422, "url"},
		{"url relative", `{"url":"/hooks","events":["*"]}`, 422, "url"},
		{"url userinfo", `{"url":"https://user:pw@hooks.example.com/x","events":["*"]}`, 422, "url"},
		{"url too long", `{"url":"` + long + `","events":["*"]}`, 422, "url"},
		{"url does not resolve", `{"url":"https://nowhere.example.org/x","events":["*"]}`, 422, "url"},
		{"events missing", `{"url":"https://hooks.example.com/x"}`, 422, "events"},
		{"events empty", `{"url":"https://hooks.example.com/x","events":[]}`, 422, "events"},
		{"events not an array", `{"url":"https://hooks.example.com/x","events":"lead.created"}`, 422, "events"},
		{"events element not a string", `{"url":"https://hooks.example.com/x","events":["lead.created", 7]}`, 422, "events[1]"},
		{"unknown event type", `{"url":"https://hooks.example.com/x","events":["lead.created","lead.deleted"]}`, 422, "events[1]"},
		{"bad wildcard", `{"url":"https://hooks.example.com/x","events":["lead.cre*"]}`, 422, "events[0]"},
		{"wildcard matching nothing", `{"url":"https://hooks.example.com/x","events":["invoice.*"]}`, 422, "events[0]"},
		{"duplicate event", `{"url":"https://hooks.example.com/x","events":["lead.*","lead.created","lead.*"]}`, 422, "events[2]"},
		{"description too long", `{"url":"https://hooks.example.com/x","events":["*"],"description":"` + strings.Repeat("é", 501) + `"}`, 422, "description"},
		{"description not a string", `{"url":"https://hooks.example.com/x","events":["*"],"description":["a"]}`, 422, "description"},
		{"enabled not a boolean", `{"url":"https://hooks.example.com/x","events":["*"],"enabled":"true"}`, 422, "enabled"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := at.do("POST", "/v1/subscriptions", tok, c.body).problem(t, c.status)
			if c.field != "" && !hasField(p, c.field) {
				t.Fatalf("errors %v, want field %q", p.Errors, c.field)
			}
		})
	}

	// the limits themselves are accepted
	at.create("dlr_1", map[string]any{"url": "https://hooks.example.com/" + strings.Repeat("a", 2048-26),
		"events": []string{"*"}, "description": strings.Repeat("é", 500), "enabled": nil})

	// media types and size
	at.do("POST", "/v1/subscriptions", tok, `{"url":"https://hooks.example.com/x","events":["*"]}`,
		header{"Content-Type", "text/plain"}).problem(t, http.StatusUnsupportedMediaType)
	at.do("POST", "/v1/subscriptions", tok, `url=https://hooks.example.com/x`,
		header{"Content-Type", "application/x-www-form-urlencoded"}).problem(t, http.StatusUnsupportedMediaType)
	if r := at.do("POST", "/v1/subscriptions", tok, `{"url":"https://hooks.example.com/x","events":["*"]}`,
		header{"Content-Type", "application/json; charset=utf-8"}); r.status != http.StatusCreated {
		t.Fatalf("json with charset: %d %s", r.status, r.body)
	}
	if r := at.do("POST", "/v1/subscriptions", tok, `{"url":"https://hooks.example.com/x","events":["*"]}`,
		header{"Content-Type", ""}); r.status != http.StatusCreated {
		t.Fatalf("no content type: %d %s", r.status, r.body)
	}
	huge := `{"url":"https://hooks.example.com/x","events":["*"],"description":"` + strings.Repeat("a", 64<<10) + `"}`
	at.do("POST", "/v1/subscriptions", tok, huge).problem(t, http.StatusRequestEntityTooLarge)

	// PATCH: the same rules, and null only for description
	id := at.create("dlr_1", nil)["id"].(string)
	patches := []struct {
		body   string
		status int
		field  string
	}{
		{`{"url": null}`, 422, "url"},
		{`{"events": null}`, 422, "events"},
		{`{"enabled": null}`, 422, "enabled"},
		{`{"events": []}`, 422, "events"},
		{`{"events": ["lead.created", "lead.created"]}`, 422, "events[1]"},
		{`{"url": "https://10.0.0.5/x"}`, 422, "url"},
		{`{"description": 5}`, 422, "description"},
		{`{"id": "sub_x"}`, 400, "id"},
		{`{"status": "active"}`, 400, "status"},
		{`[]`, 400, ""},
		{`{"enabled": true}x`, 400, ""},
	}
	for _, c := range patches {
		p := at.do("PATCH", "/v1/subscriptions/"+id, tok, c.body).problem(t, c.status)
		if c.field != "" && !hasField(p, c.field) {
			t.Errorf("PATCH %s: errors %v, want field %q", c.body, p.Errors, c.field)
		}
	}
	at.do("PATCH", "/v1/subscriptions/"+id, tok, `{"enabled": false}`, header{"Content-Type", "text/plain"}).
		problem(t, http.StatusUnsupportedMediaType)
	at.do("PATCH", "/v1/subscriptions/"+id, tok, `{"description":"`+strings.Repeat("a", 70000)+`"}`).
		problem(t, http.StatusRequestEntityTooLarge)
}

// TestPrivateURLsRefused: IP literals and names that resolve to internal addresses.
func TestPrivateURLsRefused(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	for _, url := range []string{
		"https://10.0.0.5/hook", "https://127.0.0.1/hook", "https://169.254.169.254/latest/meta-data",
		"https://[::1]/hook", "https://[::ffff:10.0.0.5]/hook", "https://2130706433/hook", "https://0x7f.1/hook",
		"https://192.168.1.10:8443/hook", "https://100.64.0.1/hook", "https://[fd00::1]/hook",
		"https://internal.example.com/hook", "https://loopback.example.com/hook",
		"https://metadata.example.com/latest/meta-data", "https://mixed.example.com/hook",
	} {
		p := at.do("POST", "/v1/subscriptions", tok, map[string]any{"url": url, "events": []string{"*"}}).problem(t, http.StatusUnprocessableEntity)
		if !hasField(p, "url") {
			t.Errorf("%s: errors %v, want field url", url, p.Errors)
		}
	}
	id := at.create("dlr_1", nil)["id"].(string)
	for _, url := range []string{"https://metadata.example.com/x", "https://127.0.0.1/x"} {
		if p := at.do("PATCH", "/v1/subscriptions/"+id, tok, map[string]any{"url": url}).problem(t, 422); !hasField(p, "url") {
			t.Errorf("PATCH %s: errors %v", url, p.Errors)
		}
	}
	// public addresses are fine, IPv6 included
	at.create("dlr_1", map[string]any{"url": "https://crm.example.net/hook", "events": []string{"*"}})
	at.create("dlr_1", map[string]any{"url": "https://93.184.215.14:8443/hook", "events": []string{"*"}})
}

// TestDealerIsolation: dealer A can do nothing to dealer B's subscriptions; it sees 404s.
func TestDealerIsolation(t *testing.T) {
	at := newAPITest(t)
	theirs := at.create("dlr_B", nil)
	id := theirs["id"].(string)
	rec := at.seedDelivery("dlr_B", id, "failed")
	a := at.token("dlr_A")
	base := "/v1/subscriptions/" + id
	for _, req := range []struct{ method, path, body string }{
		{"GET", base, ""},
		{"PATCH", base, `{"enabled": false}`},
		{"DELETE", base, ""},
		{"GET", base + "/secret", ""},
		{"POST", base + "/rotate-secret", ""},
		{"POST", base + "/test", `{"eventType": "lead.created"}`},
		{"GET", base + "/deliveries", ""},
		{"GET", base + "/deliveries/" + rec, ""},
		{"POST", base + "/deliveries/" + rec + "/retry", ""},
	} {
		var body any
		if req.body != "" {
			body = req.body
		}
		at.do(req.method, req.path, a, body).problem(t, http.StatusNotFound)
	}
	var list struct{ Items []any }
	at.do("GET", "/v1/subscriptions", a, nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("dealer A lists %d subscriptions of B", len(list.Items))
	}
	// B's subscription is untouched
	var got map[string]any
	r := at.do("GET", base, at.token("dlr_B"), nil)
	r.json(t, &got)
	if r.status != 200 || got["enabled"] != true || r.header.Get("ETag") != `"1"` {
		t.Fatalf("B's subscription changed: %s", r.body)
	}
	var secret map[string]string
	at.do("GET", base+"/secret", at.token("dlr_B"), nil).json(t, &secret)
	if secret["secret"] != theirs["secret"] {
		t.Fatal("B's secret changed")
	}
}

func TestAuth(t *testing.T) {
	at := newAPITest(t)
	// no token, a bad token, an expired one: the gateway's 401
	expired, _ := at.issuer.Sign(jwt.MapClaims{"iss": at.issuer.Issuer, "aud": at.issuer.Audience, "dealer_id": "dlr_1",
		"exp": time.Now().Add(-time.Hour).Unix()})
	for _, tok := range []string{"", "not-a-jwt", expired} {
		r := at.do("GET", "/v1/subscriptions", tok, nil)
		if r.status != http.StatusUnauthorized || strings.TrimSpace(string(r.body)) != `{"message":"Unauthorized"}` {
			t.Fatalf("token %q: %d %s", tok, r.status, r.body)
		}
	}
	// a valid token without the dealer claim (or an unusable one): 403 from the handler
	for _, claims := range []jwt.MapClaims{{}, {"dealer_id": ""}, {"dealer_id": "a#b"}, {"dealer": "dlr_1"}} {
		claims["iss"], claims["aud"], claims["exp"] = at.issuer.Issuer, at.issuer.Audience, time.Now().Add(time.Hour).Unix()
		tok, err := at.issuer.Sign(claims)
		if err != nil {
			t.Fatal(err)
		}
		at.do("GET", "/v1/subscriptions", tok, nil).problem(t, http.StatusForbidden)
		at.do("POST", "/v1/subscriptions", tok, `{}`).problem(t, http.StatusForbidden)
	}
	// the public routes need no token
	for _, path := range []string{"/healthz", "/v1/openapi.json"} {
		if r := at.do("GET", path, "", nil); r.status != http.StatusOK {
			t.Fatalf("%s: %d", path, r.status)
		}
	}
	var doc map[string]any
	at.do("GET", "/v1/openapi.json", "", nil).json(t, &doc)
	if doc["openapi"] != "3.1.0" {
		t.Fatalf("openapi.json: %v", doc["openapi"])
	}
}

func TestEventTypes(t *testing.T) {
	at := newAPITest(t)
	r := at.do("GET", "/v1/event-types", at.token("dlr_1"), nil)
	var list struct {
		Items []struct {
			Type, Group, Description string
			Schema                   map[string]any
		}
	}
	r.json(t, &list)
	if r.status != http.StatusOK || len(list.Items) != 23 {
		t.Fatalf("%d, %d items", r.status, len(list.Items))
	}
	if it := list.Items[0]; it.Type != "lead.created" || it.Group != "lead" || it.Description == "" || it.Schema["type"] != "object" {
		t.Fatalf("first item: %+v", it)
	}
}

// TestConcurrentPatches: PATCHes of different fields at once all apply; PATCHes with the
// same If-Match at once: exactly one applies.
func TestConcurrentPatches(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	id := at.create("dlr_1", nil)["id"].(string)
	path := "/v1/subscriptions/" + id
	patches := []string{
		`{"url": "https://crm.example.net/new"}`,
		`{"events": ["appointment.*", "lead.created"]}`,
		`{"description": "set concurrently"}`,
		`{"enabled": false}`,
	}
	var wg sync.WaitGroup
	for i := range 10 { // each field written by two or three goroutines, with the same value
		wg.Go(func() {
			if r := at.do("PATCH", path, tok, patches[i%len(patches)]); r.status != http.StatusOK {
				t.Errorf("patch %d: %d %s", i, r.status, r.body)
			}
		})
	}
	wg.Wait()
	r := at.do("GET", path, tok, nil)
	var got map[string]any
	r.json(t, &got)
	if got["url"] != "https://crm.example.net/new" || fmt.Sprint(got["events"]) != "[appointment.* lead.created]" ||
		got["description"] != "set concurrently" || got["enabled"] != false || got["status"] != "disabled" {
		t.Fatalf("a write was lost: %s", r.body)
	}
	if r.header.Get("ETag") != `"11"` {
		t.Fatalf("ETag %s after 10 patches of version 1, want \"11\"", r.header.Get("ETag"))
	}

	// toggles with the version read: exactly one of the concurrent ones wins
	var mu sync.Mutex
	statuses := map[int]int{}
	for i := range 10 {
		wg.Go(func() {
			r := at.do("PATCH", path, tok, fmt.Sprintf(`{"enabled": %t}`, i%2 == 0), header{"If-Match", `"11"`})
			mu.Lock()
			statuses[r.status]++
			mu.Unlock()
		})
	}
	wg.Wait()
	if statuses[http.StatusOK] != 1 || statuses[http.StatusPreconditionFailed] != 9 {
		t.Fatalf("statuses %v, want one 200 and nine 412", statuses)
	}
}

func TestIfMatch(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	id := at.create("dlr_1", nil)["id"].(string)
	path := "/v1/subscriptions/" + id
	if r := at.do("PATCH", path, tok, `{"description": "v2"}`, header{"If-Match", `"1"`}); r.status != http.StatusOK {
		t.Fatalf("matching If-Match: %d %s", r.status, r.body)
	}
	for _, stale := range []string{`"1"`, `"3"`, `W/"2"`, `2`, `"0"`, `"abc"`, `"1", "2"`} {
		at.do("PATCH", path, tok, `{"description": "lost"}`, header{"If-Match", stale}).problem(t, http.StatusPreconditionFailed)
		at.do("DELETE", path, tok, nil, header{"If-Match", stale}).problem(t, http.StatusPreconditionFailed)
	}
	// an empty patch checks the version too
	at.do("PATCH", path, tok, `{}`, header{"If-Match", `"1"`}).problem(t, http.StatusPreconditionFailed)
	if r := at.do("PATCH", path, tok, `{"description": "v3"}`, header{"If-Match", "*"}); r.status != http.StatusOK {
		t.Fatalf("If-Match *: %d", r.status)
	}
	if r := at.do("DELETE", path, tok, nil, header{"If-Match", `"3"`}); r.status != http.StatusNoContent {
		t.Fatalf("delete with If-Match: %d %s", r.status, r.body)
	}
	// a missing subscription is 404 whatever the If-Match
	at.do("PATCH", path, tok, `{"description": "x"}`, header{"If-Match", `"3"`}).problem(t, http.StatusNotFound)
}

// TestSubscriptionLimit: 60 concurrent creates, exactly 50 succeed; deleting frees a slot.
func TestSubscriptionLimit(t *testing.T) {
	at := newAPITest(t, func(o *httpapi.Options) { o.MaxSubscriptionsPerHost = -1 }) // all to one host
	tok := at.token("dlr_1")
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	var ids []string
	for range 60 {
		wg.Go(func() {
			r := at.do("POST", "/v1/subscriptions", tok, `{"url":"https://hooks.example.com/x","events":["*"]}`)
			mu.Lock()
			defer mu.Unlock()
			statuses[r.status]++
			if r.status == http.StatusCreated {
				var sub map[string]any
				r.json(t, &sub)
				ids = append(ids, sub["id"].(string))
			}
		})
	}
	wg.Wait()
	if statuses[http.StatusCreated] != subscriptions.MaxPerDealer || statuses[http.StatusUnprocessableEntity] != 10 {
		t.Fatalf("statuses %v, want 50 × 201 and 10 × 422", statuses)
	}
	p := at.do("POST", "/v1/subscriptions", tok, `{"url":"https://hooks.example.com/x","events":["*"]}`).problem(t, http.StatusUnprocessableEntity)
	if !strings.Contains(p.Detail, "50") {
		t.Fatalf("limit problem: %+v", p)
	}
	if r := at.do("DELETE", "/v1/subscriptions/"+ids[0], tok, nil); r.status != http.StatusNoContent {
		t.Fatal(r.status)
	}
	at.create("dlr_1", nil)
	at.create("dlr_2", nil) // another dealer has its own 50
}

func TestRotateSecret(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	sub := at.create("dlr_1", nil)
	id, old := sub["id"].(string), sub["secret"].(string)

	r := at.do("POST", "/v1/subscriptions/"+id+"/rotate-secret", tok, nil)
	var rotated map[string]string
	r.json(t, &rotated)
	if r.status != http.StatusOK || !strings.HasPrefix(rotated["secret"], "whsec_") || rotated["secret"] == old || len(rotated) != 1 {
		t.Fatalf("rotate: %d %s", r.status, r.body)
	}
	var secret struct {
		Secret, PreviousSecret  string
		PreviousSecretExpiresAt time.Time
	}
	at.do("GET", "/v1/subscriptions/"+id+"/secret", tok, nil).json(t, &secret)
	if secret.Secret != rotated["secret"] || secret.PreviousSecret != old {
		t.Fatalf("secret after rotation: %+v", secret)
	}
	if d := time.Until(secret.PreviousSecretExpiresAt); d < 23*time.Hour+59*time.Minute || d > 24*time.Hour {
		t.Fatalf("previous secret expires in %v, want 24h", d)
	}
	stored, err := at.store.Get(context.Background(), "dlr_1", id)
	if err != nil {
		t.Fatal(err)
	}
	if s := stored.SigningSecrets(time.Now()); len(s) != 2 || s[0] != rotated["secret"] || s[1] != old {
		t.Fatalf("signing secrets %v", s)
	}
	// the version (and ETag) do not change: the representation did not
	if r := at.do("GET", "/v1/subscriptions/"+id, tok, nil); r.header.Get("ETag") != `"1"` || strings.Contains(string(r.body), "whsec_") {
		t.Fatalf("get after rotation: %v %s", r.header, r.body)
	}
}

// TestLambdaWithoutAuthorizer: a request reaching the function without the authorizer's
// context is refused 401 (defense in depth); unknown routes and methods are problems too.
func TestLambdaWithoutAuthorizer(t *testing.T) {
	h := newUnitAPI()
	r := serveDirect(h, "GET", "/v1/subscriptions", nil)
	if r.StatusCode != http.StatusUnauthorized || r.Headers["Content-Type"] != "application/problem+json" {
		t.Fatalf("%d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	if r := serveDirect(h, "GET", "/v1/nothing", nil); r.StatusCode != http.StatusNotFound {
		t.Fatalf("unknown route: %d %s", r.StatusCode, r.Body)
	}
	r = serveDirect(h, "PUT", "/v1/subscriptions", nil)
	if r.StatusCode != http.StatusMethodNotAllowed || r.Headers["Allow"] != "POST, GET" {
		t.Fatalf("wrong method: %d %v %s", r.StatusCode, r.Headers, r.Body)
	}
	var p map[string]any
	if err := json.Unmarshal([]byte(r.Body), &p); err != nil || p["status"] != float64(405) {
		t.Fatalf("405 body %s", r.Body)
	}
	if r := serveDirect(h, "GET", "/healthz", nil); r.StatusCode != http.StatusOK || r.Body != `{"status":"ok"}` {
		t.Fatalf("healthz: %d %s", r.StatusCode, r.Body)
	}
}

// TestSubscriptionsPerHost: a dealer's subscriptions to one endpoint host are capped (the
// host compared without case or port); a URL change counts as well; other
// hosts and other dealers are not concerned.
func TestSubscriptionsPerHost(t *testing.T) {
	at := newAPITest(t, func(o *httpapi.Options) { o.MaxSubscriptionsPerHost = 2 })
	tok := at.token("dlr_1")
	post := func(url string) *response {
		return at.do("POST", "/v1/subscriptions", tok, map[string]any{"url": url, "events": []string{"*"}})
	}
	first := at.create("dlr_1", map[string]any{"url": "https://hooks.example.com/a", "events": []string{"*"}})["id"].(string)
	at.create("dlr_1", map[string]any{"url": "https://HOOKS.example.com:443/b", "events": []string{"*"}})
	for _, url := range []string{"https://hooks.example.com/c", "https://hooks.example.com:8443/d"} {
		p := post(url).problem(t, http.StatusUnprocessableEntity)
		if !hasField(p, "url") || !strings.Contains(p.Errors[0].Message, "at most 2 subscriptions to one host") || !strings.Contains(p.Errors[0].Message, "hooks.example.com") {
			t.Fatalf("third to the host (%s): %+v", url, p)
		}
	}
	other := at.create("dlr_1", map[string]any{"url": "https://crm.example.net/x", "events": []string{"*"}})["id"].(string)
	at.create("dlr_2", map[string]any{"url": "https://hooks.example.com/a", "events": []string{"*"}})

	// moving a subscription onto the full host is refused; within it, allowed
	p := at.do("PATCH", "/v1/subscriptions/"+other, tok, `{"url":"https://hooks.example.com/e"}`).problem(t, http.StatusUnprocessableEntity)
	if !hasField(p, "url") {
		t.Fatalf("PATCH onto the full host: %+v", p)
	}
	if r := at.do("PATCH", "/v1/subscriptions/"+first, tok, `{"url":"https://hooks.example.com/a2"}`); r.status != http.StatusOK {
		t.Fatalf("PATCH within the host: %d %s", r.status, r.body)
	}
	// deleting one frees a place
	if r := at.do("DELETE", "/v1/subscriptions/"+first, tok, nil); r.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	if r := post("https://hooks.example.com/c"); r.status != http.StatusCreated {
		t.Fatalf("after a delete: %d %s", r.status, r.body)
	}
}

// TestRotateSecretRevokingThePrevious: {"revokePrevious": true} drops the old secret at once
// (and any earlier one still in its grace period); {} keeps it; invalid bodies are refused
// and change nothing.
func TestRotateSecretRevokingThePrevious(t *testing.T) {
	at := newAPITest(t)
	tok := at.token("dlr_1")
	sub := at.create("dlr_1", nil)
	id := sub["id"].(string)
	path := "/v1/subscriptions/" + id + "/rotate-secret"
	var kept map[string]string
	at.do("POST", path, tok, `{}`).json(t, &kept) // the old one keeps signing
	for _, c := range []struct {
		body   string
		status int
		field  string
	}{
		{`{"revokePrevious": "yes"}`, 422, "revokePrevious"},
		{`{"revokePrevious": null}`, 422, "revokePrevious"},
		{`{"revoke": true}`, 400, "revoke"},
		{`[true]`, 400, ""},
	} {
		if p := at.do("POST", path, tok, c.body).problem(t, c.status); c.field != "" && !hasField(p, c.field) {
			t.Errorf("%s: %+v", c.body, p)
		}
	}
	var rotated map[string]string
	r := at.do("POST", path, tok, `{"revokePrevious": true}`)
	r.json(t, &rotated)
	if r.status != http.StatusOK || rotated["secret"] == kept["secret"] || !strings.HasPrefix(rotated["secret"], "whsec_") {
		t.Fatalf("rotate revoking: %d %s", r.status, r.body)
	}
	var secret map[string]any
	at.do("GET", "/v1/subscriptions/"+id+"/secret", tok, nil).json(t, &secret)
	if secret["secret"] != rotated["secret"] || secret["previousSecret"] != nil || secret["previousSecretExpiresAt"] != nil {
		t.Fatalf("secret after a revoking rotation: %v", secret)
	}
	stored, err := at.store.Get(context.Background(), "dlr_1", id)
	if err != nil {
		t.Fatal(err)
	}
	if s := stored.SigningSecrets(time.Now()); len(s) != 1 || s[0] != rotated["secret"] {
		t.Fatalf("signing secrets %v, want the new one only", s)
	}
}
