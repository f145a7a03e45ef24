package agentstest

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/resources"
)

// TestPlatformOutOfThePlanGetsNothing: VinSolutions is configured and on; DealerAI staff take
// it out of the dealer's plan. The agent says so; a lead then reaches DealerSocket (in the
// plan) and nothing reaches VinSolutions — no delivery is even routed; a delivery queued for
// it before the change is skipped with the reason. Back in the plan, it is delivered to
// again.
func TestPlatformOutOfThePlanGetsNothing(t *testing.T) {
	ctx := context.Background()
	s := newStack(t)
	vs := newFakeVinSolutions(t, vsCreds)
	ds := newFakeDealerSocket(t, dsCreds)
	s.enable("vinsolutions", vs.settings(), vsCreds)
	s.enable("dealersocket", ds.settings(), dsCreds)
	s.setPlan("dealersocket", "fortellis", "xtime")

	var agent struct {
		Enabled, Available bool
		UnavailableReason  string
	}
	s.call("GET", "/v1/agents/vinsolutions", dealer, nil).json(t, &agent)
	if !agent.Enabled || agent.Available || agent.UnavailableReason != plans.UnavailableReason {
		t.Fatalf("the agent out of the plan shows %+v", agent)
	}

	lead, leadEv := example(t, "lead.created", nil)
	s.publish(lead)
	s.waitRecord("dealersocket", leadEv, 30*time.Second, status(deliverylog.StatusSucceeded)) // the router has routed it
	time.Sleep(settle)
	if rec, err := s.log.Get(ctx, dealer, agentTarget("vinsolutions"), deliveryID("vinsolutions", leadEv), true); !errors.Is(err, deliverylog.ErrNotFound) {
		t.Errorf("a delivery to the platform out of the plan was routed: %+v %v", rec, err)
	}
	if reqs := vs.Requests(""); len(reqs) != 0 {
		t.Fatalf("VinSolutions received %v", paths(reqs))
	}

	// a delivery the router queued before the plan changed
	queued := deliveryq.Message{DeliveryID: deliveryID("vinsolutions", leadEv), EventID: leadEv.ID, EventType: leadEv.Type,
		DealerID: dealer, Target: agentTarget("vinsolutions"), CreatedAt: time.Now(), Payload: leadEv.Body}
	entry, err := queued.Encode("1")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.env.SQS.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(s.env.QueueURL(resources.DeliveriesQueue)),
		MessageBody: entry.MessageBody, MessageAttributes: entry.MessageAttributes}); err != nil {
		t.Fatal(err)
	}
	rec := s.waitDelivery("vinsolutions", queued.DeliveryID, 30*time.Second, status(deliverylog.StatusSkipped))
	if rec.LastError != plans.SkipReason || rec.AttemptCount != 0 {
		t.Errorf("skipped delivery %+v, want the reason %q and no attempt", rec, plans.SkipReason)
	}
	if reqs := vs.Requests(""); len(reqs) != 0 {
		t.Fatalf("VinSolutions received %v", paths(reqs))
	}

	// back in the plan: the next lead reaches it (once the router's cache, which holds a
	// dealer's targets and plan at most this long, has let the old plan go)
	s.setPlan("dealersocket", "fortellis", "xtime", "vinsolutions")
	time.Sleep(app.RouterTargetCacheTTL)
	next, nextEv := example(t, "lead.created", map[string]any{"eventId": events.NewEventID(), "leadId": "lead_plan_back"})
	s.publish(next)
	s.waitRecord("vinsolutions", nextEv, 30*time.Second, status(deliverylog.StatusSucceeded))
	if n := len(vs.Requests("")); n == 0 {
		t.Error("VinSolutions received nothing once back in the plan")
	}
	if r := s.call("PUT", "/v1/agents/xtime", dealer, map[string]any{"enabled": true}); r.status == http.StatusForbidden {
		t.Errorf("xtime is in the plan, yet: %s", r.body)
	}
}
