// Package versioned writes config-table items that carry a version attribute (the API's
// ETag): a write applies only over the version its writer read, so concurrent writers cannot
// lose each other's changes.
package versioned

import (
	"context"
	"errors"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
)

// ErrConflict: the stored version is not the one the writer read.
var ErrConflict = errors.New("version conflict")

// PutItemAPI is the part of the DynamoDB client Put uses; *dynamodb.Client has it.
type PutItemAPI interface {
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
}

// Put writes item into table provided the stored item is at version (0: none is stored):
// ErrConflict otherwise. The item's own version attribute is the caller's (version+1).
func Put(ctx context.Context, db PutItemAPI, table string, item map[string]types.AttributeValue, version int) error {
	in := &dynamodb.PutItemInput{TableName: aws.String(table), Item: item}
	if version == 0 {
		in.ConditionExpression = aws.String("attribute_not_exists(pk)")
	} else {
		in.ConditionExpression = aws.String("#version = :version")
		in.ExpressionAttributeNames = map[string]string{"#version": "version"}
		in.ExpressionAttributeValues = map[string]types.AttributeValue{":version": &types.AttributeValueMemberN{Value: strconv.Itoa(version)}}
	}
	_, err := db.PutItem(ctx, in)
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrConflict
	}
	return err
}
