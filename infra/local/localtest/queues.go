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

// Drain receives messages of a (dead-letter) queue until it has want distinct ones or 20 s
// passed. They stay on the queue, hidden for ReceiveVisibility.
func (e *Env) Drain(t testing.TB, q resources.Queue, want int) []sqstypes.Message {
	t.Helper()
	return receiveDistinct(t, e.SQS, e.QueueURL(q), want, 20*time.Second)
}

// ReceiveAll receives every message a queue holds now, deleting none: it counts the queue
// first, when none may be in flight (nothing else receives from it), then receives until it
// has seen that many distinct messages (60 s at most). The messages stay on the queue, hidden
// for ReceiveVisibility.
func ReceiveAll(t testing.TB, client *sqs.Client, queueURL string) []sqstypes.Message {
	t.Helper()
	out, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(queueURL),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed},
	})
	if err != nil {
		t.Fatalf("count %s: %v", queueURL, err)
	}
	count := func(a sqstypes.QueueAttributeName) int {
		n, _ := strconv.Atoi(out.Attributes[string(a)])
		return n
	}
	if n := count(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible); n > 0 {
		t.Fatalf("%s: %d messages in flight before the test reads it: something else receives from it", queueURL, n)
	}
	want := count(sqstypes.QueueAttributeNameApproximateNumberOfMessages) + count(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed)
	msgs := receiveDistinct(t, client, queueURL, want, 60*time.Second)
	if len(msgs) < want {
		t.Fatalf("%s: %d of its %d messages received in 60 s", queueURL, len(msgs), want)
	}
	return msgs
}

// ReceiveVisibility is how long the test helpers' receives hide a message: long enough for
// them to see the others, short enough that a message whose receive was lost on the way (the
// SDK retries the call; the messages the lost answer carried stay hidden) comes back to a
// later receive within the helpers' waits.
const ReceiveVisibility = 5

// receiveDistinct receives until it has want distinct messages (by message id) or timeout
// passed.
func receiveDistinct(t testing.TB, client *sqs.Client, queueURL string, want int, timeout time.Duration) []sqstypes.Message {
	t.Helper()
	seen := map[string]bool{}
	var msgs []sqstypes.Message
	deadline := time.Now().Add(timeout)
	for len(msgs) < want && time.Now().Before(deadline) {
		out, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: ReceiveVisibility,
			MessageAttributeNames: []string{"All"}, MessageSystemAttributeNames: []sqstypes.MessageSystemAttributeName{sqstypes.MessageSystemAttributeNameAll},
		})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range out.Messages {
			if id := aws.ToString(m.MessageId); !seen[id] {
				seen[id] = true
				msgs = append(msgs, m)
			}
		}
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
