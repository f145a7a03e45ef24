package localtest

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/shared/resources"
)

// Publish sends raw event bodies to the events queue, as a producer would (no validation, so
// poison can be sent too).
func (e *Env) Publish(t testing.TB, bodies ...[]byte) {
	t.Helper()
	for i := 0; i < len(bodies); i += 10 {
		var entries []sqstypes.SendMessageBatchRequestEntry
		for j, b := range bodies[i:min(i+10, len(bodies))] {
			entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j)), MessageBody: aws.String(string(b))})
		}
		out, err := e.SQS.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(e.QueueURL(resources.EventsQueue)), Entries: entries})
		if err != nil || len(out.Failed) > 0 {
			t.Fatalf("publish: %v %v", err, out)
		}
	}
}

// Depth is the number of messages in a queue: visible, in flight or delayed.
func (e *Env) Depth(t testing.TB, q resources.Queue) int {
	t.Helper()
	out, err := e.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(e.QueueURL(q)),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed},
	})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		k, _ := strconv.Atoi(v)
		n += k
	}
	return n
}

// Drain receives messages of a (dead-letter) queue until it has want of them or 20 s passed.
func (e *Env) Drain(t testing.TB, q resources.Queue, want int) []sqstypes.Message {
	t.Helper()
	var msgs []sqstypes.Message
	deadline := time.Now().Add(20 * time.Second)
	for len(msgs) < want && time.Now().Before(deadline) {
		out, err := e.SQS.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(e.QueueURL(q)), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, out.Messages...)
	}
	return msgs
}

// Example is the catalog example of eventType for dealer, with fields overridden, and the
// event it parses to.
func Example(t testing.TB, eventType, dealer string, fields map[string]any) ([]byte, *events.Event) {
	t.Helper()
	raw, ok := events.Example(eventType)
	if !ok {
		t.Fatalf("no example of %s", eventType)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	m["dealerId"] = dealer
	for k, v := range fields {
		m[k] = v
	}
	body, _ := json.Marshal(m)
	ev, err := events.Parse(body)
	if err != nil {
		t.Fatalf("example %s: %v", eventType, err)
	}
	return body, ev
}

// Eventually polls cond every 50 ms and fails the test when it is still false after timeout.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Visible is the number of messages of a queue that a receive can return now.
func (e *Env) Visible(t testing.TB, q resources.Queue) int {
	t.Helper()
	out, err := e.SQS.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(e.QueueURL(q)),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages},
	})
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(out.Attributes[string(sqstypes.QueueAttributeNameApproximateNumberOfMessages)])
	return n
}
