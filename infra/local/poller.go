package local

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
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
//
// Like the event source mapping, receiving and invoking are decoupled: Pollers long polls
// feed up to Concurrency concurrent invocations. A poller takes an invocation slot before it
// receives (so no message waits, invisible, for a slot) and polls again as soon as it has
// handed its batch over, so a slow invocation (an endpoint hanging until the timeout) holds
// one slot, not the queue.
type SQSPoller struct {
	SQS       *sqs.Client
	QueueURL  string
	QueueARN  string
	Handler   SQSFunc
	BatchSize int32 // default 10 (SQS's and the mapping's maximum)
	// Concurrency is the most concurrent invocations (the mapping's maximum concurrency),
	// default 4.
	Concurrency int
	// Pollers is the number of concurrent ReceiveMessage long polls, default
	// min(2, Concurrency).
	Pollers int
	// WaitTime is the long-poll wait of one ReceiveMessage, default 20 s (the mapping's). A
	// receive returns as soon as a message is available.
	WaitTime time.Duration
	// Timeout is the function timeout each invocation's context carries.
	Timeout time.Duration
	// BatchingWindow is the mapping's MaximumBatchingWindowInSeconds: a receive that returns
	// fewer than BatchSize messages keeps receiving for up to this long before the batch is
	// invoked. 0: invoke at once.
	BatchingWindow time.Duration
	Log            *slog.Logger

	// window, once SetBatchingWindow is called, replaces BatchingWindow.
	window atomic.Pointer[time.Duration]
}

// SetBatchingWindow changes the batching window of a running poller, from its next batch on.
// (Stopping a poller to start another cancels its long polls, and a receive the emulator
// completes after its client went away leaves its messages invisible for the visibility
// timeout.)
func (p *SQSPoller) SetBatchingWindow(d time.Duration) { p.window.Store(&d) }

func (p *SQSPoller) batchingWindow() time.Duration {
	if w := p.window.Load(); w != nil {
		return *w
	}
	return p.BatchingWindow
}

func (p *SQSPoller) defaults() {
	if p.BatchSize <= 0 || p.BatchSize > 10 {
		p.BatchSize = 10
	}
	if p.Concurrency <= 0 {
		p.Concurrency = 4
	}
	if p.Pollers <= 0 {
		p.Pollers = min(2, p.Concurrency)
	}
	p.Pollers = min(p.Pollers, p.Concurrency)
	if p.WaitTime <= 0 {
		p.WaitTime = 20 * time.Second
	}
	if p.Timeout == 0 {
		p.Timeout = time.Minute
	}
	if p.Log == nil {
		p.Log = slog.Default()
	}
}

// Run polls until ctx ends, then waits for the invocations in flight (and their deletes).
func (p *SQSPoller) Run(ctx context.Context) {
	p.defaults()
	slots := make(chan struct{}, p.Concurrency)
	var pollers, invocations sync.WaitGroup
	for range p.Pollers {
		pollers.Go(func() {
			for {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					return
				}
				msgs, err := p.receive(ctx)
				if window := p.batchingWindow(); len(msgs) > 0 && window > 0 {
					msgs = p.fill(ctx, msgs, window)
				}
				if len(msgs) == 0 {
					<-slots
					if ctx.Err() != nil {
						return
					}
					if err != nil {
						p.Log.Warn("poll failed", "queue", p.QueueARN, "error", err.Error())
						sleep(ctx, time.Second)
					}
					continue
				}
				invocations.Go(func() {
					defer func() { <-slots }()
					p.process(ctx, msgs)
				})
			}
		})
	}
	pollers.Wait()
	invocations.Wait()
}

// receive is one long poll. Its wait is bounded by WaitTime plus a margin, so a connection
// that stops answering (an emulator cut off) cannot hold a poller for ever.
func (p *SQSPoller) receive(ctx context.Context) ([]types.Message, error) {
	ctx, cancel := context.WithTimeout(ctx, p.WaitTime+10*time.Second)
	defer cancel()
	out, err := p.SQS.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
		QueueUrl:                    aws.String(p.QueueURL),
		MaxNumberOfMessages:         p.BatchSize,
		WaitTimeSeconds:             int32((p.WaitTime + time.Second - 1) / time.Second),
		MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
		MessageAttributeNames:       []string{"All"},
	})
	if err != nil {
		return nil, err
	}
	return out.Messages, nil
}

// fill gathers more messages into a batch for up to the batching window, until it is full.
func (p *SQSPoller) fill(ctx context.Context, msgs []types.Message, window time.Duration) []types.Message {
	deadline := time.Now().Add(window)
	for int32(len(msgs)) < p.BatchSize && ctx.Err() == nil {
		left := time.Until(deadline)
		if left <= 0 {
			break
		}
		rctx, cancel := context.WithTimeout(ctx, left+10*time.Second)
		out, err := p.SQS.ReceiveMessage(rctx, &sqs.ReceiveMessageInput{
			QueueUrl:            aws.String(p.QueueURL),
			MaxNumberOfMessages: p.BatchSize - int32(len(msgs)),
			// whole seconds, rounded up (0 would mean the queue's default long poll, 20 s); a
			// receive is never cut short, lest the messages it took stay invisible
			WaitTimeSeconds:             int32((left + time.Second - 1) / time.Second),
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			MessageAttributeNames:       []string{"All"},
		})
		cancel()
		if err != nil {
			break
		}
		msgs = append(msgs, out.Messages...)
	}
	return msgs
}

// process invokes the handler with one batch and deletes the records it did not report as
// failed.
func (p *SQSPoller) process(ctx context.Context, msgs []types.Message) {
	event := events.SQSEvent{Records: make([]events.SQSMessage, len(msgs))}
	for i, m := range msgs {
		event.Records[i] = p.record(m)
	}
	resp, err := p.invoke(ctx, event)
	if err != nil {
		p.Log.Warn("invocation failed; the batch stays on the queue", "queue", p.QueueARN, "records", len(event.Records), "error", err.Error())
		return
	}
	failed := make(map[string]bool, len(resp.BatchItemFailures))
	for _, f := range resp.BatchItemFailures {
		failed[f.ItemIdentifier] = true
	}
	entries := make([]types.DeleteMessageBatchRequestEntry, 0, len(msgs))
	for i, m := range msgs {
		if !failed[aws.ToString(m.MessageId)] {
			entries = append(entries, types.DeleteMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), ReceiptHandle: m.ReceiptHandle})
		}
	}
	if len(entries) == 0 {
		return
	}
	_, err = p.SQS.DeleteMessageBatch(context.WithoutCancel(ctx), &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(p.QueueURL), Entries: entries})
	if err != nil {
		p.Log.Warn("delete failed; the records will be redelivered", "queue", p.QueueARN, "records", len(entries), "error", err.Error())
	}
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
		MessageAttributes: make(map[string]events.SQSMessageAttribute, len(m.MessageAttributes)),
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

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}
