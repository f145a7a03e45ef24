package routing

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	catalog "github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/deliveryq"
)

func TestEncodeEntryIsEncode(t *testing.T) {
	for _, body := range []string{
		`{"eventType":"lead.created","dealerId":"dlr_1","timestamp":"2026-11-27T15:04:05Z","firstName":"Ana","comments":"Tom & Jerry <3 \u00e9\"quoted\""}`,
		`{"eventType":"lead.created","dealerId":"dlr_1","timestamp":"2026-11-27T15:04:05Z"}`,
	} {
		ev, err := catalog.Parse([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		m := deliveryq.Message{DeliveryID: "dlv_1", EventID: ev.ID, EventType: ev.Type, DealerID: ev.DealerID,
			Target: deliveryq.Target{Kind: deliveryq.KindSubscription, ID: "sub_1"}, CreatedAt: time.Now(), RetryOf: "dlv_0", Payload: ev.Body}
		got, err := encodeEntry(&m, "3")
		if err != nil {
			t.Fatal(err)
		}
		want, _ := m.Encode("3")
		// the same message: equal once decoded, the payload exactly the event's body
		dec, err := deliveryq.Decode(aws.ToString(got.MessageBody))
		if err != nil {
			t.Fatal(err)
		}
		ref, _ := deliveryq.Decode(aws.ToString(want.MessageBody))
		if string(dec.Payload) != string(ev.Body) || !json.Valid(dec.Payload) {
			t.Fatalf("payload %s, want the event's body %s", dec.Payload, ev.Body)
		}
		dec.Payload, ref.Payload = nil, nil
		if !dec.CreatedAt.Equal(ref.CreatedAt) {
			t.Fatalf("createdAt %v, want %v", dec.CreatedAt, ref.CreatedAt)
		}
		dec.CreatedAt, ref.CreatedAt = time.Time{}, time.Time{}
		a, _ := json.Marshal(dec)
		b, _ := json.Marshal(ref)
		if string(a) != string(b) || aws.ToString(got.Id) != "3" || len(got.MessageAttributes) != len(want.MessageAttributes) {
			t.Fatalf("entry %+v\nwant  %+v", dec, ref)
		}
		if string(m.Payload) != string(ev.Body) {
			t.Fatal("encodeEntry changed the message")
		}
	}
}
