package routing_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"

	catalog "github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/routing"
	"github.com/dealerai/integrations/shared/targets"
)

// longDealer is a dealer id SQS would refuse as a group id (over 128 characters, a space).
var longDealer = "dealer with a name of more than one hundred and twenty-eight characters, which SQS does not take as a MessageGroupId as it stands, ok"

// The events and deliveries queues are SQS fair queues: every message carries its dealer's
// MessageGroupId. Checked on the wire: the messages as the SQS emulator received them (it
// keeps the group id of a standard queue's message and returns it to a receive that asks for
// it, although it does not schedule by it).
func TestEveryMessageCarriesItsDealersGroupID(t *testing.T) {
	env := localtest.New(t)
	ctx := context.Background()

	// producers: Publish and PublishBatch to the events queue
	pub := &catalog.Publisher{SQS: env.SQS, QueueURL: env.QueueURL(resources.EventsQueue)}
	lead := func(dealer string) catalog.Payload {
		p := &catalog.LeadCreated{}
		raw, _ := catalog.Example(catalog.TypeLeadCreated)
		if err := json.Unmarshal(raw, p); err != nil {
			t.Fatal(err)
		}
		p.DealerID, p.EventID = dealer, ""
		return p
	}
	if _, err := pub.Publish(ctx, lead("dlr_a")); err != nil {
		t.Fatal(err)
	}
	for _, r := range pub.PublishBatch(ctx, []catalog.Payload{lead("dlr_b"), lead(longDealer), lead("dlr_a")}) {
		if r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	var bodies []string
	groups := map[string]int{}
	for _, m := range env.Drain(t, resources.EventsQueue, 4) {
		groups[m.Attributes["MessageGroupId"]]++
		bodies = append(bodies, aws.ToString(m.Body))
	}
	wantGroups(t, "events queue", groups, map[string]int{"dlr_a": 2, "dlr_b": 1, catalog.MessageGroupID(longDealer): 1})

	// the router: one delivery per target, each in its dealer's group
	tg := &fakeTargets{targets: map[string][]targets.Target{
		"dlr_a":    {sub("sub_a1", true, "*"), sub("sub_a2", true, "lead.*")},
		"dlr_b":    {sub("sub_b1", true, "*")},
		longDealer: {sub("sub_l1", true, "*")},
	}}
	r := &routing.Router{Targets: tg, SQS: env.SQS, DeliveriesQueueURL: env.QueueURL(resources.DeliveriesQueue),
		EventsDLQURL: env.QueueURL(resources.EventsDLQ), Log: slog.New(slog.NewJSONHandler(io.Discard, nil))}
	var ev events.SQSEvent
	for i, b := range bodies {
		ev.Records = append(ev.Records, events.SQSMessage{MessageId: "m" + string(rune('0'+i)), Body: b})
	}
	resp, err := r.Handle(ctx, ev)
	if err != nil || len(resp.BatchItemFailures) > 0 {
		t.Fatalf("route: %v %+v", err, resp)
	}
	groups = map[string]int{}
	for _, m := range env.Drain(t, resources.DeliveriesQueue, 6) {
		d, err := deliveryq.Decode(aws.ToString(m.Body))
		if err != nil {
			t.Fatal(err)
		}
		if g := m.Attributes["MessageGroupId"]; g != catalog.MessageGroupID(d.DealerID) {
			t.Errorf("delivery %s of %s in group %q", d.DeliveryID, d.DealerID, g)
		}
		groups[m.Attributes["MessageGroupId"]]++
	}
	wantGroups(t, "deliveries queue", groups, map[string]int{"dlr_a": 4, "dlr_b": 1, catalog.MessageGroupID(longDealer): 1})
}

func wantGroups(t *testing.T, queue string, got, want map[string]int) {
	t.Helper()
	keys := func(m map[string]int) []string {
		var k []string
		for g := range m {
			k = append(k, g)
		}
		slices.Sort(k)
		return k
	}
	if !slices.Equal(keys(got), keys(want)) {
		t.Fatalf("%s: groups %v, want %v", queue, got, want)
	}
	for g, n := range want {
		if got[g] != n {
			t.Errorf("%s: %d messages in group %q, want %d", queue, got[g], g, n)
		}
	}
}

func TestMessageGroupID(t *testing.T) {
	for _, id := range []string{"dlr_42", "a", "d:1.x-y"} {
		if g := catalog.MessageGroupID(id); g != id {
			t.Errorf("MessageGroupID(%q) = %q, want the id", id, g)
		}
	}
	g := catalog.MessageGroupID(longDealer)
	if len(g) > 128 || g != catalog.MessageGroupID(longDealer) || g == catalog.MessageGroupID(longDealer+"!") {
		t.Errorf("MessageGroupID of a long id: %q", g)
	}
	if g := catalog.MessageGroupID("dlr é"); g[:7] != "dealer-" {
		t.Errorf("MessageGroupID of a non-ASCII id: %q", g)
	}
}
