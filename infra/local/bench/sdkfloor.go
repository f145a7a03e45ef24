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
// 10 deliveries the handlers make one BatchGetItem and one BatchWriteItem of 10 delivery
// records (the delivery function's two log calls per batch) and one SendMessageBatch of 10
// delivery messages (the router's). Its CPU per delivery beside the bare-POST floor says how
// much of the handlers' CPU the calls themselves take, whatever code surrounds them.

// SDKFloorRequest asks the function process for batches of those three calls.
type SDKFloorRequest struct {
	Batches     int    `json:"batches"`
	Concurrency int    `json:"concurrency"`
	QueueURL    string `json:"queueUrl"` // a scratch queue no mapping polls
	Payload     []byte `json:"payload"`  // an event body, as a delivery message carries it
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
	log := deliverylog.NewStore(dynamodb.NewFromConfig(fp.awsCfg), fp.cfg.DeliveryLogTable)
	queue := sqs.NewFromConfig(fp.awsCfg)
	now := time.Now().UTC()
	batches := make([]sdkBatch, req.Batches)
	for i := range batches {
		b := &batches[i]
		for j := range 10 {
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

	var next, errs atomic.Int64
	cpu0, start := cpuTime(), time.Now()
	var wg sync.WaitGroup
	for range max(1, req.Concurrency) {
		wg.Go(func() {
			ctx := context.Background()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(batches) {
					return
				}
				b := &batches[i]
				if _, err := log.GetMany(ctx, b.keys); err != nil {
					errs.Add(1)
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

// SDKFloor measures the SDK-call floor for deliveries (rounded up to batches of 10) on a
// scratch queue it creates and deletes.
func (h *Harness) SDKFloor(ctx context.Context, deliveries int) (SDKFloorResult, error) {
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
	req := SDKFloorRequest{Batches: (deliveries + 9) / 10, Concurrency: h.opts.DeliveryConcurrency, QueueURL: aws.ToString(out.QueueUrl), Payload: ev.Body}
	var res SDKFloorResult
	err = h.fn.call(ctx, "POST", "/sdkfloor", req, &res)
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("SDK-call floor: %d of %d batches had a failed call", res.Errors, res.Batches)
	}
	return res, err
}
