package events_test

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/events"
)

func ExampleParse() {
	ev, err := events.Parse([]byte(`{"eventType":"lead.received","dealerId":"dlr_42",
		"timestamp":"2026-11-27T15:04:05Z","firstName":"Ana","internalScore":97,"email":null}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ev.Type, ev.ID, ev.DealerID)
	fmt.Println(string(ev.Body))

	_, err = events.Parse([]byte(`{"eventType":"sequence.step.failed","dealerId":"dlr_42",
		"timestamp":"2026-11-27T15:04:05Z","stepOrder":"2"}`))
	fmt.Println(err)
	// Output:
	// lead.received evt_a47a05c7af837ceda92f5cadf2 dlr_42
	// {"eventType":"lead.received","eventId":"evt_a47a05c7af837ceda92f5cadf2","dealerId":"dlr_42","timestamp":"2026-11-27T15:04:05Z","firstName":"Ana"}
	// invalid_field: stepOrder: must be a number
}

// printSender stands in for an *sqs.Client.
type printSender struct{ events.SQSSender }

func (printSender) SendMessage(_ context.Context, in *sqs.SendMessageInput, _ ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	fmt.Println(aws.ToString(in.MessageBody))
	return &sqs.SendMessageOutput{}, nil
}

func ExamplePublisher_Publish() {
	p := &events.Publisher{SQS: printSender{}, QueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/events"}
	e := &events.AppointmentCreated{
		Base: events.Base{
			EventID:   "evt_01JDQ81D4E6F8G0H2J4K6M8N0P", // usually left empty: Publish stamps one
			DealerID:  "dlr_42",
			Timestamp: time.Date(2026, 11, 28, 10, 11, 30, 0, time.UTC),
		},
		AppointmentFields: events.AppointmentFields{
			AppointmentType: events.AppointmentTestDrive,
			Name:            "Priya Natarajan",
			AppointmentTime: time.Date(2026, 11, 29, 14, 30, 0, 0, time.UTC),
			VehicleModel:    "Accord Hybrid",
			ServiceType:     "not for a test drive: dropped",
		},
	}
	id, err := p.Publish(context.Background(), e)
	fmt.Println(id, err)
	// Output:
	// {"eventType":"appointment.created","eventId":"evt_01JDQ81D4E6F8G0H2J4K6M8N0P","dealerId":"dlr_42","timestamp":"2026-11-28T10:11:30Z","appointmentType":"testdrive","name":"Priya Natarajan","appointmentTime":"2026-11-29T14:30:00Z","vehicleModel":"Accord Hybrid"}
	// evt_01JDQ81D4E6F8G0H2J4K6M8N0P <nil>
}
