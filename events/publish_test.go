package events

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/oklog/ulid/v2"
)

// fakeSQS records what it is sent. It refuses the batch entries whose body
// contains refuse, and fails the calls callErr returns an error for.
type fakeSQS struct {
	mu      sync.Mutex
	sent    []*sqs.SendMessageInput
	batches []*sqs.SendMessageBatchInput
	refuse  string
	callErr func(call int) error
	omit    string // a body containing it gets no result at all
}

func (f *fakeSQS) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, in)
	if f.callErr != nil {
		if err := f.callErr(len(f.sent) - 1); err != nil {
			return nil, err
		}
	}
	return &sqs.SendMessageOutput{MessageId: aws.String("m1")}, nil
}

func (f *fakeSQS) SendMessageBatch(_ context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.batches = append(f.batches, in)
	if f.callErr != nil {
		if err := f.callErr(len(f.batches) - 1); err != nil {
			return nil, err
		}
	}
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		body := aws.ToString(e.MessageBody)
		switch {
		case f.omit != "" && strings.Contains(body, f.omit):
		case f.refuse != "" && strings.Contains(body, f.refuse):
			out.Failed = append(out.Failed, sqstypes.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InvalidMessageContents"), Message: aws.String("refused"), SenderFault: true})
		default:
			out.Successful = append(out.Successful, sqstypes.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m-" + aws.ToString(e.Id))})
		}
	}
	return out, nil
}

var _ SQSSender = (*fakeSQS)(nil)
var _ SQSSender = (*sqs.Client)(nil)

const queueURL = "http://localhost:9324/000000000000/events"

func leadCreated(firstName string) *LeadCreated {
	return &LeadCreated{
		Base:       Base{DealerID: "dlr_42", LeadID: "6553f0a2", Timestamp: time.Date(2026, 11, 27, 15, 4, 5, 0, time.UTC)},
		LeadFields: LeadFields{FirstName: firstName, Email: "ana@example.com"},
		Source:     "AutoTrader",
	}
}

func TestPublish(t *testing.T) {
	f := &fakeSQS{}
	p := &Publisher{SQS: f, QueueURL: queueURL}
	id, err := p.Publish(context.Background(), leadCreated("Ana & Co <3>"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(id, "evt_") {
		t.Fatalf("id = %q", id)
	}
	if _, err := ulid.ParseStrict(strings.TrimPrefix(id, "evt_")); err != nil {
		t.Errorf("id %q is not evt_<ulid>: %v", id, err)
	}
	if len(f.sent) != 1 {
		t.Fatalf("%d messages sent", len(f.sent))
	}
	in := f.sent[0]
	if aws.ToString(in.QueueUrl) != queueURL {
		t.Errorf("QueueUrl = %q", aws.ToString(in.QueueUrl))
	}
	want := `{"eventType":"lead.created","eventId":"` + id + `","dealerId":"dlr_42","leadId":"6553f0a2","timestamp":"2026-11-27T15:04:05Z","firstName":"Ana & Co <3>","email":"ana@example.com","source":"AutoTrader"}`
	if got := aws.ToString(in.MessageBody); got != want {
		t.Errorf("body =\n%s\nwant\n%s", got, want)
	}
	wantAttrs := map[string]string{"eventType": "lead.created", "dealerId": "dlr_42", "eventId": id}
	if len(in.MessageAttributes) != len(wantAttrs) {
		t.Errorf("attributes = %v", in.MessageAttributes)
	}
	for k, v := range wantAttrs {
		a := in.MessageAttributes[k]
		if aws.ToString(a.DataType) != "String" || aws.ToString(a.StringValue) != v {
			t.Errorf("attribute %s = %s %s, want String %s", k, aws.ToString(a.DataType), aws.ToString(a.StringValue), v)
		}
	}

	// Each publish stamps a new id; a payload's own id is kept.
	id2, _ := p.Publish(context.Background(), leadCreated("Ana"))
	if id2 == id {
		t.Error("two publishes share an id")
	}
	e := leadCreated("Ana")
	e.EventID = "evt_01JDQ7Z4X8M2K9V6T3R5N1P0AB"
	if id3, err := p.Publish(context.Background(), e); err != nil || id3 != e.EventID {
		t.Errorf("Publish with an id = %q, %v", id3, err)
	}
	if !strings.Contains(aws.ToString(f.sent[2].MessageBody), `"eventId":"evt_01JDQ7Z4X8M2K9V6T3R5N1P0AB"`) {
		t.Errorf("body = %s", aws.ToString(f.sent[2].MessageBody))
	}
}

func TestPublishEveryType(t *testing.T) {
	f := &fakeSQS{}
	p := &Publisher{SQS: f, QueueURL: queueURL}
	for typ := range payloadTypes {
		if _, err := p.Publish(context.Background(), samplePayload(typ)); err != nil {
			t.Errorf("%s: %v", typ, err)
			continue
		}
		ev, err := Parse([]byte(aws.ToString(f.sent[len(f.sent)-1].MessageBody)))
		if err != nil || ev.Type != typ {
			t.Errorf("%s: the sent body parses to %v, %v", typ, ev, err)
		}
	}
}

// samplePayload is a minimal valid payload of a type.
func samplePayload(typ string) Payload {
	b := Base{DealerID: "dlr_42", Timestamp: time.Now()}
	switch typ {
	case TypeLeadCreated:
		return LeadCreated{Base: b}
	case TypeLeadReceived:
		return LeadReceived{Base: b}
	case TypeLeadDispositionUpdated:
		return &LeadDispositionUpdated{Base: b, DispositionCode: "SOLD"}
	case TypeAppointmentCreated:
		return AppointmentCreated{Base: b, AppointmentFields: AppointmentFields{AppointmentType: AppointmentSales, VehicleStockNumber: "T1"}}
	case TypeAppointmentRescheduled:
		return AppointmentRescheduled{Base: b}
	case TypeAppointmentCancelled:
		return AppointmentCancelled{Base: b}
	case TypeContactCreated:
		return ContactCreated{Base: b, CreatedAtUTC: time.Now()}
	case TypeContactBasicUpdated:
		return ContactBasicUpdated{Base: b}
	case TypeContactVehicleOfInterestUpdated:
		return ContactVehicleOfInterestUpdated{Base: b, VehicleInterest: &VehicleInterest{Make: "Toyota"}, Contact: []byte(`{"id":"c1"}`)}
	case TypeContactSequenceEnrollmentUpdated:
		return ContactSequenceEnrollmentUpdated{Base: b, InSequence: new(false)}
	case TypeConversationStarted:
		return ConversationStarted{Base: b}
	case TypeConversationReplied:
		return ConversationReplied{Base: b}
	case TypeConversationFlagged:
		return ConversationFlagged{Base: b, FlaggedAtUTC: time.Now()}
	case TypeConversationTakenOver:
		return ConversationTakenOver{Base: b}
	case TypeSequenceEnrollmentCreated:
		return SequenceEnrollmentCreated{Base: b, SequenceEnrollmentFields: SequenceEnrollmentFields{EnrollmentCount: new(0)}}
	case TypeSequenceEnrollmentCompleted:
		return SequenceEnrollmentCompleted{Base: b}
	case TypeSequenceEnrollmentPaused:
		return SequenceEnrollmentPaused{Base: b}
	case TypeSequenceEnrollmentUnenrolled:
		return SequenceEnrollmentUnenrolled{Base: b}
	case TypeSequenceReplyReceived:
		return SequenceReplyReceived{Base: b}
	case TypeSequenceStepExecuting:
		return SequenceStepExecuting{Base: b, SequenceStepFields: SequenceStepFields{StepOrder: new(1)}}
	case TypeSequenceStepExecuted:
		return SequenceStepExecuted{Base: b}
	case TypeSequenceStepFailed:
		return SequenceStepFailed{Base: b, SequenceStepFields: SequenceStepFields{ErrorMessage: "boom"}}
	case TypeSequenceStepSkipped:
		return SequenceStepSkipped{Base: b}
	}
	panic(typ)
}

func TestPublishKeepsZeroAndFalse(t *testing.T) {
	ev, err := prepare(samplePayload(TypeContactSequenceEnrollmentUpdated))
	if err != nil || !strings.Contains(string(ev.Body), `"inSequence":false`) {
		t.Errorf("body = %s, %v", ev.Body, err)
	}
	ev, err = prepare(samplePayload(TypeSequenceEnrollmentCreated))
	if err != nil || !strings.Contains(string(ev.Body), `"enrollmentCount":0`) {
		t.Errorf("body = %s, %v", ev.Body, err)
	}
}

type customPayload struct {
	typ    string
	Fields map[string]any `json:"fields"`
}

func (c customPayload) EventType() string { return c.typ }

type notAnObject []string

func (notAnObject) EventType() string { return TypeLeadCreated }

func TestPublishRefusesInvalid(t *testing.T) {
	noTimestamp := leadCreated("Ana")
	noTimestamp.Timestamp = time.Time{}
	noDealer := leadCreated("Ana")
	noDealer.DealerID = ""
	badID := leadCreated("Ana")
	badID.EventID = "evt 1"
	for _, c := range []struct {
		name  string
		p     Payload
		code  string
		field string
	}{
		{"no timestamp", noTimestamp, CodeMissingField, "timestamp"},
		{"no dealer", noDealer, CodeMissingField, "dealerId"},
		{"bad id", badID, CodeInvalidField, "eventId"},
		{"unknown type", customPayload{typ: "lead.deleted"}, CodeUnknownType, "eventType"},
		{"too large", &LeadCreated{Base: Base{DealerID: "d", Timestamp: time.Now()}, Comments: strings.Repeat("x", MaxBodyBytes)}, CodeTooLarge, ""},
		{"not an object", notAnObject{"a"}, "", ""},
		{"nil", nil, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeSQS{}
			p := &Publisher{SQS: f, QueueURL: queueURL}
			id, err := p.Publish(context.Background(), c.p)
			if err == nil || id != "" {
				t.Fatalf("Publish = %q, %v", id, err)
			}
			if c.code != "" {
				var ve *ValidationError
				if !errors.As(err, &ve) || ve.Code != c.code || ve.Field != c.field {
					t.Errorf("error = %v, want %s %s", err, c.code, c.field)
				}
			}
			if len(f.sent) != 0 {
				t.Error("an invalid event was sent")
			}
			res := p.PublishBatch(context.Background(), []Payload{c.p})
			if len(res) != 1 || res[0].Err == nil || res[0].EventID != "" || len(f.batches) != 0 {
				t.Errorf("PublishBatch = %+v, %d calls", res, len(f.batches))
			}
		})
	}
}

func TestPublishSendError(t *testing.T) {
	boom := errors.New("boom")
	f := &fakeSQS{callErr: func(int) error { return boom }}
	p := &Publisher{SQS: f, QueueURL: queueURL}
	id, err := p.Publish(context.Background(), leadCreated("Ana"))
	if !errors.Is(err, boom) || id == "" {
		t.Errorf("Publish = %q, %v; want the id and the send error", id, err)
	}
}

func TestPublishBatch(t *testing.T) {
	f := &fakeSQS{refuse: "Refuse me", omit: "Forget me"}
	p := &Publisher{SQS: f, QueueURL: queueURL}
	var es []Payload
	for i := range 23 {
		switch i {
		case 4:
			e := leadCreated("Refuse me")
			es = append(es, e)
		case 7:
			e := leadCreated("Ana")
			e.DealerID = "" // invalid
			es = append(es, e)
		case 15:
			es = append(es, leadCreated("Forget me"))
		default:
			es = append(es, leadCreated("Ana"))
		}
	}
	res := p.PublishBatch(context.Background(), es)
	if len(res) != len(es) {
		t.Fatalf("%d results for %d events", len(res), len(es))
	}
	// 22 valid events: 10 + 10 + 2.
	if len(f.batches) != 3 || len(f.batches[0].Entries) != 10 || len(f.batches[1].Entries) != 10 || len(f.batches[2].Entries) != 2 {
		t.Fatalf("batches: %d", len(f.batches))
	}
	sent := map[string]bool{}
	for _, b := range f.batches {
		if aws.ToString(b.QueueUrl) != queueURL {
			t.Errorf("QueueUrl = %q", aws.ToString(b.QueueUrl))
		}
		ids := map[string]bool{}
		for _, e := range b.Entries {
			if ids[aws.ToString(e.Id)] {
				t.Errorf("entry id %s twice in a batch", aws.ToString(e.Id))
			}
			ids[aws.ToString(e.Id)] = true
			ev, err := Parse([]byte(aws.ToString(e.MessageBody)))
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(e.MessageAttributes["eventId"].StringValue) != ev.ID || aws.ToString(e.MessageAttributes["eventType"].StringValue) != ev.Type ||
				aws.ToString(e.MessageAttributes["dealerId"].StringValue) != ev.DealerID {
				t.Errorf("attributes %v do not match %s", e.MessageAttributes, ev.Body)
			}
			sent[ev.ID] = true
		}
	}
	for i, r := range res {
		switch i {
		case 4:
			if r.Err == nil || !strings.Contains(r.Err.Error(), "InvalidMessageContents") || r.EventID == "" {
				t.Errorf("result %d = %+v, want SQS's refusal", i, r)
			}
		case 7:
			var ve *ValidationError
			if !errors.As(r.Err, &ve) || ve.Field != "dealerId" || r.EventID != "" {
				t.Errorf("result %d = %+v, want the validation error", i, r)
			}
		case 15:
			if r.Err == nil || r.EventID == "" {
				t.Errorf("result %d = %+v, want an error for a missing result", i, r)
			}
		default:
			if r.Err != nil || !sent[r.EventID] {
				t.Errorf("result %d = %+v, want sent", i, r)
			}
		}
	}
}

func TestPublishBatchSplitsBySize(t *testing.T) {
	f := &fakeSQS{}
	p := &Publisher{SQS: f, QueueURL: queueURL}
	var es []Payload
	for range 9 {
		e := leadCreated("Ana")
		e.Comments = strings.Repeat("x", 250*1024) // 4 fit in 1 MiB, not 5
		es = append(es, e)
	}
	res := p.PublishBatch(context.Background(), es)
	var sizes []int
	for _, b := range f.batches {
		sizes = append(sizes, len(b.Entries))
		total := 0
		for _, e := range b.Entries {
			total += messageSize([]byte(aws.ToString(e.MessageBody)), e.MessageAttributes)
		}
		if total > 1024*1024 {
			t.Errorf("a batch of %d bytes", total)
		}
	}
	if len(sizes) != 3 || sizes[0] != 4 || sizes[1] != 4 || sizes[2] != 1 {
		t.Errorf("batch sizes = %v, want [4 4 1]", sizes)
	}
	for i, r := range res {
		if r.Err != nil || r.EventID == "" {
			t.Errorf("result %d = %+v", i, r)
		}
	}
}

func TestPublishBatchCallError(t *testing.T) {
	boom := errors.New("throttled")
	f := &fakeSQS{callErr: func(call int) error {
		if call == 1 {
			return boom
		}
		return nil
	}}
	p := &Publisher{SQS: f, QueueURL: queueURL}
	var es []Payload
	for range 25 {
		es = append(es, leadCreated("Ana"))
	}
	res := p.PublishBatch(context.Background(), es)
	for i, r := range res {
		failed := i >= 10 && i < 20
		if failed != errors.Is(r.Err, boom) || r.EventID == "" {
			t.Errorf("result %d = %+v, want failed=%v", i, r, failed)
		}
	}
	if len(p.PublishBatch(context.Background(), nil)) != 0 || len(f.batches) != 3 {
		t.Errorf("an empty batch made a call")
	}
}
