package inbound_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
)

// queue stands in for an *sqs.Client: one receive of two messages, then nothing.
type queue struct{ bodies []string }

func (q *queue) ReceiveMessage(context.Context, *sqs.ReceiveMessageInput, ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error) {
	out := &sqs.ReceiveMessageOutput{}
	for i, b := range q.bodies {
		out.Messages = append(out.Messages, types.Message{Body: aws.String(b), ReceiptHandle: aws.String(fmt.Sprint("rh-", i))})
	}
	q.bodies = nil
	return out, nil
}

func (q *queue) DeleteMessage(_ context.Context, in *sqs.DeleteMessageInput, _ ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error) {
	fmt.Println("deleted", aws.ToString(in.ReceiptHandle))
	return &sqs.DeleteMessageOutput{}, nil
}

// A DealerAI service's consumer: long-poll the inbound queue (INBOUND_QUEUE_URL), act on each
// change, delete what was handled. A body that does not validate cannot get better: leave it,
// and the queue's redrive policy moves it to the inbound DLQ. Deduplicate on the event id.
func Example() {
	sold, _ := events.InboundExample(inbound.TypeCRMLeadUpdated)
	client := &queue{bodies: []string{string(sold), `{"eventType":"crm.lead.updated","dealerId":"dlr_42"}`}}
	queueURL := "https://sqs.us-east-1.amazonaws.com/123456789012/dealerai-Inbound"

	ctx := context.Background()
	out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 20,
	})
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range out.Messages {
		ev, err := inbound.Parse([]byte(aws.ToString(m.Body)))
		var invalid *events.ValidationError
		if errors.As(err, &invalid) {
			fmt.Println("invalid:", invalid.Field, invalid.Message)
			continue
		}
		switch ev.Type {
		case inbound.TypeCRMLeadUpdated:
			fmt.Printf("%s: lead %s is %s/%s in %s, assigned to %s\n", ev.ID, ev.LeadID, ev.Status, ev.SubStatus, ev.Platform, ev.Assignee.Name)
		case inbound.TypeCRMLeadCreated, inbound.TypeCRMAppointmentUpdated, inbound.TypeServiceAppointmentUpdated:
			fmt.Println(ev.Type, ev.PlatformIDs)
		}
		_, _ = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle})
	}
	// Output:
	// inb_b449803860c515eab2ad15d412: lead 6553f0c2a1b4e7d8c9f01234 is SOLD/SOLD_DELIVERED in vinsolutions, assigned to Luis Ortega
	// deleted rh-0
	// invalid: eventId is required
}
