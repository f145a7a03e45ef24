package dealersockettest_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/agents/dealersocket"
	"github.com/dealerai/integrations/shared/agents/dealersocket/dealersockettest"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

var cfg = dealersockettest.Config{DirectLeadKey: "key", Username: "u", Password: "p", PublicKey: "pub", SecretKey: "sec", DealerID: "77", Vendor: "DealerAI"}

const validADF = `<?xml version="1.0" encoding="UTF-8"?>
<?adf version="1.0"?>
<adf><prospect status="new"><requestdate>2026-11-27T15:04:05Z</requestdate><vehicle><year>2024</year><make>Toyota</make><model>RAV4</model></vehicle>
<customer><contact><name part="full">Ana Diaz</name><email>ana@example.com</email></contact></customer>
<vendor><vendorname>Austin Toyota</vendorname><contact><name part="full">Austin Toyota</name><phone>1</phone></contact></vendor></prospect></adf>`

func send(t *testing.T, method, url, mediaType, body string, header map[string]string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mediaType)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func signed(body string) map[string]string {
	return map[string]string{"Authentication": dealersocket.Sign(cfg.PublicKey, cfg.SecretKey, []byte(body))}
}

// activity is an ActivityInsert of the fake's lead with fields replaced (name → "" drops it).
func activity(eventID, entityID string, change map[string]string) string {
	fields := []string{"Vendor", "DealerId", "EntityId", "EventId", "ActivityTaskType", "DueDateTime", "ActivityId", "Note"}
	values := map[string]string{"Vendor": "DealerAI", "DealerId": "77", "EntityId": entityID, "EventId": eventID,
		"ActivityTaskType": "Appointment", "DueDateTime": "2026-11-30T16:00:00Z", "Note": "n"}
	for k, v := range change {
		values[k] = v
	}
	var b strings.Builder
	b.WriteString("<ActivityInsert>")
	for _, f := range fields {
		if values[f] != "" {
			b.WriteString("<" + f + ">" + values[f] + "</" + f + ">")
		}
	}
	b.WriteString("</ActivityInsert>")
	return b.String()
}

// TestFakeRefusesWhatDealerSocketRefuses: each wrong shape gets DealerSocket's refusal, so a
// connector that sends it fails its tests.
func TestFakeRefusesWhatDealerSocketRefuses(t *testing.T) {
	f := dealersockettest.New(t, cfg)
	if code, body := send(t, "POST", f.URL+dealersocket.LeadPath+"key", "application/xml", validADF, map[string]string{"Authorization": "u:p"}); code != 200 || !strings.Contains(body, "<Success>true</Success>") {
		t.Fatalf("a valid lead: %d %s", code, body)
	}
	ev := f.Events()[0]
	api := f.URL + dealersockettest.APIPath
	star := func(root, inner string) string {
		return `<` + root + ` xmlns="` + dealersocket.StarNamespace + `"><ApplicationArea><Sender><CreatorNameCode>DealerAI</CreatorNameCode><DealerNumberID>77</DealerNumberID></Sender></ApplicationArea>` + inner + `</` + root + `>`
	}
	salesLead := func(status string) string {
		return `<ProcessSalesLeadDataArea><SalesLead><SalesLeadHeader><DocumentIdentificationGroup><DocumentIdentification><DocumentID>` + ev.EventID +
			`</DocumentID></DocumentIdentification></DocumentIdentificationGroup><CustomerProspect><ProspectParty><PartyID>` + ev.EntityID +
			`</PartyID></ProspectParty></CustomerProspect></SalesLeadHeader><SalesLeadDetail><LeadStatus>` + status + `</LeadStatus></SalesLeadDetail></SalesLead></ProcessSalesLeadDataArea>`
	}
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("u:p"))
	for _, c := range []struct {
		name, method, url, mediaType, body string
		header                             map[string]string
		status                             int
		want                               string
	}{
		{"lead with HTTP Basic instead of the raw user:password", "POST", f.URL + dealersocket.LeadPath + "key", "application/xml", validADF, map[string]string{"Authorization": basic}, 401, "UNAUTHORIZED"},
		{"lead that is not valid ADF (no requestdate)", "POST", f.URL + dealersocket.LeadPath + "key", "application/xml", strings.Replace(validADF, "<requestdate>2026-11-27T15:04:05Z</requestdate>", "", 1), map[string]string{"Authorization": "u:p"}, 400, "INVALID_ADF"},
		{"lead as application/x-adf+xml", "POST", f.URL + dealersocket.LeadPath + "key", "application/x-adf+xml", validADF, map[string]string{"Authorization": "u:p"}, 415, "BAD_CONTENT_TYPE"},
		{"activity signed with another key", "POST", api + "/Activity", "application/xml", activity(ev.EventID, ev.EntityID, nil), map[string]string{"Authentication": dealersocket.Sign("pub", "other", []byte(activity(ev.EventID, ev.EntityID, nil)))}, 401, "UNAUTHORIZED"},
		{"activity as JSON", "POST", api + "/Activity", "application/json", `{"LeadId":"1"}`, signed(`{"LeadId":"1"}`), 415, "UNSUPPORTED_MEDIA_TYPE"},
		{"activity without EntityId", "POST", api + "/Activity", "application/xml", activity(ev.EventID, "", nil), signed(activity(ev.EventID, "", nil)), 200, "ENTITYID_INVALID"},
		{"activity on another customer's event", "POST", api + "/Activity", "application/xml", activity("1", ev.EntityID, nil), signed(activity("1", ev.EntityID, nil)), 200, "<ActivityId>0</ActivityId>"},
		{"activity without a type", "POST", api + "/Activity", "application/xml", activity(ev.EventID, ev.EntityID, map[string]string{"ActivityTaskType": ""}), signed(activity(ev.EventID, ev.EntityID, map[string]string{"ActivityTaskType": ""})), 200, "ACTIVITYTYPE_INVALID"},
		{"activity due at no date", "POST", api + "/Activity", "application/xml", activity(ev.EventID, ev.EntityID, map[string]string{"DueDateTime": "tomorrow"}), signed(activity(ev.EventID, ev.EntityID, map[string]string{"DueDateTime": "tomorrow"})), 200, "DUEDATETIME_INVALID"},
		{"activity insert with an ActivityId", "POST", api + "/Activity", "application/xml", activity(ev.EventID, ev.EntityID, map[string]string{"ActivityId": "5"}), signed(activity(ev.EventID, ev.EntityID, map[string]string{"ActivityId": "5"})), 200, "ACTIVITYID_INVALID"},
		{"activity update of no activity", "PUT", api + "/Activity", "application/xml", activity(ev.EventID, ev.EntityID, map[string]string{"ActivityId": "5"}), signed(activity(ev.EventID, ev.EntityID, map[string]string{"ActivityId": "5"})), 200, "ACTIVITYID_INVALID"},
		{"activity of another vendor", "POST", api + "/Activity", "application/xml", activity(ev.EventID, ev.EntityID, map[string]string{"Vendor": "Other"}), signed(activity(ev.EventID, ev.EntityID, map[string]string{"Vendor": "Other"})), 200, "VENDOR_INVALID"},
		{"work note over 255 characters", "POST", api + "/WorkNote", "application/xml", "<WorkNoteInsert><Vendor>DealerAI</Vendor><DealerId>77</DealerId><EntityId>" + ev.EntityID + "</EntityId><EventId>" + ev.EventID + "</EventId><Note>" + strings.Repeat("x", 256) + "</Note></WorkNoteInsert>",
			signed("<WorkNoteInsert><Vendor>DealerAI</Vendor><DealerId>77</DealerId><EntityId>" + ev.EntityID + "</EntityId><EventId>" + ev.EventID + "</EventId><Note>" + strings.Repeat("x", 256) + "</Note></WorkNoteInsert>"), 200, "NOTE_INVALID"},
		{"sales event without the STAR namespace", "POST", api + "/eventsales", "application/xml", "<ProcessSalesLead>" + salesLead("Contacted") + "</ProcessSalesLead>", signed("<ProcessSalesLead>" + salesLead("Contacted") + "</ProcessSalesLead>"), 200, "INVALID_XML"},
		{"sales event status that is none", "POST", api + "/eventsales", "application/xml", star("ProcessSalesLead", salesLead("Appointment set")), signed(star("ProcessSalesLead", salesLead("Appointment set"))), 200, "invalid LeadStatus"},
		{"customer insert on PUT", "PUT", api + "/Customer", "application/xml", star("ProcessCustomerInformation", "<ProcessCustomerInformationDataArea><CustomerInformation><CustomerInformationHeader><TransactionTypeCode>IC</TransactionTypeCode></CustomerInformationHeader></CustomerInformation></ProcessCustomerInformationDataArea>"),
			signed(star("ProcessCustomerInformation", "<ProcessCustomerInformationDataArea><CustomerInformation><CustomerInformationHeader><TransactionTypeCode>IC</TransactionTypeCode></CustomerInformationHeader></CustomerInformation></ProcessCustomerInformationDataArea>")), 200, "TransactionTypeCode must be UC"},
		{"customer search without criteria", "POST", api + "/SearchEntity", "application/xml", star("GetCustomerInformation", ""), signed(star("GetCustomerInformation", "")), 200, "SEARCH_INVALID"},
		{"event search with entityId as a string", "POST", f.URL + dealersockettest.EventSearchPath, "application/json", `{"vendor":"DealerAI","dealerId":"77","entityId":"` + ev.EntityID + `","eventCategory":"Sales"}`,
			signed(`{"vendor":"DealerAI","dealerId":"77","entityId":"` + ev.EntityID + `","eventCategory":"Sales"}`), 200, "entityId must be a number"},
		{"an activity under the lead's path", "POST", api + "/leads/" + ev.EventID + "/activities", "application/xml", "<a/>", signed("<a/>"), 404, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, body := send(t, c.method, c.url, c.mediaType, c.body, c.header)
			if code != c.status || !strings.Contains(body, c.want) || (code == 200 && strings.Contains(body, "<Success>true")) {
				t.Errorf("%d %s; want %d with %q", code, body, c.status, c.want)
			}
		})
	}
	if n := len(f.Activities()) + len(f.WorkNotes()); n != 0 || f.Events()[0].LeadStatus != "" || len(f.Events()) != 1 {
		t.Errorf("a refused request changed something: %d activities and notes, events %+v", n, f.Events())
	}
}

func TestFakeLosesAnswersAfterServing(t *testing.T) {
	f := dealersockettest.New(t, cfg)
	f.LoseAnswer(dealersocket.LeadPath+"key", 0)
	req, _ := http.NewRequest("POST", f.URL+dealersocket.LeadPath+"key", strings.NewReader(validADF))
	req.Header.Set("Content-Type", "application/xml")
	req.Header.Set("Authorization", "u:p")
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatalf("answered %d, want the connection closed", resp.StatusCode)
	}
	if len(f.Events()) != 1 {
		t.Fatalf("the lead was not carried out: %+v", f.Events())
	}
	f.LoseAnswer(dealersocket.LeadPath+"key", http.StatusInternalServerError)
	if code, _ := send(t, "POST", f.URL+dealersocket.LeadPath+"key", "application/xml", strings.Replace(validADF, "ana@", "luis@", 1), map[string]string{"Authorization": "u:p"}); code != 500 || len(f.Events()) != 2 {
		t.Fatalf("answered %d with %d events", code, len(f.Events()))
	}
}

// The event search answers a customer's sales events as S18's EventSearchClient reads them:
// the status as a code, the dates, the assignee; what the sales event call and ChangeEvent
// change, and AddEvent adds, shows in the next answer.
func TestFakeEventSearchAnswersTheCustomersEvents(t *testing.T) {
	f := dealersockettest.New(t, cfg)
	clock := time.Date(2026, 11, 27, 15, 4, 5, 0, time.UTC)
	f.SetClock(func() time.Time { return clock })
	if code, _ := send(t, "POST", f.URL+dealersocket.LeadPath+"key", "application/xml", validADF, map[string]string{"Authorization": "u:p"}); code != 200 {
		t.Fatal(code)
	}
	ev := f.Events()[0]
	search := func(entityID string) map[string]any {
		t.Helper()
		body := `{"vendor":"DealerAI","dealerId":"77","entityId":` + entityID + `,"eventCategory":"Sales"}`
		code, out := send(t, "POST", f.URL+dealersockettest.EventSearchPath, "application/json", body, signed(body))
		var v map[string]any
		if err := json.Unmarshal([]byte(out), &v); code != 200 || err != nil {
			t.Fatalf("%d %s", code, out)
		}
		return v
	}
	got := search(ev.EntityID)
	events := got["events"].([]any)
	first := events[0].(map[string]any)
	if got["firstName"] != "Ana" || got["lastName"] != "Diaz" || len(events) != 1 {
		t.Fatalf("answer %v", got)
	}
	for k, want := range map[string]any{"eventId": float64(numeric(ev.EventID)), "status": float64(220), "eventType": float64(100050),
		"insertDate": "2026-11-27T15:04:05.000", "updateDate": "2026-11-27T15:04:05.000", "primaryAssigned": "Ash Bhattari",
		"year": "2024", "make": "Toyota", "model": "RAV4", "eventCategory": "Sales"} {
		if first[k] != want {
			t.Errorf("%s = %v, want %v", k, first[k], want)
		}
	}

	clock = clock.Add(time.Hour)
	body := `<ProcessSalesLead xmlns="` + dealersocket.StarNamespace + `"><ApplicationArea><Sender><CreatorNameCode>DealerAI</CreatorNameCode><DealerNumberID>77</DealerNumberID></Sender></ApplicationArea>` +
		`<ProcessSalesLeadDataArea><SalesLead><SalesLeadHeader><DocumentIdentificationGroup><DocumentIdentification><DocumentID>` + ev.EventID +
		`</DocumentID></DocumentIdentification></DocumentIdentificationGroup><CustomerProspect><ProspectParty><PartyID>` + ev.EntityID +
		`</PartyID></ProspectParty></CustomerProspect></SalesLeadHeader><SalesLeadDetail><LeadStatus>Lost</LeadStatus></SalesLeadDetail></SalesLead></ProcessSalesLeadDataArea></ProcessSalesLead>`
	if code, out := send(t, "POST", f.URL+dealersockettest.APIPath+"/eventsales", "application/xml", body, signed(body)); code != 200 || !strings.Contains(out, "<Success>true") {
		t.Fatalf("%d %s", code, out)
	}
	first = search(ev.EntityID)["events"].([]any)[0].(map[string]any)
	if first["status"] != float64(226) || first["updateDate"] != "2026-11-27T16:04:05.000" || first["insertDate"] != "2026-11-27T15:04:05.000" {
		t.Errorf("after LeadStatus Lost: %v", first)
	}

	f.ChangeEvent(ev.EventID, func(e *dealersockettest.Event) {
		e.Status, e.PrimaryAssigned = dealersockettest.StatusSold, "Luis Ortega"
	})
	added := f.AddEvent(dealersockettest.Event{EntityID: ev.EntityID})
	events = search(ev.EntityID)["events"].([]any)
	if len(events) != 2 || events[0].(map[string]any)["status"] != float64(225) || events[0].(map[string]any)["primaryAssigned"] != "Luis Ortega" ||
		events[1].(map[string]any)["eventId"] != float64(numeric(added)) || events[1].(map[string]any)["status"] != float64(220) {
		t.Errorf("after ChangeEvent and AddEvent: %v", events)
	}
	if f.AddEvent(dealersockettest.Event{EntityID: "1"}) != "" {
		t.Error("an event added to a customer the fake does not have")
	}
	if got := search("1"); got["errorCode"] != "ENTITYID_INVALID" {
		t.Errorf("an unknown customer: %v", got)
	}

	// a rate limit, as a test injects it
	f.Faults.Add(dealersockettest.EventSearchPath, agenttest.Fault{Status: http.StatusTooManyRequests, Header: map[string]string{"Retry-After": "3"}})
	req, _ := http.NewRequest("POST", f.URL+dealersockettest.EventSearchPath, strings.NewReader("{}"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "3" {
		t.Errorf("%d Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

func numeric(v string) int { n, _ := strconv.Atoi(v); return n }
