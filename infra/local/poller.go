package local

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

// SQSFunc is the function the router and delivery Lambdas hand to lambda.Start.
type SQSFunc func(context.Context, events.SQSEvent) (events.SQSEventResponse, error)

// SQSPoller drives an SQS handler the way Lambda's event source mapping does: long-poll
// batches of up to BatchSize, records with the attributes Lambda sets, ReportBatchItemFailures
// honoured (successful records deleted, failed ones left for SQS to redeliver), the whole
// batch left in place when the invocation fails (an error or a panic).
type SQSPoller struct {
	SQS         *sqs.Client
	QueueURL    string
	QueueARN    string
	Handler     SQSFunc
	BatchSize   int32 // default 10
	Concurrency int   // concurrent invocations, default 4
	// Timeout is the function timeout each invocation's context carries.
	Timeout time.Duration
	Log     *slog.Logger
}

// Run polls until ctx ends.
func (p *SQSPoller) Run(ctx context.Context) {
	if p.BatchSize == 0 {
		p.BatchSize = 10
	}
	if p.Concurrency == 0 {
		p.Concurrency = 4
	}
	if p.Timeout == 0 {
		p.Timeout = time.Minute
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
	var wg sync.WaitGroup
	for range p.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				if err := p.pollOnce(ctx); err != nil && ctx.Err() == nil {
					p.Log.Warn("poll failed", "queue", p.QueueARN, "error", err.Error())
					sleep(ctx, time.Second)
				}
			}
		}()
	}
	wg.Wait()
}

func (p *SQSPoller) pollOnce(ctx context.Context) error {
	out, err := p.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.QueueURL),
		MaxNumberOfMessages:         p.BatchSize,
		WaitTimeSeconds:             2,
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return err
	}
	if len(out.Messages) == 0 {
		return nil
	}
	event := events.SQSEvent{Records: make([]events.SQSMessage, len(out.Messages))}
	handles := map[string]string{}
	for i, m := range out.Messages {
		event.Records[i] = p.record(m)
		handles[aws.ToString(m.MessageId)] = aws.ToString(m.ReceiptHandle)
	}
	resp, err := p.invoke(ctx, event)
	if err != nil {
		p.Log.Warn("invocation failed; the batch stays on the queue", "queue", p.QueueARN, "records", len(event.Records), "error", err.Error())
		return nil
	}
	for _, f := range resp.BatchItemFailures {
		delete(handles, f.ItemIdentifier)
	}
	return p.deleteAll(ctx, handles)
}

// invoke calls the handler with the function timeout, turning a panic into an invocation
// error as the Lambda runtime does.
func (p *SQSPoller) invoke(ctx context.Context, event events.SQSEvent) (resp events.SQSEventResponse, err error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.Timeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panic: %v", r)
		}
	}()
	return p.Handler(ctx, event)
}

func (p *SQSPoller) record(m types.Message) events.SQSMessage {
	rec := events.SQSMessage{
		MessageId:         aws.ToString(m.MessageId),
		ReceiptHandle:     aws.ToString(m.ReceiptHandle),
		Body:              aws.ToString(m.Body),
		Md5OfBody:         aws.ToString(m.MD5OfBody),
		Attributes:        m.Attributes,
		MessageAttributes: map[string]events.SQSMessageAttribute{},
		EventSource:       "aws:sqs",
		EventSourceARN:    p.QueueARN,
		AWSRegion:         Region,
	}
	for k, v := range m.MessageAttributes {
		rec.MessageAttributes[k] = events.SQSMessageAttribute{StringValue: v.StringValue, BinaryValue: v.BinaryValue, DataType: aws.ToString(v.DataType)}
	}
	if rec.Attributes == nil {
		rec.Attributes = map[string]string{}
	}
	if _, ok := rec.Attributes["ApproximateReceiveCount"]; !ok {
		rec.Attributes["ApproximateReceiveCount"] = "1"
	}
	if _, ok := rec.Attributes["SentTimestamp"]; !ok {
		rec.Attributes["SentTimestamp"] = strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	return rec
}

func (p *SQSPoller) deleteAll(ctx context.Context, handles map[string]string) error {
	if len(handles) == 0 {
		return nil
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, 0, len(handles))
	i := 0
	for _, h := range handles {
		entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: aws.String(h)})
		i++
	}
	_, err := p.SQS.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
	return err
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
