package bench

import (
	"math"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
)

func TestCostPerMillion(t *testing.T) {
	// a million deliveries: 400k SQS requests, 1M WRU, 500k RRU, 150k invocations,
	// 1,000 GB-s, 100 MB of logs
	lines := Prices.Cost(Usage{Deliveries: 1e6, SQSRequests: 4e5, WriteUnits: 1e6, ReadUnits: 5e5,
		Invocations: 1.5e5, GBSeconds: 1000, LogBytes: 100 << 20})
	want := map[string]float64{"SQS": 0.16, "DynamoDB writes": 0.625, "DynamoDB reads": 0.0625,
		"Lambda requests": 0.03, "Lambda duration": 0.0133334, "CloudWatch Logs": 0.5 * 100.0 / 1024}
	for _, l := range lines {
		if math.Abs(l.PerM-want[l.Service]) > 1e-9 {
			t.Errorf("%s: $%.6f, want $%.6f", l.Service, l.PerM, want[l.Service])
		}
	}
	if len(lines) != len(want) {
		t.Fatalf("%d lines", len(lines))
	}
}

func TestBilledUnits(t *testing.T) {
	keys := make([]map[string]ddbtypes.AttributeValue, 10)
	in := &dynamodb.BatchGetItemInput{RequestItems: map[string]ddbtypes.KeysAndAttributes{"log": {Keys: keys}}}
	out := &dynamodb.BatchGetItemOutput{UnprocessedKeys: map[string]ddbtypes.KeysAndAttributes{"log": {Keys: keys[:2]}}}
	if got := batchGetMinimum(in, out); got != 4 {
		t.Errorf("8 keys read eventually consistent: %v RRU, want 4", got)
	}
	big := strings.Repeat("x", 40*1024)
	send := &sqs.SendMessageBatchInput{Entries: []sqstypes.SendMessageBatchRequestEntry{{MessageBody: aws.String(big)}, {MessageBody: aws.String(big)}}}
	if got := sqsRequests(send, nil); got != 2 {
		t.Errorf("80 KiB batch: %d requests, want 2 (64 KiB chunks)", got)
	}
	if got := sqsRequests(&sqs.DeleteMessageBatchInput{}, nil); got != 1 {
		t.Errorf("delete: %d requests, want 1", got)
	}
	if got := sqsRequests(&dynamodb.GetItemInput{}, nil); got != 0 {
		t.Errorf("a DynamoDB call counted as %d SQS requests", got)
	}
	if billedMs(0.0101) != 11 || billedMs(0.010) != 10 {
		t.Errorf("billed ms: %v %v", billedMs(0.0101), billedMs(0.010))
	}
}
