package httpapi_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/httpapi"
	"github.com/dealerai/integrations/shared/resources"
)

// The platforms' push notices on DynamoDB Local and the SQS emulator: authenticated the
// platform's way, a trigger of the agent's sync (a job on the sync-jobs queue), deduplicated on
// the notice's id, 202 as the platforms expect; 401 and 400 logged without the notice.

const fortellisAudience = "https://api.dealerai.test/v1/notices/fortellis"

const noticeSecret = "vs-notice-secret-7d1c9a"

// syncJobs takes the sync jobs off the queue and returns their bodies.
func (at *apiTest) syncJobs() []string {
	at.t.Helper()
	var out []string
	for at.env.Visible(at.t, resources.SyncJobsQueue) > 0 {
		res, err := at.env.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(at.env.QueueURL(resources.SyncJobsQueue)), MaxNumberOfMessages: 10})
		if err != nil {
			at.t.Fatal(err)
		}
		for _, m := range res.Messages {
			out = append(out, aws.ToString(m.Body))
			at.env.SQS.DeleteMessage(context.Background(), &sqs.DeleteMessageInput{QueueUrl: aws.String(at.env.QueueURL(resources.SyncJobsQueue)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	return out
}

// enableVinNotices configures dealer's VinSolutions agent with the notice secret.
func (at *apiTest) enableVinNotices(dealer string, extra map[string]string) {
	at.t.Helper()
	put := validAgentPut("vinsolutions")
	put["credentials"].(map[string]string)["noticeSecret"] = noticeSecret
	for k, v := range extra {
		put["settings"].(map[string]string)[k] = v
	}
	if r := at.do("PUT", "/v1/agents/vinsolutions", at.token(dealer), put); r.status != http.StatusOK {
		at.t.Fatalf("%d %s", r.status, r.body)
	}
}

func vinNotice(trackingID string) string {
	return `{"Type":"LeadUpdated","TrackingId":"` + trackingID + `","OccurredUtc":"2026-12-06T20:00:00Z","LeadId":9001,"CustomerId":7001,"DealerId":5001,"Version":1}`
}

// VinSolutions (with a change feed): the secret in the agent's header is a trigger (a sync
// job), once per TrackingId; a missing, wrong or misplaced secret, a disabled agent, an unknown dealer are
// 401; a notice without its TrackingId is 400 naming it; none of it logs the notice or the
// secret, and the secret is write-only.
func TestVinSolutionsNotices(t *testing.T) {
	var feedErr error
	at := newAPITest(t, func(o *httpapi.Options) { o.Platforms, _ = withFeedOn(o.Platforms, "vinsolutions", &feedErr) })
	at.enableVinNotices("dlr_1", map[string]string{"noticeHeader": "X-Vin-Notice"})
	path := "/v1/notices/vinsolutions/dlr_1"
	ok := header{"X-Vin-Notice", noticeSecret}

	if r := at.do("POST", path, "", vinNotice("trk-1"), ok); r.status != http.StatusAccepted || len(r.body) != 0 {
		t.Fatalf("a good notice: %d %s", r.status, r.body)
	}
	if r := at.do("POST", path, "", vinNotice("trk-1"), ok); r.status != http.StatusAccepted {
		t.Fatalf("a repeated notice: %d %s", r.status, r.body)
	}
	if logs := at.logs.String(); !strings.Contains(logs, `"result":"sync queued"`) || !strings.Contains(logs, `"result":"duplicate"`) {
		t.Errorf("the notices' results are not logged:\n%s", logs)
	}
	if jobs := at.syncJobs(); len(jobs) != 1 || !strings.Contains(jobs[0], `"dealerId":"dlr_1"`) || !strings.Contains(jobs[0], `"platform":"vinsolutions"`) {
		t.Errorf("sync jobs %v, want one of dlr_1's VinSolutions agent", jobs)
	}
	mark := at.item("NOTICE#vinsolutions#trk-1", "NOTICE")
	exp, _ := mark["expiresAt"].(*types.AttributeValueMemberN)
	if n, err := strconv.ParseInt(exp.Value, 10, 64); err != nil || n < time.Now().Add(6*24*time.Hour).Unix() || n > time.Now().Add(8*24*time.Hour).Unix() {
		t.Errorf("the mark expires at %v, want in 7 days (the table's TTL)", mark["expiresAt"])
	}

	for name, c := range map[string]struct {
		path string
		hdr  header
	}{
		"no secret":            {path, header{}},
		"a wrong secret":       {path, header{"X-Vin-Notice", noticeSecret + "x"}},
		"the default header":   {path, header{"X-DealerAI-Notice-Key", noticeSecret}},
		"another dealer":       {"/v1/notices/vinsolutions/dlr_2", ok},
		"a dealer id with a #": {"/v1/notices/vinsolutions/dlr%231", ok},
	} {
		var hs []header
		if c.hdr.name != "" {
			hs = append(hs, c.hdr)
		}
		if p := at.do("POST", c.path, "", vinNotice("trk-2"), hs...).problem(t, http.StatusUnauthorized); p.Detail != "the notice is not authenticated" {
			t.Errorf("%s: %+v", name, p)
		}
	}
	p := at.do("POST", path, "", `{"Type":"LeadUpdated","LeadId":9001}`, ok).problem(t, http.StatusBadRequest)
	if len(p.Errors) != 1 || p.Errors[0].Field != "TrackingId" {
		t.Errorf("no TrackingId: %+v", p)
	}
	at.do("POST", path, "", `[1,2`, ok).problem(t, http.StatusBadRequest)
	at.do("POST", path, "", vinNotice("trk-3"), ok, header{"Content-Type", "text/plain"}).problem(t, http.StatusUnsupportedMediaType)

	// disabled: refused
	if r := at.do("PUT", "/v1/agents/vinsolutions", at.token("dlr_1"), `{"enabled": false}`); r.status != http.StatusOK {
		t.Fatal(r.status)
	}
	at.do("POST", path, "", vinNotice("trk-4"), ok).problem(t, http.StatusUnauthorized)

	var ag agentJSON
	at.do("GET", "/v1/agents/vinsolutions", at.token("dlr_1"), nil).json(t, &ag)
	if !strings.Contains(strings.Join(ag.CredentialsSet, ","), "noticeSecret") {
		t.Errorf("credentialsSet %v", ag.CredentialsSet)
	}
	for _, leaked := range []string{noticeSecret, "LeadUpdated", "OccurredUtc"} {
		if strings.Contains(at.logs.String(), leaked) {
			t.Errorf("the log holds %q", leaked)
		}
	}
	if n := len(at.syncJobs()); n != 0 {
		t.Errorf("%d more sync jobs", n)
	}
}

// fortellisToken is a valid Event Relay token.
func (at *apiTest) fortellisToken() string {
	now := time.Now()
	return at.fortellis.Sign(at.t, map[string]any{"iss": "https://identity.fortellis.io/oauth2/test", "sub": "event-relay",
		"aud": fortellisAudience, "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix()}, nil, nil)
}

// Fortellis: a verified delivery for the data owner a dealer's agent names queues that
// agent's sync, once per X-Request-Id; a delivery for a data owner nobody names is 202 and
// runs nothing; an unverified token is 401, missing headers 400 naming them; a data owner
// another dealer's agent names cannot be claimed (409) until that agent stops naming it.
func TestFortellisNotices(t *testing.T) {
	var feedErr error
	at := newAPITest(t, func(o *httpapi.Options) { o.Platforms, _ = withFeed(o.Platforms, &feedErr) })
	put := validAgentPut("fortellis")
	put["settings"].(map[string]string)["dataOwnerId"] = "org-77"
	if r := at.do("PUT", "/v1/agents/fortellis", at.token("dlr_1"), put); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	path := "/v1/notices/fortellis"
	owner := header{"Data-Owner-Id", "org-77"}
	event := `{"eventId":"e-1","eventType":"something.changed","payload":{"x":1}}`

	if r := at.do("POST", path, at.fortellisToken(), event, owner, header{"X-Request-Id", "req-1"}); r.status != http.StatusAccepted || len(r.body) != 0 {
		t.Fatalf("a good delivery: %d %s", r.status, r.body)
	}
	at.do("POST", path, at.fortellisToken(), event, owner, header{"X-Request-Id", "req-1"}) // redelivered
	jobs := at.syncJobs()
	if len(jobs) != 1 || !strings.Contains(jobs[0], `"dealerId":"dlr_1"`) || !strings.Contains(jobs[0], `"platform":"fortellis"`) {
		t.Fatalf("sync jobs %v, want one of dlr_1's Fortellis agent", jobs)
	}

	if r := at.do("POST", path, at.fortellisToken(), event, header{"Data-Owner-Id", "org-nobody"}, header{"X-Request-Id", "req-2"}); r.status != http.StatusAccepted {
		t.Errorf("an unknown data owner: %d %s", r.status, r.body)
	}
	now := time.Now()
	for name, tok := range map[string]string{
		"no token":     "",
		"a forged one": at.fortellis.Sign(t, map[string]any{"aud": fortellisAudience, "exp": now.Add(time.Minute).Unix()}, nil, at.fortellis.Other),
		"expired":      at.fortellis.Sign(t, map[string]any{"aud": fortellisAudience, "exp": now.Add(-time.Hour).Unix()}, nil, nil),
		"another aud":  at.fortellis.Sign(t, map[string]any{"aud": "https://other.example", "exp": now.Add(time.Minute).Unix()}, nil, nil),
		"a dealer JWT": at.token("dlr_1"),
	} {
		if r := at.do("POST", path, tok, event, owner, header{"X-Request-Id", "req-3"}); r.status != http.StatusUnauthorized {
			t.Errorf("%s: %d %s", name, r.status, r.body)
		}
	}
	p := at.do("POST", path, at.fortellisToken(), `{}`).problem(t, http.StatusBadRequest)
	if !hasField(p, "Data-Owner-Id") || !hasField(p, "X-Request-Id") {
		t.Errorf("missing headers: %+v", p)
	}
	if p := at.do("POST", path, at.fortellisToken(), `nope`, owner, header{"X-Request-Id", "req-4"}).problem(t, http.StatusBadRequest); !hasField(p, "body") {
		t.Errorf("not JSON: %+v", p)
	}
	if n := len(at.syncJobs()); n != 0 {
		t.Errorf("%d more sync jobs", n)
	}
	if strings.Contains(at.logs.String(), "something.changed") {
		t.Error("a notice's body was logged")
	}

	// the data owner is dlr_1's: dlr_2 cannot name it, until dlr_1's agent names another
	if p := at.do("PUT", "/v1/agents/fortellis", at.token("dlr_2"), put).problem(t, http.StatusConflict); !hasField(p, "settings.dataOwnerId") {
		t.Errorf("another dealer's data owner: %+v", p)
	}
	put1 := validAgentPut("fortellis")
	put1["settings"].(map[string]string)["dataOwnerId"] = "org-78"
	if r := at.do("PUT", "/v1/agents/fortellis", at.token("dlr_1"), put1); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if r := at.do("PUT", "/v1/agents/fortellis", at.token("dlr_2"), put); r.status != http.StatusOK {
		t.Fatalf("the data owner dlr_1 let go: %d %s", r.status, r.body)
	}
	at.do("POST", path, at.fortellisToken(), event, owner, header{"X-Request-Id", "req-5"})
	// The emulator's message count can lag a send by a moment: wait for the job.
	var moved []string
	localtest.Eventually(t, 10*time.Second, "the sync job after the move", func() bool {
		moved = append(moved, at.syncJobs()...)
		return len(moved) > 0
	})
	if len(moved) != 1 || !strings.Contains(moved[0], `"dealerId":"dlr_2"`) {
		t.Errorf("after the move: %v", moved)
	}
}

// noticeTour makes a success and an error of each notice route, for the coverage check.
func (at *apiTest) noticeTour() {
	at.enableVinNotices("dlr_tour", nil)
	at.do("POST", "/v1/notices/vinsolutions/dlr_tour", "", vinNotice("tour-1"), header{"X-DealerAI-Notice-Key", noticeSecret})
	at.do("POST", "/v1/notices/vinsolutions/dlr_tour", "", vinNotice("tour-2"))
	at.do("POST", "/v1/notices/fortellis", at.fortellisToken(), `{}`, header{"Data-Owner-Id", "org-tour"}, header{"X-Request-Id", "tour-3"})
	at.do("POST", "/v1/notices/fortellis", "", `{}`)
}

// item reads a config table item.
func (at *apiTest) item(pk, sk string) map[string]types.AttributeValue {
	at.t.Helper()
	out, err := at.env.DynamoDB.GetItem(context.Background(), &dynamodb.GetItemInput{TableName: aws.String(at.env.Table(resources.ConfigTable)),
		Key: map[string]types.AttributeValue{"pk": &types.AttributeValueMemberS{Value: pk}, "sk": &types.AttributeValueMemberS{Value: sk}}})
	if err != nil || out.Item == nil {
		at.t.Fatalf("item %s %s: %v", pk, sk, err)
	}
	return out.Item
}
