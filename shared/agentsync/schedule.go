package agentsync

import (
	"context"
	"errors"
	"fmt"
	"github.com/dealerai/integrations/shared/internal/attr"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/platform"
	"github.com/dealerai/integrations/shared/resources"
)

// DefaultMaxJobsPerTick bounds the jobs one tick queues; the agents still due are found by
// the next tick.
const DefaultMaxJobsPerTick = 2000

// Scheduler finds the agents whose sync is due and queues one job for each.
type Scheduler struct {
	// DB and Table are the config table, queried through its SyncDue index.
	DB    DynamoDBAPI
	Table string
	// Agents claims each due agent before its job is queued, so a slow queue does not get
	// a second job of the same agent from the next tick.
	Agents Agents
	// Platforms: only the platforms with a change feed are looked at.
	Platforms    platform.Catalog
	Jobs         Queue
	JobsQueueURL string
	// MaxJobs bounds one tick (DefaultMaxJobsPerTick when 0).
	MaxJobs int
	Now     func() time.Time
}

// Tick queues a job for every agent due now, up to MaxJobs: one Query per platform and index
// shard (more only past 1 MB), a claim per due agent, SendMessageBatch 10 jobs a call. It
// returns the number of jobs queued.
func (s *Scheduler) Tick(ctx context.Context) (int, error) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	limit := s.MaxJobs
	if limit <= 0 {
		limit = DefaultMaxJobsPerTick
	}
	queued := 0
	for _, p := range s.Platforms.Syncable() {
		for n := range resources.SyncDueShards {
			due, err := s.due(ctx, resources.SyncShardKey(p.ID, n), now, limit-queued)
			if err != nil {
				return queued, err
			}
			var jobs []Message
			for _, d := range due {
				err := s.Agents.ClaimSync(ctx, d.dealerID, p.ID, d.at, now.Add(ClaimWindow))
				if errors.Is(err, agents.ErrNotScheduled) {
					continue // moved meanwhile: another tick or a job has it
				}
				if err != nil {
					return queued, err
				}
				jobs = append(jobs, Message{Kind: KindJob, DealerID: d.dealerID, Platform: p.ID, Reason: ReasonSchedule})
			}
			// Queued shard by shard: a failure later in the tick leaves these claimed agents
			// with their jobs (a claimed agent without one waits ClaimWindow).
			if err := enqueueJobs(ctx, s.Jobs, s.JobsQueueURL, jobs); err != nil {
				return queued, err
			}
			queued += len(jobs)
		}
	}
	return queued, nil
}

type dueAgent struct {
	dealerID string
	at       time.Time
}

// due lists up to limit agents of one shard due at now, the longest due first.
func (s *Scheduler) due(ctx context.Context, shard string, now time.Time, limit int) ([]dueAgent, error) {
	if limit <= 0 {
		return nil, nil
	}
	in := &dynamodb.QueryInput{
		TableName:                aws.String(s.Table),
		IndexName:                aws.String(resources.SyncDueIndexName),
		KeyConditionExpression:   aws.String("#shard = :shard AND #due <= :now"),
		ExpressionAttributeNames: map[string]string{"#shard": resources.SyncShardAttr, "#due": resources.SyncDueAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":shard": attr.S(shard), ":now": attr.Millis(now),
		},
		Limit: aws.Int32(int32(min(limit, 1000))),
	}
	var out []dueAgent
	for {
		page, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("due agents of %s: %w", shard, err)
		}
		for _, it := range page.Items {
			ms, err := strconv.ParseInt(attrN(it, resources.SyncDueAttr), 10, 64)
			if err != nil {
				continue
			}
			out = append(out, dueAgent{dealerID: strings.TrimPrefix(attr.GetS(it, "pk"), resources.DealerKeyPrefix), at: time.UnixMilli(ms)})
		}
		if len(page.LastEvaluatedKey) == 0 || len(out) >= limit {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

func attrN(it map[string]types.AttributeValue, name string) string {
	if v, ok := it[name].(*types.AttributeValueMemberN); ok {
		return v.Value
	}
	return ""
}
