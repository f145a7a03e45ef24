package local

import (
	"context"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/dealerai/integrations/shared/agentsync"
)

// SyncTickEvery is how often the local schedule ticks: every minute, as the stack's
// EventBridge rule does, or every SYNC_INTERVAL when that is shorter (SYNC_INTERVAL=2s make
// dev), so an agent is synced about every interval either way.
func SyncTickEvery(interval time.Duration) time.Duration {
	return max(min(interval, time.Minute), time.Second)
}

// RunSyncSchedule plays the stack's EventBridge rule until ctx ends: it puts the sync's tick
// (agentsync.TickBody) on the sync-jobs queue at once and then every period.
func RunSyncSchedule(ctx context.Context, sq *sqs.Client, queueURL string, every time.Duration, log *slog.Logger) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		_, err := sq.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(queueURL), MessageBody: aws.String(agentsync.TickBody)})
		if err != nil && ctx.Err() == nil {
			log.Warn("sync tick not sent", "error", err.Error())
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
