package agents

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

	"github.com/dealerai/integrations/shared/internal/versioned"
	"github.com/dealerai/integrations/shared/resources"
)

// Errors of the stores, for errors.Is.
var (
	ErrNotFound = errors.New("agent not found")
	// ErrVersionMismatch: the agent changed since the version the caller read.
	ErrVersionMismatch = errors.New("agent version does not match")
)

// DynamoDBAPI is the part of the DynamoDB client the stores use; *dynamodb.Client has it.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	BatchGetItem(ctx context.Context, in *dynamodb.BatchGetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchGetItemOutput, error)
	BatchWriteItem(ctx context.Context, in *dynamodb.BatchWriteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.BatchWriteItemOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// Key is the config-table key of a dealer's agent.
func Key(dealerID, platform string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": attr.S(resources.DealerKey(dealerID)),
		"sk": attr.S(resources.AgentKeyPrefix + platform),
	}
}

// Store keeps agent configurations in the config table, one item per dealer and platform:
// pk resources.DealerKey(dealerId), sk resources.AgentKeyPrefix + platform, with the attributes every target has for
// the router (kind "agent", id = platform, events, enabled) and the agent's own (platform,
// dealerId, settings and credentials as maps of strings, updatedAt, version). Credentials are
// encrypted at rest by the table's KMS key.
//
// An enabled agent's item also carries the keys of the sync schedule's sparse index
// (resources.SyncShardAttr, resources.SyncDueAttr): each Put of an enabled agent makes its
// sync due at once (a changed configuration is read with it), a disabled one leaves the index.
// The two-way sync moves the due time with SetSyncDue.
type Store struct {
	DB    DynamoDBAPI
	Table string
	// Now is the clock of updatedAt; time.Now when nil.
	Now func() time.Time
}

// NewStore returns a store of the config table named table.
func NewStore(db DynamoDBAPI, table string) *Store { return &Store{DB: db, Table: table} }

func (s *Store) now() time.Time {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	return now().UTC().Truncate(time.Millisecond)
}

// Get reads one agent (a strongly consistent read): ErrNotFound when it is not configured.
func (s *Store) Get(ctx context.Context, dealerID, platform string) (*Agent, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            Key(dealerID, platform),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get agent %s: %w", platform, err)
	}
	if len(out.Item) == 0 {
		return nil, ErrNotFound
	}
	return FromItem(out.Item)
}

// List returns the dealer's configured agents (one Query), in no particular order.
func (s *Store) List(ctx context.Context, dealerID string) ([]Agent, error) {
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.Table),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :prefix)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": attr.S(resources.DealerKey(dealerID)), ":prefix": attr.S(resources.AgentKeyPrefix),
		},
		ConsistentRead: aws.Bool(true),
	}
	var out []Agent
	for {
		page, err := s.DB.Query(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("list agents: %w", err)
		}
		for _, item := range page.Items {
			a, err := FromItem(item)
			if err != nil {
				return nil, err
			}
			out = append(out, *a)
		}
		if len(page.LastEvaluatedKey) == 0 {
			return out, nil
		}
		in.ExclusiveStartKey = page.LastEvaluatedKey
	}
}

// Put stores a (its DealerID and Platform set) as version a.Version+1, provided the stored
// version is still a.Version (0: nothing is stored): ErrVersionMismatch otherwise. It returns
// the agent as stored.
func (s *Store) Put(ctx context.Context, a *Agent) (*Agent, error) {
	if a.DealerID == "" || a.Platform == "" || len(a.Events) == 0 {
		return nil, fmt.Errorf("put agent: dealer, platform and events are required")
	}
	next := *a
	next.Version = a.Version + 1
	next.UpdatedAt = s.now()
	err := versioned.Put(ctx, s.DB, s.Table, item(&next), a.Version)
	if errors.Is(err, versioned.ErrConflict) {
		return nil, ErrVersionMismatch
	}
	if err != nil {
		return nil, fmt.Errorf("put agent %s: %w", a.Platform, err)
	}
	return &next, nil
}

// ErrNotScheduled: the agent is not in the sync schedule (disabled or deleted).
var ErrNotScheduled = errors.New("agent is not enabled")

// SetSyncDue sets when the agent's next sync is due, provided it is still enabled:
// ErrNotScheduled otherwise. It writes the index keys whole, so an enabled agent stored
// without them (saved before the sync existed) joins the schedule with its first job. The
// agent's version and updatedAt stay.
func (s *Store) SetSyncDue(ctx context.Context, dealerID, platform string, at time.Time) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                aws.String(s.Table),
		Key:                      Key(dealerID, platform),
		UpdateExpression:         aws.String("SET #due = :due, #shard = :shard"),
		ConditionExpression:      aws.String("#enabled = :true"),
		ExpressionAttributeNames: map[string]string{"#due": resources.SyncDueAttr, "#shard": resources.SyncShardAttr, "#enabled": "enabled"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":due": attr.Millis(at), ":shard": attr.S(resources.SyncShardKey(platform, resources.SyncShardOf(dealerID))),
			":true": &types.AttributeValueMemberBOOL{Value: true},
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrNotScheduled
	}
	if err != nil {
		return fmt.Errorf("schedule the sync of agent %s: %w", platform, err)
	}
	return nil
}

// ClaimSync moves the agent's next sync from due to until, provided it is still due at due
// (the schedule queues one job per claim): ErrNotScheduled when it moved meanwhile or left
// the schedule.
func (s *Store) ClaimSync(ctx context.Context, dealerID, platform string, due, until time.Time) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       Key(dealerID, platform),
		UpdateExpression:          aws.String("SET #due = :until"),
		ConditionExpression:       aws.String("#due = :due"),
		ExpressionAttributeNames:  map[string]string{"#due": resources.SyncDueAttr},
		ExpressionAttributeValues: map[string]types.AttributeValue{":due": attr.Millis(due), ":until": attr.Millis(until)},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrNotScheduled
	}
	if err != nil {
		return fmt.Errorf("claim the sync of agent %s: %w", platform, err)
	}
	return nil
}

// Delete erases an agent — settings and credentials — by deleting its item: ErrNotFound
// when none is stored. The ids platforms returned (correlations) are kept, so an agent
// configured again does not create its leads a second time.
func (s *Store) Delete(ctx context.Context, dealerID, platform string) error {
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:           aws.String(s.Table),
		Key:                 Key(dealerID, platform),
		ConditionExpression: aws.String("attribute_exists(pk)"),
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("delete agent %s: %w", platform, err)
	}
	return nil
}

// DeleteVersion is Delete of the stored version only (the API's If-Match):
// ErrVersionMismatch when another version, or nothing, is stored.
func (s *Store) DeleteVersion(ctx context.Context, dealerID, platform string, version int) error {
	_, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       Key(dealerID, platform),
		ConditionExpression:       aws.String("#version = :version"),
		ExpressionAttributeNames:  map[string]string{"#version": "version"},
		ExpressionAttributeValues: map[string]types.AttributeValue{":version": attr.N(version)},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrVersionMismatch
	}
	if err != nil {
		return fmt.Errorf("delete agent %s: %w", platform, err)
	}
	return nil
}

func item(a *Agent) map[string]types.AttributeValue {
	it := Key(a.DealerID, a.Platform)
	it["kind"] = attr.S("agent")
	it["id"] = attr.S(a.Platform)
	it["events"] = attr.StrList(a.Events)
	it["enabled"] = &types.AttributeValueMemberBOOL{Value: a.Enabled}
	it["platform"] = attr.S(a.Platform)
	it["dealerId"] = attr.S(a.DealerID)
	it["settings"] = attr.StrMap(a.Settings)
	it["credentials"] = attr.StrMap(a.Credentials)
	it["updatedAt"] = attr.S(a.UpdatedAt.UTC().Format(time.RFC3339Nano))
	it["version"] = attr.N(a.Version)
	if a.Enabled {
		it[resources.SyncShardAttr] = attr.S(resources.SyncShardKey(a.Platform, resources.SyncShardOf(a.DealerID)))
		it[resources.SyncDueAttr] = attr.Millis(a.UpdatedAt)
	}
	return it
}

// FromItem decodes an agent's config item, such as the one targets.Target.Item holds.
func FromItem(it map[string]types.AttributeValue) (*Agent, error) {
	sk := attr.GetS(it, "sk")
	if !strings.HasPrefix(sk, resources.AgentKeyPrefix) {
		return nil, fmt.Errorf("decode agent: %q is not an agent item", sk)
	}
	a := &Agent{
		DealerID:    strings.TrimPrefix(attr.GetS(it, "pk"), resources.DealerKeyPrefix),
		Platform:    strings.TrimPrefix(sk, resources.AgentKeyPrefix),
		Events:      attr.GetList(it, "events"),
		Settings:    attr.GetMap(it, "settings"),
		Credentials: attr.GetMap(it, "credentials"),
	}
	if b, ok := it["enabled"].(*types.AttributeValueMemberBOOL); ok {
		a.Enabled = b.Value
	}
	if v := attr.GetS(it, "updatedAt"); v != "" {
		t, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			return nil, fmt.Errorf("decode agent %s: updatedAt: %w", a.Platform, err)
		}
		a.UpdatedAt = t
	}
	if n, ok := it["version"].(*types.AttributeValueMemberN); ok {
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return nil, fmt.Errorf("decode agent %s: version: %w", a.Platform, err)
		}
		a.Version = v
	}
	if n, ok := it[resources.SyncDueAttr].(*types.AttributeValueMemberN); ok {
		ms, err := strconv.ParseInt(n.Value, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("decode agent %s: %s: %w", a.Platform, resources.SyncDueAttr, err)
		}
		a.SyncDue = time.UnixMilli(ms).UTC()
	}
	return a, nil
}
