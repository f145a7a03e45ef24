package agents

import (
	"context"
	"fmt"
	"github.com/dealerai/integrations/shared/internal/attr"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/resources"
)

// PlatformID is one of a platform's ids of a record: its name in the connector's
// correlation ("leadId", "customerId", "vin") and its value.
type PlatformID struct {
	Name, Value string
}

// ReversePointer says which DealerAI record a platform id belongs to: the two-way sync reads
// it to give an inbound event DealerAI's ids, and the correlation keys under which the state
// DealerAI pushed is kept. Item: pk resources.DealerKey(dealerId), sk
// resources.ReverseKeyPrefix + "<platform>#<id name>#<value>", attributes leadId, contactId,
// appointmentId, keys (list), updatedAt.
//
// The Dispatcher writes a pointer only when a correlation gains an id (a record created or
// first found), before it saves the correlation; a delivery whose ids did not change writes
// none.
type ReversePointer struct {
	ID PlatformID
	// DealerAI's ids of the record; empty when the event had none.
	LeadID, ContactID, AppointmentID string
	// Keys are the correlation keys of the record (LeadKeys, AppointmentKey).
	Keys []string
}

func reverseKey(dealerID, platform string, id PlatformID) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": attr.S(resources.DealerKey(dealerID)),
		"sk": attr.S(reversePrefix(platform, id.Name) + id.Value),
	}
}

func reversePrefix(platform, idName string) string {
	return resources.ReverseKeyPrefix + platform + "#" + idName + "#"
}

// newPointers are the pointers of the ids in now that were not in before, to the record with
// DealerAI's ids ids and correlation keys keys.
func newPointers(ids eventIDs, keys []string, before, now map[string]string) []ReversePointer {
	var out []ReversePointer
	for _, name := range slices.Sorted(maps.Keys(now)) {
		v := now[name]
		if v == "" || before[name] == v {
			continue
		}
		out = append(out, ReversePointer{ID: PlatformID{name, v}, LeadID: ids.LeadID, ContactID: ids.ContactID,
			AppointmentID: ids.AppointmentID, Keys: keys})
	}
	return out
}

// SavePointers writes reverse pointers (BatchWriteItem, 25 a call), replacing any of the same
// platform id.
func (s *CorrelationStore) SavePointers(ctx context.Context, dealerID, platform string, ptrs []ReversePointer) error {
	now := attr.S(s.now().UTC().Format(time.RFC3339Nano))
	var reqs []types.WriteRequest
	for _, p := range ptrs {
		it := reverseKey(dealerID, platform, p.ID)
		for name, v := range map[string]string{"leadId": p.LeadID, "contactId": p.ContactID, "appointmentId": p.AppointmentID} {
			if v != "" {
				it[name] = attr.S(v)
			}
		}
		it["keys"] = attr.StrList(p.Keys)
		it["updatedAt"] = now
		reqs = append(reqs, types.WriteRequest{PutRequest: &types.PutRequest{Item: it}})
	}
	for len(reqs) > 0 {
		n := min(len(reqs), 25)
		out, err := s.DB.BatchWriteItem(ctx, &dynamodb.BatchWriteItemInput{RequestItems: map[string][]types.WriteRequest{s.Table: reqs[:n]}})
		if err != nil {
			return fmt.Errorf("save reverse pointers: %w", err)
		}
		reqs = append(out.UnprocessedItems[s.Table], reqs[n:]...)
		if len(out.UnprocessedItems[s.Table]) > 0 {
			if err := pause(ctx); err != nil {
				return fmt.Errorf("save reverse pointers: %w", err)
			}
		}
	}
	return nil
}

// Pointers reads the reverse pointers of platform ids (BatchGetItem, 100 a call): the ids
// DealerAI has no record of are absent from the map.
func (s *CorrelationStore) Pointers(ctx context.Context, dealerID, platform string, ids []PlatformID) (map[PlatformID]ReversePointer, error) {
	out := map[PlatformID]ReversePointer{}
	err := s.batchGet(ctx, len(ids), func(i int) map[string]types.AttributeValue {
		return reverseKey(dealerID, platform, ids[i])
	}, func(it map[string]types.AttributeValue) error {
		name, value, ok := strings.Cut(strings.TrimPrefix(attr.GetS(it, "sk"), resources.ReverseKeyPrefix+platform+"#"), "#")
		if !ok {
			return fmt.Errorf("reverse pointer %q", attr.GetS(it, "sk"))
		}
		id := PlatformID{name, value}
		out[id] = ReversePointer{ID: id, LeadID: attr.GetS(it, "leadId"), ContactID: attr.GetS(it, "contactId"),
			AppointmentID: attr.GetS(it, "appointmentId"), Keys: attr.GetList(it, "keys")}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read reverse pointers: %w", err)
	}
	return out, nil
}

// PushedIDs lists the values of the platform id idName that DealerAI has pointers for, in
// ascending order, up to limit of those after after (one Query, more only past 1 MB).
func (s *CorrelationStore) PushedIDs(ctx context.Context, dealerID, platform, idName, after string, limit int) ([]string, error) {
	prefix := reversePrefix(platform, idName)
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": attr.S(resources.DealerKey(dealerID)), ":prefix": attr.S(prefix),
		},
		ProjectionExpression: aws.String("sk"),
		Limit:                aws.Int32(int32(limit)),
	}
	if after != "" {
		in.ExclusiveStartKey = reverseKey(dealerID, platform, PlatformID{idName, after})
	}
	var out []string
	for len(out) < limit {
		page, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list pushed %s: %w", idName, err)
		}
		for _, it := range page.Items {
			out = append(out, strings.TrimPrefix(attr.GetS(it, "sk"), prefix))
		}
		if len(page.LastEvaluatedKey) == 0 {
			break
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
		in.Limit = aws.Int32(int32(limit - len(out)))
	}
	return out, nil
}

// PushedState is the state DealerAI's deliveries left a record in, merged from the
// correlations under keys and the updates of the lead whose keys they are (the update kinds
// of updateTypes): field by field, the newest event's value wins. nil when none was kept.
func (s *CorrelationStore) PushedState(ctx context.Context, dealerID, platform string, keys, updateTypes []string) (map[string]string, error) {
	all := slices.Clone(keys)
	for _, k := range keys {
		if strings.HasPrefix(k, "lead#") || strings.HasPrefix(k, "contact#") {
			for _, t := range updateTypes {
				all = append(all, UpdateKey(t, k))
			}
		}
	}
	var found []*Correlation
	err := s.batchGet(ctx, len(all), func(i int) map[string]types.AttributeValue {
		return correlationKey(dealerID, platform, all[i])
	}, func(it map[string]types.AttributeValue) error {
		if attr.GetS(it, "eventTime") == "" { // only a lease
			return nil
		}
		c, err := correlationOf(it)
		if err == nil && c.Pushed != nil {
			found = append(found, c)
		}
		return err
	})
	if err != nil || len(found) == 0 {
		return nil, err
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].EventTime.Before(found[j].EventTime) })
	state := map[string]string{}
	for _, c := range found {
		maps.Copy(state, c.Pushed)
	}
	return state, nil
}

// batchGet reads n keys with BatchGetItem, 100 a call (the unprocessed ones again), handing
// each item found to each.
func (s *CorrelationStore) batchGet(ctx context.Context, n int, key func(i int) map[string]types.AttributeValue, each func(map[string]types.AttributeValue) error) error {
	var keys []map[string]types.AttributeValue
	seen := map[string]bool{}
	for i := range n {
		k := key(i)
		id := attr.GetS(k, "sk")
		if !seen[id] {
			seen[id] = true
			keys = append(keys, k)
		}
	}
	for len(keys) > 0 {
		c := min(len(keys), 100)
		out, err := s.DB.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{RequestItems: map[string]types.KeysAndAttributes{
			s.Table: {Keys: keys[:c], ConsistentRead: aws.Bool(true)},
		}})
		if err != nil {
			return err
		}
		for _, it := range out.Responses[s.Table] {
			if err := each(it); err != nil {
				return err
			}
		}
		keys = append(out.UnprocessedKeys[s.Table].Keys, keys[c:]...)
		if len(out.UnprocessedKeys[s.Table].Keys) > 0 {
			if err := pause(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// pause waits a little before a batch call retries what DynamoDB left unprocessed.
func pause(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(50 * time.Millisecond):
		return nil
	}
}
