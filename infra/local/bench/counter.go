package bench

import (
	"context"
	"maps"
	"runtime/pprof"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	ddbtypes "github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go/middleware"
)

// Calls counts AWS API calls by "Service.Operation" (once per operation call, retries not
// counted), the DynamoDB capacity they consumed and the SQS requests they are billed as.
// Install it with Option in an aws.Config's APIOptions.
type Calls struct {
	mu sync.Mutex
	c  CallCounts
}

// CallCounts is a snapshot of Calls.
type CallCounts struct {
	Ops map[string]int `json:"ops"`
	// WriteUnits and ReadUnits are the DynamoDB capacity units the calls consumed (the calls
	// ask for ReturnConsumedCapacity TOTAL).
	WriteUnits float64 `json:"writeUnits"`
	ReadUnits  float64 `json:"readUnits"`
	// SQSBilled is the SQS requests as billed: one per call and 64 KiB chunk of payload.
	SQSBilled int `json:"sqsBilled"`
	// BySource is the same by "<function> <Service.Operation>": the function is the pprof
	// label "function" of the call's context (the function process sets it per invocation),
	// absent for calls made outside an invocation.
	BySource map[string]OpUsage `json:"bySource"`
}

// OpUsage is what the calls of one operation by one function used.
type OpUsage struct {
	Calls     int     `json:"calls"`
	SQSBilled int     `json:"sqsBilled"`
	WRU       float64 `json:"wru"`
	RRU       float64 `json:"rru"`
}

func (u OpUsage) add(o OpUsage) OpUsage {
	return OpUsage{Calls: u.Calls + o.Calls, SQSBilled: u.SQSBilled + o.SQSBilled, WRU: u.WRU + o.WRU, RRU: u.RRU + o.RRU}
}

// sourceKey names a call's source: "router SQS.SendMessageBatch", or the operation alone.
func sourceKey(function, op string) string {
	if function == "" {
		return op
	}
	return function + " " + op
}

// NewCalls returns an empty counter.
func NewCalls() *Calls {
	return &Calls{c: CallCounts{Ops: map[string]int{}, BySource: map[string]OpUsage{}}}
}

// Option is an aws.Config APIOptions entry installing the counter.
func (c *Calls) Option(stack *middleware.Stack) error {
	return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("benchCountCalls",
		func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
			askCapacity(in.Parameters)
			out, md, err := next.HandleInitialize(ctx, in)
			op := awsmiddleware.GetServiceID(ctx) + "." + awsmiddleware.GetOperationName(ctx)
			w, r := capacity(out.Result)
			r = max(r, batchGetMinimum(in.Parameters, out.Result))
			sqsReq := sqsRequests(in.Parameters, out.Result)
			fn, _ := pprof.Label(ctx, "function")
			key := sourceKey(fn, op)
			c.mu.Lock()
			c.c.BySource[key] = c.c.BySource[key].add(OpUsage{Calls: 1, SQSBilled: sqsReq, WRU: w, RRU: r})
			c.c.Ops[op]++
			c.c.WriteUnits += w
			c.c.ReadUnits += r
			c.c.SQSBilled += sqsReq
			c.mu.Unlock()
			return out, md, err
		}), middleware.Before)
}

// Snapshot returns the counts so far.
func (c *Calls) Snapshot() CallCounts {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := c.c
	out.Ops = maps.Clone(c.c.Ops)
	out.BySource = maps.Clone(c.c.BySource)
	return out
}

// Reset zeroes the counts.
func (c *Calls) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.c = CallCounts{Ops: map[string]int{}, BySource: map[string]OpUsage{}}
}

// Total is the number of calls of one service ("SQS", "DynamoDB").
func (c CallCounts) Total(service string) int {
	n := 0
	for op, v := range c.Ops {
		if len(op) > len(service) && op[:len(service)] == service && op[len(service)] == '.' {
			n += v
		}
	}
	return n
}

// Add sums two snapshots.
func (c CallCounts) Add(o CallCounts) CallCounts {
	out := CallCounts{Ops: map[string]int{}, BySource: map[string]OpUsage{},
		WriteUnits: c.WriteUnits + o.WriteUnits, ReadUnits: c.ReadUnits + o.ReadUnits, SQSBilled: c.SQSBilled + o.SQSBilled}
	for _, x := range []CallCounts{c, o} {
		for k, v := range x.Ops {
			out.Ops[k] += v
		}
		for k, v := range x.BySource {
			out.BySource[k] = out.BySource[k].add(v)
		}
	}
	return out
}

// SortedOps lists the operations by name.
func (c CallCounts) SortedOps() []string {
	ops := make([]string, 0, len(c.Ops))
	for k := range c.Ops {
		ops = append(ops, k)
	}
	sort.Strings(ops)
	return ops
}

func askCapacity(params any) {
	total := ddbtypes.ReturnConsumedCapacityTotal
	switch in := params.(type) {
	case *dynamodb.GetItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.PutItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.UpdateItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.DeleteItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.QueryInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchGetItemInput:
		in.ReturnConsumedCapacity = total
	case *dynamodb.BatchWriteItemInput:
		in.ReturnConsumedCapacity = total
	}
}

func capacity(result any) (write, read float64) {
	var cc *ddbtypes.ConsumedCapacity
	isWrite := false
	switch out := result.(type) {
	case *dynamodb.BatchGetItemOutput:
		for _, c := range out.ConsumedCapacity {
			read += aws.ToFloat64(c.CapacityUnits)
		}
		return 0, read // see batchGetMinimum
	case *dynamodb.BatchWriteItemOutput:
		for _, c := range out.ConsumedCapacity {
			write += aws.ToFloat64(c.CapacityUnits)
		}
		return write, 0
	case *dynamodb.GetItemOutput:
		cc = out.ConsumedCapacity
	case *dynamodb.QueryOutput:
		cc = out.ConsumedCapacity
	case *dynamodb.PutItemOutput:
		cc, isWrite = out.ConsumedCapacity, true
	case *dynamodb.UpdateItemOutput:
		cc, isWrite = out.ConsumedCapacity, true
	case *dynamodb.DeleteItemOutput:
		cc, isWrite = out.ConsumedCapacity, true
	}
	if cc == nil || cc.CapacityUnits == nil {
		return 0, 0
	}
	if isWrite {
		return *cc.CapacityUnits, 0
	}
	return 0, *cc.CapacityUnits
}

// batchGetMinimum is what AWS bills a BatchGetItem at least: each key is read as a GetItem,
// which costs at least 0.5 read unit (eventually consistent; 1 strongly consistent) even
// when the item does not exist. DynamoDB Local reports no capacity for keys it did not find.
func batchGetMinimum(params, result any) float64 {
	in, ok := params.(*dynamodb.BatchGetItemInput)
	if !ok {
		return 0
	}
	out, _ := result.(*dynamodb.BatchGetItemOutput)
	units := 0.0
	for table, ka := range in.RequestItems {
		n := len(ka.Keys)
		if out != nil {
			n -= len(out.UnprocessedKeys[table].Keys)
		}
		per := 0.5
		if aws.ToBool(ka.ConsistentRead) {
			per = 1
		}
		units += float64(n) * per
	}
	return units
}

// sqsRequests is how many requests SQS bills a call as: one per started 64 KiB of payload.
func sqsRequests(params, result any) int {
	size := 0
	switch in := params.(type) {
	case *sqs.SendMessageInput:
		size = len(aws.ToString(in.MessageBody))
	case *sqs.SendMessageBatchInput:
		for _, e := range in.Entries {
			size += len(aws.ToString(e.MessageBody))
			for k, v := range e.MessageAttributes {
				size += len(k) + len(aws.ToString(v.DataType)) + len(aws.ToString(v.StringValue)) + len(v.BinaryValue)
			}
		}
	case *sqs.ReceiveMessageInput:
		if out, ok := result.(*sqs.ReceiveMessageOutput); ok {
			for _, m := range out.Messages {
				size += len(aws.ToString(m.Body))
			}
		}
	default:
		if !isSQS(params) {
			return 0
		}
	}
	return max(1, (size+65535)/65536)
}

func isSQS(params any) bool {
	switch params.(type) {
	case *sqs.DeleteMessageBatchInput, *sqs.DeleteMessageInput, *sqs.ChangeMessageVisibilityInput,
		*sqs.ChangeMessageVisibilityBatchInput, *sqs.GetQueueAttributesInput:
		return true
	}
	return false
}
