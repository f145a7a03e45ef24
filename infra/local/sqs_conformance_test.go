package local_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/resources"
)

// The design relies on the SQS emulator behaving like SQS in these respects; the first two
// fail on an unpatched local-aws-sqs 2.0.2 (see infra/local/sqs-emulator.cjs).

func receiveOne(t *testing.T, env *localtest.Env, queueURL string, wait int32) *types.Message {
	t.Helper()
	out, err := env.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: wait,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		t.Fatalf("receive: %v", err)
	}
	if len(out.Messages) == 0 {
		return nil
	}
	if len(out.Messages) > 1 {
		t.Fatalf("received %d messages, want 1", len(out.Messages))
	}
	return &out.Messages[0]
}

func receiveCount(t *testing.T, m *types.Message) int {
	t.Helper()
	n, err := strconv.Atoi(m.Attributes[string(types.MessageSystemAttributeNameApproximateReceiveCount)])
	if err != nil {
		t.Fatalf("ApproximateReceiveCount: %v", err)
	}
	return n
}

func send(t *testing.T, env *localtest.Env, queueURL, body string) {
	t.Helper()
	_, err := env.SQS.SendMessage(context.Background(), &sqs.SendMessageInput{
		QueueUrl: aws.String(queueURL), MessageBody: aws.String(body),
		MessageAttributes: map[string]types.MessageAttributeValue{
			"eventType": {DataType: aws.String("String"), StringValue: aws.String("lead.created")},
			"attempt":   {DataType: aws.String("Number"), StringValue: aws.String("3")},
		},
	})
	if err != nil {
		t.Fatalf("send: %v", err)
	}
}

func TestSQSEmulatorRedriveCountsOnlyReceives(t *testing.T) {
	env := localtest.New(t)
	ctx := context.Background()
	queue, dlq := env.QueueURL(resources.DeliveriesQueue), env.QueueURL(resources.DeliveriesDLQ)
	send(t, env, queue, "payload")

	for want := 1; want <= resources.DeliveriesMaxReceiveCount; want++ {
		m := receiveOne(t, env, queue, 5)
		if m == nil {
			t.Fatalf("receive %d: no message (moved to the DLQ too early?)", want)
		}
		if got := receiveCount(t, m); got != want {
			t.Fatalf("receive %d: ApproximateReceiveCount = %d", want, got)
		}
		// a backoff as the delivery handler sets it; it must not count as a receive
		if _, err := env.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
			QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 1,
		}); err != nil {
			t.Fatal(err)
		}
		if want == resources.DeliveriesMaxReceiveCount {
			// the last attempt hands the message back at once, so redrive moves it
			if _, err := env.SQS.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{
				QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0,
			}); err != nil {
				t.Fatal(err)
			}
		}
	}
	dead := receiveOne(t, env, dlq, 5)
	if dead == nil || aws.ToString(dead.Body) != "payload" {
		t.Fatalf("DLQ after %d receives: got %v, want the message", resources.DeliveriesMaxReceiveCount, dead)
	}
	if m := receiveOne(t, env, queue, 1); m != nil {
		t.Fatalf("message still on the source queue with count %d", receiveCount(t, m))
	}
}

func TestSQSEmulatorLongPollReturnsEarly(t *testing.T) {
	env := localtest.New(t)
	queue := env.QueueURL(resources.EventsQueue)
	go func() {
		time.Sleep(300 * time.Millisecond)
		send(t, env, queue, "early")
	}()
	start := time.Now()
	m := receiveOne(t, env, queue, 10)
	waited := time.Since(start)
	if m == nil {
		t.Fatal("long poll returned no message")
	}
	// SQS answers as soon as a message is available, not after WaitTimeSeconds (10 s)
	if waited >= 5*time.Second {
		t.Fatalf("long poll with one message available waited %v (WaitTimeSeconds 10)", waited)
	}
}

func TestSQSEmulatorAttributesRoundTrip(t *testing.T) {
	env := localtest.New(t)
	queue := env.QueueURL(resources.EventsQueue)
	before := time.Now().Add(-time.Second).UnixMilli()
	send(t, env, queue, `{"eventType":"lead.created"}`)
	m := receiveOne(t, env, queue, 5)
	if m == nil {
		t.Fatal("no message")
	}
	if aws.ToString(m.Body) != `{"eventType":"lead.created"}` {
		t.Fatalf("body = %q", aws.ToString(m.Body))
	}
	if v := m.MessageAttributes["eventType"]; aws.ToString(v.StringValue) != "lead.created" || aws.ToString(v.DataType) != "String" {
		t.Fatalf("eventType attribute = %+v", v)
	}
	if v := m.MessageAttributes["attempt"]; aws.ToString(v.StringValue) != "3" || aws.ToString(v.DataType) != "Number" {
		t.Fatalf("attempt attribute = %+v", v)
	}
	sent, err := strconv.ParseInt(m.Attributes["SentTimestamp"], 10, 64)
	if err != nil || sent < before {
		t.Fatalf("SentTimestamp = %q", m.Attributes["SentTimestamp"])
	}
	if receiveCount(t, m) != 1 {
		t.Fatalf("ApproximateReceiveCount = %d on first receive", receiveCount(t, m))
	}
}

func TestSQSEmulatorMoveTaskRedrivesDLQ(t *testing.T) {
	env := localtest.New(t)
	ctx := context.Background()
	queue, dlq := env.QueueURL(resources.EventsQueue), env.QueueURL(resources.EventsDLQ)
	send(t, env, dlq, "redrive me")

	_, err := env.SQS.StartMessageMoveTask(ctx, &sqs.StartMessageMoveTaskInput{
		SourceArn:      aws.String(env.QueueARNs[resources.EventsDLQ.ID]),
		DestinationArn: aws.String(env.QueueARNs[resources.EventsQueue.ID]),
	})
	if err != nil {
		t.Fatalf("StartMessageMoveTask: %v", err)
	}
	m := receiveOne(t, env, queue, 10)
	if m == nil || aws.ToString(m.Body) != "redrive me" {
		t.Fatalf("after the move task the source queue holds %v", m)
	}
	if got := m.MessageAttributes["eventType"]; aws.ToString(got.StringValue) != "lead.created" {
		t.Fatalf("message attributes lost in the move: %+v", m.MessageAttributes)
	}
}
