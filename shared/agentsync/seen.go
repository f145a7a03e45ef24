package agentsync

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/internal/attr"
	"github.com/dealerai/integrations/shared/resources"
)

// Seen keeps what a change feed asks the sync to remember of records it reads again each
// run (changefeed.Change.Remember, changefeed.Page.Remember); *SeenStore is one.
type Seen interface {
	Remembered(ctx context.Context, dealerID, platform, recordKind string, ids []string) (map[string]string, error)
	Remember(ctx context.Context, dealerID, platform string, memories []changefeed.Memory) error
}

var _ Seen = (*SeenStore)(nil)

// SeenDB is the part of the DynamoDB client the seen store uses; *dynamodb.Client has it.
type SeenDB interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
}

var _ SeenDB = (*dynamodb.Client)(nil)

// SeenStore keeps the remembered records in the config table: pk resources.DealerKey, sk
// resources.SeenKeyPrefix + "<platform>#<record kind>#<record id>", attributes remembered
// and updatedAt (docs/design.md#data-model).
type SeenStore struct {
	DB    SeenDB
	Table string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func seenPrefix(platform, recordKind string) string {
	return resources.SeenKeyPrefix + platform + "#" + recordKind + "#"
}

func seenKey(dealerID, platform, recordKind, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": attr.S(resources.DealerKey(dealerID)),
		"sk": attr.S(seenPrefix(platform, recordKind) + id),
	}
}

// Remembered reads what was remembered of records (BatchGetItem, 100 keys a call, strongly
// consistent): ids with nothing remembered are absent.
func (s *SeenStore) Remembered(ctx context.Context, dealerID, platform, recordKind string, ids []string) (map[string]string, error) {
	out := map[string]string{}
	var keys []map[string]types.AttributeValue
	dup := map[string]bool{}
	for _, id := range ids {
		if !dup[id] {
			dup[id] = true
			keys = append(keys, seenKey(dealerID, platform, recordKind, id))
		}
	}
	prefix := seenPrefix(platform, recordKind)
	for len(keys) > 0 {
		n := min(len(keys), 100)
		res, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			s.Table: {Keys: keys[:n], ConsistentRead: aws.Bool(true), ProjectionExpression: aws.String("sk, remembered")},
		}})
		if err != nil {
			return nil, fmt.Errorf("read what the sync remembered of %s: %w", platform, err)
		}
		for _, it := range res.Responses[s.Table] {
			out[strings.TrimPrefix(attr.GetS(it, "sk"), prefix)] = attr.GetS(it, "remembered")
		}
		left := res.UnprocessedKeys[s.Table].Keys
		keys = append(left, keys[n:]...)
		if len(left) > 0 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return out, nil
}

// Remember keeps memories (UpdateItem each; one without a value is skipped).
func (s *SeenStore) Remember(ctx context.Context, dealerID, platform string, memories []changefeed.Memory) error {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	for _, c := range memories {
		if c.Value == "" {
			continue
		}
		_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:        aws.String(s.Table),
			Key:              seenKey(dealerID, platform, c.RecordKind, c.RecordID),
			UpdateExpression: aws.String("SET remembered = :v, updatedAt = :now"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":v": attr.S(c.Value), ":now": timeValue(now()),
			},
		})
		if err != nil {
			return fmt.Errorf("remember a %s %s record: %w", platform, c.RecordKind, err)
		}
	}
	return nil
}

// seenRecords is changefeed.SeenRecords of one agent.
type seenRecords struct {
	s                  Seen
	dealerID, platform string
}

var _ changefeed.SeenRecords = seenRecords{}

func (r seenRecords) Remembered(ctx context.Context, recordKind string, ids []string) (map[string]string, error) {
	return r.s.Remembered(ctx, r.dealerID, r.platform, recordKind, ids)
}
