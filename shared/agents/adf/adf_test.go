package adf_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents/adf"
	"github.com/dealerai/integrations/shared/agents/internal/dtd"
	"github.com/dealerai/integrations/shared/internal/agenttest"
)

func loadDTD(t testing.TB) *dtd.DTD {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(agenttest.Testdata(), "agents", "adf-1.0.dtd"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := dtd.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func decode(t testing.TB, ev *events.Event, v any) {
	t.Helper()
	if err := json.Unmarshal(ev.Body, v); err != nil {
		t.Fatal(err)
	}
}

var options = adf.Options{VendorName: "Austin Toyota", VendorIDs: []adf.ID{{Source: "DealerSocket", Value: "DS-77"}}}

func marshal(t testing.TB, d *adf.Document) []byte {
	t.Helper()
	b, err := d.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b, []byte(adf.Header)) {
		t.Fatalf("document does not start with the XML declaration and <?adf version=\"1.0\"?>:\n%s", b)
	}
	return b
}

func TestLeadCreated(t *testing.T) {
	var l events.LeadCreated
	decode(t, agenttest.Event(t, "lead.created", nil), &l)
	doc := marshal(t, adf.FromLead(&l, options))
	if err := loadDTD(t).Validate(doc, "adf"); err != nil {
		t.Fatalf("not valid ADF: %v\n%s", err, doc)
	}
	agenttest.Golden(t, "adf/lead.created.xml", doc)
}

func TestAppointments(t *testing.T) {
	d := loadDTD(t)
	for _, name := range []string{"appointment.created", "appointment.created.testdrive", "appointment.created.leasereturn", "appointment.rescheduled", "appointment.cancelled"} {
		ev := agenttest.Event(t, name, nil)
		var a events.AppointmentCreated
		decode(t, ev, &a)
		doc := marshal(t, adf.FromAppointment(ev.Type, &a, options))
		if err := d.Validate(doc, "adf"); err != nil {
			t.Errorf("%s: not valid ADF: %v\n%s", name, err, doc)
		}
		agenttest.Golden(t, "adf/"+name+".xml", doc)
	}
}

func TestTradeInAddsASecondVehicle(t *testing.T) {
	ev := agenttest.Event(t, "appointment.cancelled", nil) // the tradein example
	var a events.AppointmentCreated
	decode(t, ev, &a)
	doc := adf.FromAppointment(ev.Type, &a, options)
	v := doc.Prospects[0].Vehicles
	if len(v) != 2 || v[0].Interest != "buy" || v[1].Interest != "trade-in" || v[1].Status != "used" {
		t.Fatalf("vehicles = %+v, want the wanted one then the trade-in", v)
	}
	if v[1].Model != "Civic" || v[1].Odometer != "84500" || v[1].Condition != "Good" {
		t.Errorf("trade-in = %+v", v[1])
	}
	out := string(marshal(t, doc))
	if !strings.Contains(out, "<make></make>") { // the DTD requires a make the event lacks
		t.Errorf("the trade-in's make is not emitted empty:\n%s", out)
	}
}

func TestEscapingAndMissingContact(t *testing.T) {
	l := events.LeadCreated{
		Base:       events.Base{DealerID: "d", Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)},
		LeadFields: events.LeadFields{FirstName: `<script>&"'`, LastName: "O'Neil\x00\x1b]]>"},
		Comments:   "a < b & c > d",
	}
	doc := marshal(t, adf.FromLead(&l, adf.Options{VendorName: "Smith & Sons"}))
	if err := loadDTD(t).Validate(doc, "adf"); err != nil {
		t.Fatalf("not valid ADF: %v\n%s", err, doc)
	}
	var back struct {
		Names []string `xml:"prospect>customer>contact>name"`
	}
	if err := xml.Unmarshal(doc, &back); err != nil {
		t.Fatal(err)
	}
	if back.Names[0] != `<script>&"'` {
		t.Errorf("first name round-trips as %q", back.Names[0])
	}
	if !strings.Contains(string(doc), "<phone type=\"voice\"></phone>") {
		t.Errorf("a contact without email nor phone needs an empty phone:\n%s", doc)
	}
}

// FuzzADF: whatever strings the event holds, the document is well-formed XML that the ADF
// DTD accepts. The input is the event's fields separated by \x1f (one []byte keeps the
// fuzzer's minimisation fast).
func FuzzADF(f *testing.F) {
	d := loadDTD(f)
	join := func(fields ...string) []byte { return []byte(strings.Join(fields, "\x1f")) }
	f.Add(join("Ana", "Diaz", "ana@example.com", "+15125550199", "2024", "Toyota", "RAV4", "VIN", "comments", "Austin Toyota", "tradein"))
	f.Add(join())
	f.Add(join("<a>", "&amp;", "\x00", "\uFFFE", "]]>", "\"'", "\r\n", "\xff\xfe", "<!--", "<?xml?>", "sales"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v := strings.Split(string(data), "\x1f")
		for len(v) < 11 {
			v = append(v, "")
		}
		first, last, email, phone, year, make, model, vin, comments, vendor, apptType := v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10]
		l := events.LeadCreated{
			Base:         events.Base{LeadID: vin, Timestamp: time.Unix(1700000000, 0)},
			LeadFields:   events.LeadFields{FirstName: first, LastName: last, Email: email, Phone: phone},
			Source:       comments,
			VehicleYear:  year,
			VehicleMake:  make,
			VehicleModel: model,
			VehicleVIN:   vin,
			Comments:     comments,
		}
		a := events.AppointmentCreated{AppointmentFields: events.AppointmentFields{
			AppointmentType: apptType, Name: first + " " + last, Email: email, Phone: phone,
			VehicleYear: year, VehicleMake: make, TradeInVehicleModel: model, TradeInVehicleCondition: comments,
			ServiceType: comments, AppointmentID: vin,
		}}
		o := adf.Options{VendorName: vendor, VendorIDs: []adf.ID{{Source: vendor, Value: vin}}}
		for _, doc := range []*adf.Document{adf.FromLead(&l, o), adf.FromAppointment("appointment.created", &a, o)} {
			b, err := doc.Marshal()
			if err != nil {
				t.Fatalf("marshal: %v", err)
			}
			if !bytes.HasPrefix(b, []byte(adf.Header)) {
				t.Fatal("missing header")
			}
			if err := d.Validate(b, "adf"); err != nil {
				t.Fatalf("invalid ADF: %v\n%s", err, b)
			}
		}
	})
}
