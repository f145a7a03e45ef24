package plans

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/internal/versioned"
	"github.com/dealerai/integrations/shared/resources"
)

// Errors of the store, for errors.Is.
var (
	// ErrNotFound: the dealer has no entitlement stored (the default applies).
	ErrNotFound = errors.New("entitlement not found")
	// ErrVersionMismatch: the entitlement changed since the version the caller read.
	ErrVersionMismatch = errors.New("entitlement version does not match")
)

// DynamoDBAPI is the part of the DynamoDB client the store uses; *dynamodb.Client has it.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Key is the config-table key of a dealer's entitlement.
func Key(dealerID string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": str(resources.DealerKey(dealerID)),
		"sk": str(resources.PlanKey),
	}
}

// Store keeps entitlements in the config table, one item per dealer: pk
// resources.DealerKey(dealerId), sk resources.PlanKey, with kind "plan", dealerId, platforms
// (a list of strings, possibly empty), updatedAt, updatedBy and version.
type Store struct {
	DB    DynamoDBAPI
	Table string
	// Now is the clock of updatedAt; time.Now when nil.
	Now func() time.Time
}

// NewStore returns a store of the config table named table.
func NewStore(db DynamoDBAPI, table string) *Store { return &Store{DB: db, Table: table} }

// Get reads a dealer's entitlement (a strongly consistent read): ErrNotFound when none is
// stored.
func (s *Store) Get(ctx context.Context, dealerID string) (*Entitlement, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.Table),
		Key:            Key(dealerID),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("get entitlement: %w", err)
	}
	if len(out.Item) == 0 {
		return nil, ErrNotFound
	}
	return FromItem(out.Item)
}

// Put stores e (DealerID, Platforms and UpdatedBy set) as version e.Version+1, provided the
// stored version is still e.Version (0: none is stored): ErrVersionMismatch otherwise. It
// returns the entitlement as stored.
func (s *Store) Put(ctx context.Context, e *Entitlement) (*Entitlement, error) {
	if e.DealerID == "" {
		return nil, errors.New("put entitlement: the dealer is required")
	}
	next := *e
	next.Platforms = Normalize(e.Platforms)
	next.Version = e.Version + 1
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	next.UpdatedAt = now().UTC().Truncate(time.Millisecond)
	err := versioned.Put(ctx, s.DB, s.Table, item(&next), e.Version)
	if errors.Is(err, versioned.ErrConflict) {
		return nil, ErrVersionMismatch
	}
	if err != nil {
		return nil, fmt.Errorf("put entitlement: %w", err)
	}
	return &next, nil
}

func item(e *Entitlement) map[string]types.AttributeValue {
	it := Key(e.DealerID)
	platforms := make([]types.AttributeValue, len(e.Platforms))
	for i, p := range e.Platforms {
		platforms[i] = str(p)
	}
	it["kind"] = str("plan")
	it["dealerId"] = str(e.DealerID)
	it["platforms"] = &types.AttributeValueMemberL{Value: platforms}
	it["updatedAt"] = str(e.UpdatedAt.UTC().Format(time.RFC3339Nano))
	it["updatedBy"] = str(e.UpdatedBy)
	it["version"] = number(e.Version)
	return it
}

// IsItem reports whether a config item is a dealer's entitlement.
func IsItem(it map[string]types.AttributeValue) bool {
	sk, ok := it["sk"].(*types.AttributeValueMemberS)
	return ok && sk.Value == resources.PlanKey
}

// FromItem decodes an entitlement item, such as the targets query returns. An item whose
// platforms are not a list of strings is an error, not an empty plan.
func FromItem(it map[string]types.AttributeValue) (*Entitlement, error) {
	if !IsItem(it) {
		return nil, errors.New("decode entitlement: not an entitlement item")
	}
	pk, _ := it["pk"].(*types.AttributeValueMemberS)
	if pk == nil || !strings.HasPrefix(pk.Value, resources.DealerKeyPrefix) {
		return nil, errors.New("decode entitlement: no dealer key")
	}
	e := &Entitlement{DealerID: strings.TrimPrefix(pk.Value, resources.DealerKeyPrefix)}
	list, ok := it["platforms"].(*types.AttributeValueMemberL)
	if !ok {
		return nil, fmt.Errorf("decode entitlement of %s: platforms is not a list", e.DealerID)
	}
	for _, v := range list.Value {
		s, ok := v.(*types.AttributeValueMemberS)
		if !ok {
			return nil, fmt.Errorf("decode entitlement of %s: platforms holds a value that is not a string", e.DealerID)
		}
		e.Platforms = append(e.Platforms, s.Value)
	}
	e.Platforms = Normalize(e.Platforms)
	if v, ok := it["updatedAt"].(*types.AttributeValueMemberS); ok && v.Value != "" {
		t, err := time.Parse(time.RFC3339Nano, v.Value)
		if err != nil {
			return nil, fmt.Errorf("decode entitlement of %s: updatedAt: %w", e.DealerID, err)
		}
		e.UpdatedAt = t
	}
	if v, ok := it["updatedBy"].(*types.AttributeValueMemberS); ok {
		e.UpdatedBy = v.Value
	}
	if n, ok := it["version"].(*types.AttributeValueMemberN); ok {
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			return nil, fmt.Errorf("decode entitlement of %s: version: %w", e.DealerID, err)
		}
		e.Version = v
	}
	return e, nil
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func number(n int) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.Itoa(n)}
}
