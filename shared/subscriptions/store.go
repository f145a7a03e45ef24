package subscriptions

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/dynamodb/attributevalue"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/resources"
)

// Errors of the store, for errors.Is.
var (
	ErrNotFound = errors.New("subscription not found")
	// ErrVersionMismatch: the subscription changed since the version the caller holds.
	ErrVersionMismatch = errors.New("subscription version does not match")
	// ErrLimitReached: the dealer already has MaxPerDealer subscriptions.
	ErrLimitReached  = errors.New("subscription limit reached")
	ErrInvalidCursor = errors.New("invalid cursor")
)

// DynamoDBAPI is the part of the DynamoDB client the store uses; *dynamodb.Client has it.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	TransactWriteItems(ctx context.Context, in *dynamodb.TransactWriteItemsInput, optFns ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

// Store keeps subscriptions in the config table. Every method is one DynamoDB request
// (transactions are retried when DynamoDB reports a conflict with a concurrent one), except
// List, which may page.
type Store struct {
	DB    DynamoDBAPI
	Table string
	// Now is the clock of updatedAt and secret expiry; time.Now when nil.
	Now func() time.Time
}

// NewStore returns a store of the config table named table.
func NewStore(db DynamoDBAPI, table string) *Store {
	return &Store{DB: db, Table: table, Now: time.Now}
}

func (s *Store) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC().Truncate(time.Millisecond)
	}
	return s.Now().UTC().Truncate(time.Millisecond)
}

// Create stores a new subscription (see New) and counts it against the dealer's limit, in one
// transaction: ErrLimitReached when the dealer has MaxPerDealer already.
func (s *Store) Create(ctx context.Context, sub *Subscription) error {
	item, err := attributevalue.MarshalMapWithOptions(sub, func(o *attributevalue.EncoderOptions) { o.OmitEmptyTime = true })
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	key := Key(sub.DealerID, sub.ID)
	item["pk"], item["sk"] = key["pk"], key["sk"]
	err = s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Put: &types.Put{
			TableName:           aws.String(s.Table),
			Item:                item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		}},
		{Update: &types.Update{
			TableName:                 aws.String(s.Table),
			Key:                       CounterKey(sub.DealerID),
			UpdateExpression:          aws.String("ADD #n :one"),
			ConditionExpression:       aws.String("attribute_not_exists(#n) OR #n < :max"),
			ExpressionAttributeNames:  map[string]string{"#n": "n"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":one": number(1), ":max": number(MaxPerDealer)},
		}},
	}})
	if failed := conditionFailures(err); failed != nil {
		switch {
		case failed[1] != nil:
			return ErrLimitReached
		case failed[0] != nil:
			return fmt.Errorf("create subscription: id %s already exists", sub.ID)
		}
	}
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	return nil
}

// Get reads one subscription of the dealer (a strongly consistent read).
func (s *Store) Get(ctx context.Context, dealerID, id string) (*Subscription, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            Key(dealerID, id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get subscription: %w", err)
	}
	if len(out.Item) == 0 {
		return nil, ErrNotFound
	}
	return unmarshal(out.Item)
}

// List returns up to limit of the dealer's subscriptions, oldest first, from the opaque
// cursor a previous page returned ("" for the first page). nextCursor is "" on the last page.
// A cursor that is not one of List's is ErrInvalidCursor.
func (s *Store) List(ctx context.Context, dealerID string, limit int, cursor string) (items []Subscription, nextCursor string, err error) {
	if limit <= 0 {
		limit = 50
	}
	var start map[string]types.AttributeValue
	if cursor != "" {
		id, ok := decodeCursor(cursor)
		if !ok {
			return nil, "", ErrInvalidCursor
		}
		start = Key(dealerID, id)
	}
	// One item more than asked tells whether there is a next page, so the last page never
	// hands out a cursor to an empty one.
	for {
		out, err := s.DB.Query(ctx, &dynamodb.QueryInput{
			TableName:                 aws.String(s.Table),
			KeyConditionExpression:    aws.String("pk = :pk AND begins_with(sk, :prefix)"),
			ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(resources.DealerKey(dealerID)), ":prefix": str(resources.SubscriptionKeyPrefix)},
			ExclusiveStartKey:         start,
			Limit:                     aws.Int32(int32(limit + 1 - len(items))),
			ConsistentRead:            aws.Bool(true),
		})
		if err != nil {
			return nil, "", fmt.Errorf("list subscriptions: %w", err)
		}
		page := make([]Subscription, 0, len(out.Items))
		if err := attributevalue.UnmarshalListOfMaps(out.Items, &page); err != nil {
			return nil, "", fmt.Errorf("list subscriptions: %w", err)
		}
		items = append(items, page...)
		start = out.LastEvaluatedKey
		if len(items) > limit || len(start) == 0 {
			break
		}
	}
	if len(items) > limit {
		items = items[:limit]
		nextCursor = encodeCursor(items[limit-1].ID)
	}
	return items, nextCursor, nil
}

// Update applies the fields a PATCH changes in one conditional UpdateItem: only the given
// attributes are written, so concurrent updates of different fields never undo each other.
// ifVersion, when not 0, is the version the caller holds: ErrVersionMismatch when the
// subscription has changed since. Enabling clears disabledReason. An empty change only reads.
func (s *Store) Update(ctx context.Context, dealerID, id string, change Fields, ifVersion int64) (*Subscription, error) {
	if change.Empty() {
		sub, err := s.Get(ctx, dealerID, id)
		if err == nil && ifVersion != 0 && sub.Version != ifVersion {
			return nil, ErrVersionMismatch
		}
		return sub, err
	}
	u := newUpdate(s.now())
	if change.URL != nil {
		u.set("url", str(*change.URL))
	}
	if change.Events != nil {
		u.set("events", strList(change.Events))
	}
	if change.Description != nil {
		u.set("description", str(*change.Description))
	}
	if change.Enabled != nil {
		u.set("enabled", &types.AttributeValueMemberBOOL{Value: *change.Enabled})
		u.set("status", str(StatusFor(*change.Enabled)))
		if *change.Enabled {
			u.remove("disabledReason")
		}
	}
	return s.update(ctx, dealerID, id, u, ifVersion, "update subscription")
}

// Disable turns a subscription off with a reason (the delivery pipeline does it when an
// endpoint answers 410 Gone); PATCH {"enabled": true} turns it on again and clears the
// reason. ErrNotFound when the subscription does not exist.
func (s *Store) Disable(ctx context.Context, dealerID, id, reason string) error {
	u := newUpdate(s.now())
	u.set("enabled", &types.AttributeValueMemberBOOL{Value: false})
	u.set("status", str(StatusDisabled))
	u.set("disabledReason", str(reason))
	_, err := s.update(ctx, dealerID, id, u, 0, "disable subscription")
	return err
}

// RotateSecret makes newSecret the signing secret and keeps the current one as
// PreviousSecret for SecretGracePeriod (a second rotation within that period drops the
// oldest). revokePrevious drops the current one (and any previous one) at once instead: a
// leaked secret signs nothing more. The subscription's version does not change: its
// representation does not.
func (s *Store) RotateSecret(ctx context.Context, dealerID, id, newSecret string, revokePrevious bool) (*Subscription, error) {
	in := &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 Key(dealerID, id),
		UpdateExpression:    aws.String("SET #prev = #secret, #prevExpires = :expires, #secret = :secret"),
		ConditionExpression: aws.String("attribute_exists(pk)"),
		ExpressionAttributeNames: map[string]string{
			"#prev": "previousSecret", "#prevExpires": "previousSecretExpiresAt", "#secret": "secret",
		},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":expires": timeValue(s.now().Add(SecretGracePeriod)), ":secret": str(newSecret),
		},
		ReturnValues: types.ReturnValueAllNew,
	}
	if revokePrevious {
		in.UpdateExpression = aws.String("SET #secret = :secret REMOVE #prev, #prevExpires")
		delete(in.ExpressionAttributeValues, ":expires")
	}
	out, err := s.DB.UpdateItem(ctx, in)
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("rotate secret: %w", err)
	}
	return unmarshal(out.Attributes)
}

// Delete removes a subscription and uncounts it, in one transaction. ifVersion as in Update.
func (s *Store) Delete(ctx context.Context, dealerID, id string, ifVersion int64) error {
	del := &types.Delete{
		TableName:                           aws.String(s.Table),
		Key:                                 Key(dealerID, id),
		ConditionExpression:                 aws.String("attribute_exists(pk)"),
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	}
	if ifVersion != 0 {
		del.ConditionExpression = aws.String("attribute_exists(pk) AND #version = :version")
		del.ExpressionAttributeNames = map[string]string{"#version": "version"}
		del.ExpressionAttributeValues = map[string]types.AttributeValue{":version": number(ifVersion)}
	}
	err := s.transact(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: []types.TransactWriteItem{
		{Delete: del},
		{Update: &types.Update{
			TableName:                 aws.String(s.Table),
			Key:                       CounterKey(dealerID),
			UpdateExpression:          aws.String("ADD #n :minusOne"),
			ExpressionAttributeNames:  map[string]string{"#n": "n"},
			ExpressionAttributeValues: map[string]types.AttributeValue{":minusOne": number(-1)},
		}},
	}})
	if failed := conditionFailures(err); failed != nil && failed[0] != nil {
		if len(failed[0].Item) > 0 {
			return ErrVersionMismatch
		}
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete subscription: %w", err)
	}
	return nil
}

// update is an UpdateItem of an existing subscription that bumps its version and returns it.
func (s *Store) update(ctx context.Context, dealerID, id string, u *update, ifVersion int64, op string) (*Subscription, error) {
	cond := "attribute_exists(pk)"
	if ifVersion != 0 {
		cond += " AND #version = :expected"
		u.values[":expected"] = number(ifVersion)
	}
	out, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.Table),
		Key:                                 Key(dealerID, id),
		UpdateExpression:                    aws.String(u.expression()),
		ConditionExpression:                 aws.String(cond),
		ExpressionAttributeNames:            u.names,
		ExpressionAttributeValues:           u.values,
		ReturnValues:                        types.ReturnValueAllNew,
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		if len(failed.Item) > 0 {
			return nil, ErrVersionMismatch
		}
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	return unmarshal(out.Attributes)
}

// update builds an update expression that also sets updatedAt and increments version.
type update struct {
	sets, removes []string
	names         map[string]string
	values        map[string]types.AttributeValue
}

func newUpdate(now time.Time) *update {
	u := &update{
		sets:   []string{"#version = #version + :one"},
		names:  map[string]string{"#version": "version"},
		values: map[string]types.AttributeValue{":one": number(1)},
	}
	u.set("updatedAt", timeValue(now))
	return u
}

func (u *update) set(attr string, v types.AttributeValue) {
	u.names["#"+attr] = attr
	u.values[":"+attr] = v
	u.sets = append(u.sets, "#"+attr+" = :"+attr)
}

func (u *update) remove(attr string) {
	u.names["#"+attr] = attr
	u.removes = append(u.removes, "#"+attr)
}

func (u *update) expression() string {
	expr := "SET " + strings.Join(u.sets, ", ")
	if len(u.removes) > 0 {
		expr += " REMOVE " + strings.Join(u.removes, ", ")
	}
	return expr
}

// maxTransactAttempts bounds the retries of a transaction that DynamoDB cancelled because a
// concurrent transaction touched the same item (the dealer's counter, under concurrent creates).
const maxTransactAttempts = 12

func (s *Store) transact(ctx context.Context, in *dynamodb.TransactWriteItemsInput) error {
	for attempt := 1; ; attempt++ {
		_, err := s.DB.TransactWriteItems(ctx, in)
		if err == nil || attempt == maxTransactAttempts || !conflicted(err) {
			return err
		}
		// full jitter over an exponential ceiling: 10 ms, 20 ms, ... up to 320 ms
		ceiling := 10 * time.Millisecond << min(attempt-1, 5)
		timer := time.NewTimer(rand.N(ceiling) + time.Millisecond)
		select {
		case <-ctx.Done():
			timer.Stop()
			return err
		case <-timer.C:
		}
	}
}

// conflicted reports whether a transaction was cancelled by a conflicting one.
func conflicted(err error) bool {
	var canceled *types.TransactionCanceledException
	if errors.As(err, &canceled) {
		for _, r := range canceled.CancellationReasons {
			if aws.ToString(r.Code) == "TransactionConflict" {
				return true
			}
		}
	}
	var conflict *types.TransactionConflictException
	return errors.As(err, &conflict)
}

// conditionFailures returns, for a transaction cancelled by failed conditions, the
// cancellation reason of each item (nil where the item's condition held); nil otherwise.
func conditionFailures(err error) []*types.CancellationReason {
	var canceled *types.TransactionCanceledException
	if !errors.As(err, &canceled) {
		return nil
	}
	out := make([]*types.CancellationReason, len(canceled.CancellationReasons))
	found := false
	for i := range canceled.CancellationReasons {
		if aws.ToString(canceled.CancellationReasons[i].Code) == "ConditionalCheckFailed" {
			out[i], found = &canceled.CancellationReasons[i], true
		}
	}
	if !found {
		return nil
	}
	// callers index the transaction's items: make room for reasons DynamoDB left out
	for len(out) < 2 {
		out = append(out, nil)
	}
	return out
}

func unmarshal(item map[string]types.AttributeValue) (*Subscription, error) {
	var sub Subscription
	if err := attributevalue.UnmarshalMap(item, &sub); err != nil {
		return nil, fmt.Errorf("decode subscription: %w", err)
	}
	return &sub, nil
}

// A cursor is the base64url of the id of the last subscription of a page; List resumes
// after it, always within the caller's dealer.
func encodeCursor(id string) string { return base64.RawURLEncoding.EncodeToString([]byte(id)) }

func decodeCursor(cursor string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil || !ValidID(string(b)) {
		return "", false
	}
	return string(b), true
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func number(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func timeValue(t time.Time) types.AttributeValue { return str(t.UTC().Format(time.RFC3339Nano)) }

func strList(vs []string) types.AttributeValue {
	l := make([]types.AttributeValue, len(vs))
	for i, v := range vs {
		l[i] = str(v)
	}
	return &types.AttributeValueMemberL{Value: l}
}
