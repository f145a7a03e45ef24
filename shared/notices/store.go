package notices

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/internal/attr"
)

// DB is the part of the DynamoDB client the store uses; *dynamodb.Client has it.
type DB interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	DeleteItem(ctx context.Context, in *dynamodb.DeleteItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.DeleteItemOutput, error)
}

var _ DB = (*dynamodb.Client)(nil)

// MarkTTL is how long a notice's id is remembered: a platform's redelivery of the same
// notice within it is answered without running anything again.
const MarkTTL = 7 * 24 * time.Hour

// Store keeps, in the config table, the marks of the notices accepted (pk
// "NOTICE#<platform>#<notice id>", sk "NOTICE", dealerId, expiresAt: the table's TTL) and the
// dealer of each platform data owner (pk "NOTICEOWNER#<platform>#<owner id>", sk "OWNER",
// dealerId) (docs/design.md#data-model).
type Store struct {
	DB    DB
	Table string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func markKey(platform, id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": attr.S("NOTICE#" + platform + "#" + id), "sk": attr.S("NOTICE")}
}

func ownerKey(platform, owner string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{"pk": attr.S("NOTICEOWNER#" + platform + "#" + owner), "sk": attr.S("OWNER")}
}

// Mark records notice id of platform for dealerID, unless it is already (a conditional put):
// first is false for a notice seen within MarkTTL.
func (s *Store) Mark(ctx context.Context, platform, id, dealerID string) (first bool, err error) {
	it := markKey(platform, id)
	it["dealerId"] = attr.S(dealerID)
	it["expiresAt"] = attr.N(int(s.now().Add(MarkTTL).Unix()))
	_, err = s.DB.PutItem(ctx, &dynamodb.PutItemInput{
		TableName: aws.String(s.Table), Item: it,
		// an expired mark DynamoDB has not deleted yet does not count
		ConditionExpression:       aws.String("attribute_not_exists(pk) OR expiresAt < :now"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":now": attr.N(int(s.now().Unix()))},
	})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("mark the %s notice: %w", platform, err)
	}
	return true, nil
}

// Unmark forgets notice id (its sync could not be queued: the platform's redelivery must run
// it).
func (s *Store) Unmark(ctx context.Context, platform, id string) error {
	if _, err := s.DB.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(s.Table), Key: markKey(platform, id)}); err != nil {
		return fmt.Errorf("unmark the %s notice: %w", platform, err)
	}
	return nil
}

// ErrOwnerTaken: the data owner is another dealer's.
var ErrOwnerTaken = errors.New("the data owner is another dealer's")

// Owner returns the dealer of platform's data owner owner; "" when none claimed it.
func (s *Store) Owner(ctx context.Context, platform, owner string) (string, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(s.Table), Key: ownerKey(platform, owner), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return "", fmt.Errorf("read the %s data owner: %w", platform, err)
	}
	return attr.GetS(out.Item, "dealerId"), nil
}

// Claim makes dealerID the dealer of platform's data owner owner, when it has none, is
// dealerID's already, or was prev's (a dealer that no longer names it: "" for none);
// ErrOwnerTaken when another dealer has it.
func (s *Store) Claim(ctx context.Context, platform, owner, dealerID, prev string) error {
	it := ownerKey(platform, owner)
	it["dealerId"] = attr.S(dealerID)
	it["updatedAt"] = attr.S(s.now().UTC().Format(time.RFC3339))
	cond, values := "attribute_not_exists(pk) OR dealerId = :me", map[string]types.AttributeValue{":me": attr.S(dealerID)}
	if prev != "" {
		cond += " OR dealerId = :prev"
		values[":prev"] = attr.S(prev)
	}
	_, err := s.DB.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(s.Table), Item: it,
		ConditionExpression: aws.String(cond), ExpressionAttributeValues: values})
	var cf *types.ConditionalCheckFailedException
	if errors.As(err, &cf) {
		return ErrOwnerTaken
	}
	if err != nil {
		return fmt.Errorf("claim the %s data owner: %w", platform, err)
	}
	return nil
}
