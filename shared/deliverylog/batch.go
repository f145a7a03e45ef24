package deliverylog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/deliveryq"
)

// The delivery handler works on batches of up to 10 messages. Reading their records and
// writing their successes one call per message made each delivery cost three HTTP round
// trips (read, POST, write), and a round trip's CPU is most of a delivery's; these batch
// forms read a batch's records in one BatchGetItem and write its first-attempt successes in
// one BatchWriteItem, at the same capacity-unit cost per item.

// BatchWriteItem and BatchGetItem limits.
const (
	maxBatchGet   = 100
	maxBatchWrite = 25
	// batchRetries bounds the retries of unprocessed keys or items (throttling), with
	// batchBackoff doubling from its first value.
	batchRetries = 4
	batchBackoff = 20 * time.Millisecond
)

// batchAPI is the batch part of the DynamoDB client (*dynamodb.Client has it); a store on a
// DynamoDBAPI without it makes one call per delivery instead.
type batchAPI interface {
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

// Key names one delivery.
type Key struct {
	DealerID   string
	Target     deliveryq.Target
	DeliveryID string
}

// GetMany reads deliveries as Get does with consistent false (eventually consistent reads,
// each billed as GetItem's), in BatchGetItem calls of up to 100 keys. recs[i] is keys[i]'s
// record, nil when there is none; a key given twice gets two records. Keys the table did not
// process after a few retries (throttling) make it fail, as does an invalid key.
func (s *Store) GetMany(ctx context.Context, keys []Key) ([]*Record, error) {
	recs := make([]*Record, len(keys))
	db, ok := s.db.(batchAPI)
	if !ok {
		for i, k := range keys {
			rec, err := s.Get(ctx, k.DealerID, k.Target, k.DeliveryID, false)
			if err != nil && !errors.Is(err, ErrNotFound) {
				return nil, err
			}
			recs[i] = rec
		}
		return recs, nil
	}
	where := make(map[string][]int, len(keys)) // item key → indexes in keys
	var unique []map[string]types.AttributeValue
	for i, k := range keys {
		p, err := partitionKey(k.DealerID, k.Target)
		if err != nil {
			return nil, err
		}
		if k.DeliveryID == "" {
			return nil, fmt.Errorf("deliverylog: delivery id is required")
		}
		id := keyOf(p, k.DeliveryID)
		if _, ok := where[id]; !ok {
			unique = append(unique, map[string]types.AttributeValue{attrPK: str(p), attrSK: str(k.DeliveryID)})
		}
		where[id] = append(where[id], i)
	}
	for start := 0; start < len(unique); start += maxBatchGet {
		pending := unique[start:min(start+maxBatchGet, len(unique))]
		for try := 0; len(pending) > 0; try++ {
			if try > 0 {
				if try > batchRetries {
					return nil, fmt.Errorf("deliverylog: get %d deliveries: %d keys unprocessed after %d retries", len(keys), len(pending), batchRetries)
				}
				if err := pause(ctx, batchBackoff<<(try-1)); err != nil {
					return nil, err
				}
			}
			out, err := db.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
				RequestItems: map[string]types.KeysAndAttributes{s.table: {Keys: pending}},
			})
			if err != nil {
				return nil, fmt.Errorf("deliverylog: get %d deliveries: %w", len(keys), err)
			}
			for _, item := range out.Responses[s.table] {
				for _, i := range where[itemKey(item)] {
					rec := decode(item)
					rec.DealerID, rec.Target = keys[i].DealerID, keys[i].Target
					recs[i] = rec
				}
			}
			pending = out.UnprocessedKeys[s.table].Keys
		}
	}
	return recs, nil
}

// RecordSuccesses records the successful attempts of many deliveries (the successes of one
// batch); errs[i] is recs[i]'s outcome, as RecordSuccess reports it.
//
// A record read from the table is updated by RecordSuccess. The others are first attempts:
// their items, the very items RecordSuccess puts, are written by BatchWriteItem, 25 per call.
// BatchWriteItem cannot be conditional, so use it only for deliveries whose record nothing
// else creates — those the router enqueued, not a manual retry or a test send, whose pending
// record the API creates before enqueueing them: then the only item a batch put can find in
// place is one written by a concurrent duplicate of the same message (SQS is at least once),
// and the delivery ends succeeded either way; only that duplicate's attempt is not kept in
// the attempts list. Items the table does not process after a few retries are put one by one
// with RecordSuccess.
func (s *Store) RecordSuccesses(ctx context.Context, recs []*Record, attempts []Attempt) []error {
	errs := make([]error, len(recs))
	db, batches := s.db.(batchAPI)
	var single []int // recorded one by one
	type put struct {
		i    int
		item map[string]types.AttributeValue
	}
	var puts []put
	seen := map[string]bool{}
	for i, rec := range recs {
		pk, err := partitionKey(rec.DealerID, rec.Target)
		key := keyOf(pk, rec.DeliveryID)
		if err != nil || rec.stored || seen[key] || !batches {
			single = append(single, i) // (a key twice in one call is refused: the second goes alone)
			continue
		}
		item, err := s.successItem(rec, attempts[i])
		if err != nil {
			errs[i] = err
			continue
		}
		seen[key] = true
		puts = append(puts, put{i, item})
	}
	for start := 0; start < len(puts); start += maxBatchWrite {
		chunk := puts[start:min(start+maxBatchWrite, len(puts))]
		reqs := make([]types.WriteRequest, len(chunk))
		byKey := make(map[string]int, len(chunk))
		for j, p := range chunk {
			reqs[j] = types.WriteRequest{PutRequest: &types.PutRequest{Item: p.item}}
			byKey[itemKey(p.item)] = p.i
		}
		for try := 0; len(reqs) > 0; try++ {
			if try > 0 {
				if try > batchRetries || pause(ctx, batchBackoff<<(try-1)) != nil {
					for _, r := range reqs {
						single = append(single, byKey[itemKey(r.PutRequest.Item)])
					}
					break
				}
			}
			out, err := db.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{
				RequestItems: map[string][]types.WriteRequest{s.table: reqs},
			})
			if err != nil {
				for _, r := range reqs {
					errs[byKey[itemKey(r.PutRequest.Item)]] = fmt.Errorf("deliverylog: record success of %d deliveries: %w", len(reqs), err)
				}
				break
			}
			reqs = out.UnprocessedItems[s.table]
		}
	}
	if len(single) > 0 {
		var wg sync.WaitGroup
		for _, i := range single {
			wg.Go(func() { errs[i] = s.RecordSuccess(ctx, recs[i], attempts[i]) })
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err == nil {
			recs[i].stored = true
		}
	}
	return errs
}

// keyOf and itemKey name an item by its primary key, from its parts or from the item.
func keyOf(pk, sk string) string { return pk + "\x00" + sk }

func itemKey(item map[string]types.AttributeValue) string {
	return keyOf(getS(item, attrPK), getS(item, attrSK))
}

// pause waits d or until ctx ends.
func pause(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errors.Join(ctx.Err(), context.Cause(ctx))
	}
}

var _ batchAPI = (*dynamodb.Client)(nil)
