package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/dealerai/integrations/shared/deliverylog"
	"github.com/dealerai/integrations/shared/deliveryq"
)

// The SDK-call floor: the AWS calls a delivery's share of the handlers' work needs, made
// alone, through clients built from the handlers' configuration, in the function process. Per
// batch of deliveries (10 in full batches) the handlers make one BatchGetItem and one
// BatchWriteItem of the batch's delivery records (the delivery function's two log calls per
// batch) and one SendMessageBatch of its delivery messages (the router's). Its CPU per
// delivery beside the bare-POST floor says how much of the handlers' CPU the calls themselves
// take, whatever code surrounds them. With Posts and a Rate it is the light regime's floor:
// each batch is one event's deliveries, paced as the events are, and POSTs its bodies between
// the two log calls, as the delivery function does.

// SDKFloorRequest asks the function process for batches of those three calls.
type SDKFloorRequest struct {
	Batches     int    `json:"batches"`
	BatchSize   int    `json:"batchSize"` // deliveries per batch (10 when 0)
	Concurrency int    `json:"concurrency"`
	QueueURL    string `json:"queueUrl"` // a scratch queue no mapping polls
	Payload     []byte `json:"payload"`  // an event body, as a delivery message carries it
	// Rate paces the batches (per second; 0: as fast as Concurrency allows).
	Rate float64 `json:"rate,omitempty"`
	// Posts, when set, are POSTed BatchSize per batch (in turn), concurrently, after the
	// batch's BatchGetItem.
	Posts []BarePayload `json:"posts,omitempty"`
}

// SDKFloorResult is what the calls cost.
type SDKFloorResult struct {
	Batches     int     `json:"batches"`
	Errors      int     `json:"errors"`
	CPUSeconds  float64 `json:"cpuSeconds"`
	WallSeconds float64 `json:"wallSeconds"`
}

// sdkBatch is one batch's inputs, built before the clock starts.
type sdkBatch struct {
	keys     []deliverylog.Key
	recs     []*deliverylog.Record
	attempts []deliverylog.Attempt
	entries  []sqstypes.SendMessageBatchRequestEntry
}

func (fp *functionProcess) sdkFloor(w http.ResponseWriter, r *http.Request) {
	var req SDKFloorRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	size := req.BatchSize
	if size <= 0 {
		size = 10
	}
	log := deliverylog.NewStore(dynamodb.NewFromConfig(fp.awsCfg), fp.cfg.DeliveryLogTable)
	queue := sqs.NewFromConfig(fp.awsCfg)
	poster := newBarePoster(max(1, req.Concurrency) * size)
	defer poster.client.CloseIdleConnections()
	now := time.Now().UTC()
	batches := make([]sdkBatch, req.Batches)
	for i := range batches {
		b := &batches[i]
		for j := range size {
			msg := &deliveryq.Message{
				DeliveryID: deliveryq.NewDeliveryID(now), EventID: fmt.Sprintf("evt_floor%06d%d", i, j), EventType: "lead.created",
				DealerID: fmt.Sprint("dlr_floor", j), Target: deliveryq.Target{Kind: deliveryq.KindSubscription, ID: fmt.Sprint("sub_floor", j)},
				CreatedAt: now, Payload: req.Payload,
			}
			entry, err := msg.Encode(strconv.Itoa(j))
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			b.keys = append(b.keys, deliverylog.Key{DealerID: msg.DealerID, Target: msg.Target, DeliveryID: msg.DeliveryID})
			b.recs = append(b.recs, &deliverylog.Record{DealerID: msg.DealerID, Target: msg.Target, DeliveryID: msg.DeliveryID,
				EventID: msg.EventID, EventType: msg.EventType, CreatedAt: now})
			b.attempts = append(b.attempts, deliverylog.Attempt{Attempt: 1, At: now, StatusCode: http.StatusNoContent, DurationMs: 1})
			b.entries = append(b.entries, entry)
		}
	}

	var errs atomic.Int64
	cpu0, start := cpuTime(), time.Now()
	next := paceBatches(len(batches), req.Rate)
	var wg sync.WaitGroup
	for range max(1, req.Concurrency) {
		wg.Go(func() {
			ctx := context.Background()
			for i := range next {
				b := &batches[i]
				if _, err := log.GetMany(ctx, b.keys); err != nil {
					errs.Add(1)
				}
				if len(req.Posts) > 0 {
					var posts sync.WaitGroup
					for j := range size {
						p := req.Posts[(i*size+j)%len(req.Posts)]
						posts.Go(func() {
							if !poster.post(p) {
								errs.Add(1)
							}
						})
					}
					posts.Wait()
				}
				for _, err := range log.RecordSuccesses(ctx, b.recs, b.attempts) {
					if err != nil {
						errs.Add(1)
						break
					}
				}
				if _, err := queue.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(req.QueueURL), Entries: b.entries}); err != nil {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	writeJSON(w, SDKFloorResult{Batches: len(batches), Errors: int(errs.Load()), CPUSeconds: (cpuTime() - cpu0).Seconds(), WallSeconds: time.Since(start).Seconds()})
}

// paceBatches hands out the batch indices 0..n-1, rate a second (0: as fast as they are
// taken), and closes the channel after the last.
func paceBatches(n int, rate float64) <-chan int {
	next := make(chan int)
	go func() {
		defer close(next)
		start := time.Now()
		for i := range n {
			if rate > 0 {
				time.Sleep(time.Until(start.Add(time.Duration(float64(i) / rate * float64(time.Second)))))
			}
			next <- i
		}
	}()
	return next
}

// SDKFloor measures the SDK-call floor for deliveries (rounded up to batches of 10) on a
// scratch queue it creates and deletes.
func (h *Harness) SDKFloor(ctx context.Context, deliveries int) (SDKFloorResult, error) {
	return h.sdkFloor(ctx, SDKFloorRequest{Batches: (deliveries + 9) / 10, Concurrency: h.opts.DeliveryConcurrency})
}

// LightFloor measures the light regime's floor: events' worth of batches of one event's
// deliveries (the fan-out), paced at rate events a second, each with its POSTs to the
// event's dealer's endpoints.
func (h *Harness) LightFloor(ctx context.Context, events int, rate float64) (SDKFloorResult, error) {
	req := SDKFloorRequest{Batches: events, BatchSize: h.opts.FanOut, Concurrency: h.opts.DeliveryConcurrency, Rate: rate}
	for _, dl := range h.dealers {
		_, ev, err := exampleEvent(dl.id)
		if err != nil {
			return SDKFloorResult{}, err
		}
		for _, s := range dl.subs {
			req.Posts = append(req.Posts, BarePayload{URL: s.url, Body: ev.Body})
		}
	}
	return h.sdkFloor(ctx, req)
}

// sdkFloor runs req on a scratch queue it creates and deletes.
func (h *Harness) sdkFloor(ctx context.Context, req SDKFloorRequest) (SDKFloorResult, error) {
	out, err := h.sqs.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("bench-sdkfloor-%d", time.Now().UnixNano()%1e9))})
	if err != nil {
		return SDKFloorResult{}, err
	}
	defer func() {
		_, _ = h.sqs.DeleteQueue(context.WithoutCancel(ctx), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
	}()
	_, ev, err := exampleEvent(h.dealers[0].id)
	if err != nil {
		return SDKFloorResult{}, err
	}
	req.QueueURL, req.Payload = aws.ToString(out.QueueUrl), ev.Body
	var res SDKFloorResult
	err = h.fn.call(ctx, "POST", "/sdkfloor", req, &res)
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("SDK-call floor: %d of %d batches had a failed call", res.Errors, res.Batches)
	}
	return res, err
}
