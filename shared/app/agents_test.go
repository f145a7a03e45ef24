package app_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/connector"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/delivery"
	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/targets"
)

// stubConnector answers what the test says and remembers what it was given.
type stubConnector struct {
	res  connector.Result
	err  error
	got  *connector.Delivery
	wait time.Duration
}

func (c *stubConnector) Deliver(ctx context.Context, d *connector.Delivery) (connector.Result, error) {
	c.got = d
	if c.wait > 0 {
		select {
		case <-time.After(c.wait):
		case <-ctx.Done():
			return connector.Result{}, &connector.AttemptError{Class: connector.ClassTimeout, Message: "XTime booking: " + ctx.Err().Error()}
		}
	}
	return c.res, c.err
}

// noCorrelations has nothing saved and saves nothing.
type noCorrelations struct{ err error }

func (n noCorrelations) Get(context.Context, string, string, string) (*agents.Correlation, error) {
	if n.err != nil {
		return nil, n.err
	}
	return nil, agents.ErrNotFound
}

func (noCorrelations) Save(context.Context, string, string, string, agents.Correlation) error {
	return nil
}

func (noCorrelations) SavePointers(context.Context, string, string, []agents.ReversePointer) error {
	return nil
}

func (noCorrelations) Lease(context.Context, string, string, string, string, time.Time) error {
	return nil
}

func (noCorrelations) Release(context.Context, string, string, string, string) error { return nil }

func agentTarget(item map[string]types.AttributeValue) *targets.Target {
	return &targets.Target{Target: deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}, Enabled: true, Events: []string{"appointment.*"}, Item: item}
}

func xtimeItem() map[string]types.AttributeValue {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	return map[string]types.AttributeValue{
		"pk": s("DEALER#dlr_42"), "sk": s("T#AGENT#xtime"), "kind": s("agent"), "id": s("xtime"),
		"enabled":     &types.AttributeValueMemberBOOL{Value: true},
		"settings":    &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"dealerCode": s("XT1")}},
		"credentials": &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{"apiKey": s("k")}},
	}
}

func appointmentMessage(t *testing.T) *deliveryq.Message {
	raw, _ := events.Example(events.TypeAppointmentCreated)
	ev, err := events.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	target := deliveryq.Target{Kind: deliveryq.KindAgent, ID: "xtime"}
	return &deliveryq.Message{DeliveryID: deliveryq.DeliveryID(ev.ID, ev.Timestamp, target), EventID: ev.ID, EventType: ev.Type,
		DealerID: ev.DealerID, Target: target, Payload: ev.Body}
}

func TestAgentDelivererMapsOutcomes(t *testing.T) {
	ctx := context.Background()
	msg := appointmentMessage(t)
	cases := []struct {
		name string
		res  connector.Result
		err  error
		want delivery.Outcome
	}{
		{"delivered", connector.Result{StatusCode: 200, Progress: map[string]string{"appointmentId": "A1"}, Correlation: map[string]string{"appointmentId": "A1"}}, nil,
			delivery.Outcome{Result: delivery.Succeeded, Attempt: deliverylog.Attempt{StatusCode: 200}, Progress: map[string]string{"appointmentId": "A1"}, Requested: true}},
		{"skipped", connector.Skip("XTime books service appointments only"), nil,
			delivery.Outcome{Result: delivery.Skipped, Reason: "XTime books service appointments only"}},
		{"failed", connector.Result{}, &connector.AttemptError{Class: connector.ClassHTTPStatus, StatusCode: 503, Message: "XTime booking: HTTP 503",
			Snippet: "busy", RetryAfter: 2 * time.Minute, Progress: map[string]string{"cancelled": "A0"}},
			delivery.Outcome{Result: delivery.Failed, Attempt: deliverylog.Attempt{StatusCode: 503, ErrorClass: "http_status", Error: "XTime booking: HTTP 503",
				ResponseSnippet: "busy"}, RetryAfter: 2 * time.Minute, Progress: map[string]string{"cancelled": "A0"}, Requested: true}},
		{"rejected", connector.Result{}, &connector.AttemptError{Class: connector.ClassHTTPStatus, StatusCode: 422, Message: "XTime booking: HTTP 422", Permanent: true},
			delivery.Outcome{Result: delivery.FailedPermanently, Attempt: deliverylog.Attempt{StatusCode: 422, ErrorClass: "http_status", Error: "XTime booking: HTTP 422"}, Requested: true}},
		{"pending dependency", connector.Result{}, connector.PendingDependency("no lead yet"),
			delivery.Outcome{Result: delivery.Failed, Attempt: deliverylog.Attempt{ErrorClass: "pending_dependency", Error: "no lead yet"}}},
		{"busy", connector.Result{}, &connector.AttemptError{Class: connector.ClassBusy, Message: "another delivery of the lead is running"},
			delivery.Outcome{Result: delivery.Failed, Attempt: deliverylog.Attempt{ErrorClass: "busy", Error: "another delivery of the lead is running"}}},
		{"blocked", connector.Result{}, &connector.AttemptError{Class: connector.ClassBlocked, Message: "not one of XTime's hosts", Permanent: true},
			delivery.Outcome{Result: delivery.FailedPermanently, Attempt: deliverylog.Attempt{ErrorClass: "blocked", Error: "not one of XTime's hosts"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			stub := &stubConnector{res: c.res, err: c.err}
			d := &app.AgentDeliverer{Dispatcher: &agents.Dispatcher{Correlations: noCorrelations{}, HTTP: &http.Client{}, Platforms: registry.Platforms(),
				Connectors: map[string]connector.Connector{"xtime": stub}}}
			rec := &deliverylog.Record{Progress: map[string]string{"cancelled": "A0"}}
			out, err := d.Deliver(ctx, msg, agentTarget(xtimeItem()), 2, rec)
			if err != nil {
				t.Fatal(err)
			}
			if out.Attempt.DurationMs < 0 {
				t.Fatalf("duration %d", out.Attempt.DurationMs)
			}
			out.Attempt.DurationMs = 0
			if !equalOutcome(out, c.want) {
				t.Fatalf("outcome\n%+v\nwant\n%+v", out, c.want)
			}
			if stub.got.Attempt != 2 || stub.got.Progress["cancelled"] != "A0" || stub.got.Credentials["apiKey"] != "k" ||
				stub.got.Settings["dealerCode"] != "XT1" || stub.got.Settings["rescheduleStrategy"] != "update" {
				t.Fatalf("the connector got %+v", stub.got)
			}
		})
	}
}

func equalOutcome(a, b delivery.Outcome) bool {
	if len(a.Progress) == 0 && len(b.Progress) == 0 {
		a.Progress, b.Progress = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// TestAgentDelivererInternalErrors: what is not a failed attempt is returned, for the handler
// to record as an internal failure and retry.
func TestAgentDelivererInternalErrors(t *testing.T) {
	ctx := context.Background()
	msg := appointmentMessage(t)
	unreachable := errors.New("config table unreachable")
	d := &app.AgentDeliverer{Dispatcher: &agents.Dispatcher{Correlations: noCorrelations{err: unreachable}, HTTP: &http.Client{}, Platforms: registry.Platforms(),
		Connectors: map[string]connector.Connector{"xtime": &stubConnector{}}}}
	if _, err := d.Deliver(ctx, msg, agentTarget(xtimeItem()), 1, nil); !errors.Is(err, unreachable) {
		t.Fatalf("correlation store down: %v", err)
	}
	bad := xtimeItem()
	bad["sk"] = &types.AttributeValueMemberS{Value: "T#SUB#sub_1"}
	if _, err := d.Deliver(ctx, msg, agentTarget(bad), 1, nil); err == nil {
		t.Fatal("an item that is not an agent was delivered to")
	}
}

// TestAgentDelivererBoundsTheAttempt: a flow that takes longer than Timeout is cut short.
func TestAgentDelivererBoundsTheAttempt(t *testing.T) {
	stub := &stubConnector{wait: time.Minute}
	d := &app.AgentDeliverer{Timeout: 50 * time.Millisecond, Dispatcher: &agents.Dispatcher{Correlations: noCorrelations{}, HTTP: &http.Client{}, Platforms: registry.Platforms(),
		Connectors: map[string]connector.Connector{"xtime": stub}}}
	start := time.Now()
	out, err := d.Deliver(context.Background(), appointmentMessage(t), agentTarget(xtimeItem()), 1, nil)
	if err != nil || out.Result != delivery.Failed || out.Attempt.ErrorClass != "timeout" || time.Since(start) > 5*time.Second {
		t.Fatalf("%+v %v after %v", out, err, time.Since(start))
	}
	if got := app.AgentAttemptTimeout(10 * time.Second); got != 40*time.Second {
		t.Fatalf("AgentAttemptTimeout(10s) = %v", got)
	}
}
