package agentsync

import (
	"context"
	"log/slog"
	"sync"

	"github.com/aws/aws-lambda-go/events"
)

// Handler is the sync function: it takes the sync-jobs queue's batches (ticks and jobs), each
// record concurrently, so one slow platform holds its own record only.
type Handler struct {
	Syncer    *Syncer
	Scheduler *Scheduler
	Log       *slog.Logger
}

// Handle runs a batch and reports the records that failed on our side, for SQS to retry
// (after SyncJobsMaxReceiveCount receives they go to the sync-jobs DLQ).
func (h *Handler) Handle(ctx context.Context, batch events.SQSEvent) (events.SQSEventResponse, error) {
	log := h.Log
	if log == nil {
		log = slog.Default()
	}
	var mu sync.Mutex
	var resp events.SQSEventResponse
	var wg sync.WaitGroup
	for _, rec := range batch.Records {
		wg.Go(func() {
			err := h.record(ctx, rec)
			if err == nil {
				return
			}
			log.Error("sync message failed; SQS retries it", "messageId", rec.MessageId, "error", err.Error())
			mu.Lock()
			resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: rec.MessageId})
			mu.Unlock()
		})
	}
	wg.Wait()
	return resp, nil
}

func (h *Handler) record(ctx context.Context, rec events.SQSMessage) error {
	m, err := DecodeMessage(rec.Body)
	if err != nil {
		return err
	}
	if m.Kind == KindTick {
		n, err := h.Scheduler.Tick(ctx)
		if err == nil && n > 0 {
			h.Syncer.log().Info("sync tick", "jobsQueued", n)
		}
		return err
	}
	return h.Syncer.Run(ctx, m.DealerID, m.Platform)
}
