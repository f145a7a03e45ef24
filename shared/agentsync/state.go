package agentsync

import (
	"context"
	"errors"
	"fmt"
	"github.com/dealerai/integrations/shared/internal/attr"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/shared/agents/changefeed"
	"github.com/dealerai/integrations/shared/resources"
)

// The states of an agent's sync, as GET /v1/agents/{platform}/sync shows them.
const (
	StateIdle       = "idle"        // synced, or never run; the next run is at nextRunAt
	StateRunning    = "running"     // a job holds the agent's lease
	StateBackingOff = "backing_off" // the platform failed or limited the rate: retried later
	StateFailing    = "failing"     // the platform refused the credentials: retried slowly
)

// Errors of the state store, for errors.Is.
var (
	// ErrBusy: another job holds the agent's lease.
	ErrBusy = errors.New("another sync job of this agent is running")
	// ErrLeaseLost: the job's lease expired and another job took it; it must stop.
	ErrLeaseLost = errors.New("the sync job's lease was lost")
	// ErrRecentlyRequested: a run was requested moments ago.
	ErrRecentlyRequested = errors.New("a sync run was requested moments ago")
)

// State is an agent's sync state: its item in the config table, pk resources.DealerKey, sk
// resources.SyncKeyPrefix + platform (docs/design.md#data-model).
type State struct {
	Cursor changefeed.Cursor
	// State is StateIdle, StateBackingOff or StateFailing ("" before the first run); a held
	// lease means StateRunning.
	State string
	// Failures counts the runs that failed in a row.
	Failures int
	// Reason says why the agent is backing off or failing.
	Reason  string
	LastRun *Run
	// Notes are the feed's notes of the last run.
	Notes      []string
	LeaseOwner string
	LeaseUntil time.Time
	// RequestedAt is when a run was last asked for through the API.
	RequestedAt time.Time
}

// Run is what one job did.
type Run struct {
	StartedAt       time.Time `json:"startedAt"`
	FinishedAt      time.Time `json:"finishedAt"`
	RecordsRead     int       `json:"recordsRead"`
	EventsPublished int       `json:"eventsPublished"`
	// EchoesSuppressed counts the changes that were DealerAI's own pushes.
	EchoesSuppressed int    `json:"echoesSuppressed"`
	Error            string `json:"error"`
}

// StateStore keeps the agents' sync states in the config table.
type StateStore struct {
	DB    DynamoDBAPI
	Table string
}

// DynamoDBAPI is the part of the DynamoDB client the sync uses; *dynamodb.Client has it.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

func stateKey(dealerID, platform string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{
		"pk": &types.AttributeValueMemberS{Value: resources.DealerKey(dealerID)},
		"sk": &types.AttributeValueMemberS{Value: resources.SyncKeyPrefix + platform},
	}
}

// Get reads an agent's sync state (strongly consistent): the zero State when it never ran.
func (s *StateStore) Get(ctx context.Context, dealerID, platform string) (*State, error) {
	out, err := s.DB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(s.Table), Key: stateKey(dealerID, platform), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return nil, fmt.Errorf("read the sync state of %s: %w", platform, err)
	}
	it := out.Item
	st := &State{
		Cursor:      changefeed.Cursor{Value: attr.GetS(it, "cursor"), Time: getTime(it, "cursorTime")},
		State:       attr.GetS(it, "state"),
		Failures:    attr.GetN(it, "failures"),
		Reason:      attr.GetS(it, "reason"),
		Notes:       attr.GetList(it, "notes"),
		LeaseOwner:  attr.GetS(it, "leaseOwner"),
		RequestedAt: getTime(it, "requestedAt"),
	}
	if ms := attr.GetN(it, "leaseUntil"); ms != 0 {
		st.LeaseUntil = time.UnixMilli(int64(ms))
	}
	if m, ok := it["lastRun"].(*types.AttributeValueMemberM); ok {
		st.LastRun = &Run{
			StartedAt: getTime(m.Value, "startedAt"), FinishedAt: getTime(m.Value, "finishedAt"),
			RecordsRead: attr.GetN(m.Value, "recordsRead"), EventsPublished: attr.GetN(m.Value, "eventsPublished"),
			EchoesSuppressed: attr.GetN(m.Value, "echoesSuppressed"), Error: attr.GetS(m.Value, "error"),
		}
	}
	return st, nil
}

// Lease takes the agent's lease for owner until the given time: ErrBusy while another job
// holds an unexpired one. The item is created when absent.
func (s *StateStore) Lease(ctx context.Context, dealerID, platform, owner string, now, until time.Time) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 stateKey(dealerID, platform),
		UpdateExpression:    aws.String("SET leaseOwner = :owner, leaseUntil = :until, runStartedAt = :now"),
		ConditionExpression: aws.String("attribute_not_exists(leaseUntil) OR leaseUntil < :nowMs"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":owner": attr.S(owner), ":until": attr.Millis(until), ":now": timeValue(now), ":nowMs": attr.Millis(now),
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrBusy
	}
	if err != nil {
		return fmt.Errorf("lease the sync of %s: %w", platform, err)
	}
	return nil
}

// ownerHolds is the condition of the writes a job makes under its lease.
const ownerHolds = "leaseOwner = :owner AND leaseUntil >= :nowMs"

// Advance stores the cursor after a page whose events are on the inbound queue, provided
// owner still holds the lease: ErrLeaseLost otherwise.
func (s *StateStore) Advance(ctx context.Context, dealerID, platform, owner string, now time.Time, c changefeed.Cursor) error {
	update := "SET #cursor = :cursor"
	values := map[string]types.AttributeValue{":cursor": attr.S(c.Value), ":owner": attr.S(owner), ":nowMs": attr.Millis(now)}
	if c.Time.IsZero() {
		update += " REMOVE cursorTime"
	} else {
		update += ", cursorTime = :cursorTime"
		values[":cursorTime"] = timeValue(c.Time)
	}
	return s.underLease(ctx, platform, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       stateKey(dealerID, platform),
		UpdateExpression:          aws.String(update),
		ConditionExpression:       aws.String(ownerHolds),
		ExpressionAttributeNames:  map[string]string{"#cursor": "cursor"},
		ExpressionAttributeValues: values,
	})
}

// Outcome is how a job ended, for Finish.
type Outcome struct {
	Run      Run
	State    string // StateIdle, StateBackingOff or StateFailing
	Failures int
	Reason   string
	Notes    []string
}

// Finish records a job's outcome and gives its lease up, provided owner still holds it:
// ErrLeaseLost otherwise (another job's outcome is then the one to keep).
func (s *StateStore) Finish(ctx context.Context, dealerID, platform, owner string, now time.Time, o Outcome) error {
	run := map[string]types.AttributeValue{
		"startedAt": timeValue(o.Run.StartedAt), "finishedAt": timeValue(o.Run.FinishedAt),
		"recordsRead": attr.N(o.Run.RecordsRead), "eventsPublished": attr.N(o.Run.EventsPublished),
		"echoesSuppressed": attr.N(o.Run.EchoesSuppressed), "error": attr.S(o.Run.Error),
	}
	notes := o.Notes
	if notes == nil {
		notes = []string{}
	}
	return s.underLease(ctx, platform, &dynamodb.UpdateItemInput{
		TableName: aws.String(s.Table),
		Key:       stateKey(dealerID, platform),
		UpdateExpression: aws.String("SET lastRun = :run, #state = :state, failures = :failures, reason = :reason, notes = :notes " +
			"REMOVE leaseOwner, leaseUntil, runStartedAt"),
		ConditionExpression:      aws.String(ownerHolds),
		ExpressionAttributeNames: map[string]string{"#state": "state"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":run": &types.AttributeValueMemberM{Value: run}, ":state": attr.S(o.State), ":failures": attr.N(o.Failures),
			":reason": attr.S(o.Reason), ":notes": attr.StrList(notes), ":owner": attr.S(owner), ":nowMs": attr.Millis(now),
		},
	})
}

// Release gives a lease up without recording an outcome (a job that failed on DynamoDB or
// SQS, to be retried by SQS at once): nothing when owner no longer holds it.
func (s *StateStore) Release(ctx context.Context, dealerID, platform, owner string) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.Table),
		Key:                       stateKey(dealerID, platform),
		UpdateExpression:          aws.String("REMOVE leaseOwner, leaseUntil, runStartedAt"),
		ConditionExpression:       aws.String("leaseOwner = :owner"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":owner": attr.S(owner)},
	})
	var failed *types.ConditionalCheckFailedException
	if err != nil && !errors.As(err, &failed) {
		return fmt.Errorf("release the sync of %s: %w", platform, err)
	}
	return nil
}

// Request records that a run was asked for at now, unless one was asked for within the last
// gap: ErrRecentlyRequested then.
func (s *StateStore) Request(ctx context.Context, dealerID, platform string, now time.Time, gap time.Duration) error {
	_, err := s.DB.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:           aws.String(s.Table),
		Key:                 stateKey(dealerID, platform),
		UpdateExpression:    aws.String("SET requestedAt = :now"),
		ConditionExpression: aws.String("attribute_not_exists(requestedAt) OR requestedAt < :since"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":now": timeValue(now), ":since": timeValue(now.Add(-gap)),
		},
	})
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrRecentlyRequested
	}
	if err != nil {
		return fmt.Errorf("request a sync of %s: %w", platform, err)
	}
	return nil
}

func (s *StateStore) underLease(ctx context.Context, platform string, in *dynamodb.UpdateItemInput) error {
	_, err := s.DB.UpdateItem(ctx, in)
	var failed *types.ConditionalCheckFailedException
	if errors.As(err, &failed) {
		return ErrLeaseLost
	}
	if err != nil {
		return fmt.Errorf("record the sync of %s: %w", platform, err)
	}
	return nil
}

// timeLayout is fixed-width UTC, so that DynamoDB's string comparison orders times.
const timeLayout = "2006-01-02T15:04:05.000Z"

func timeValue(t time.Time) types.AttributeValue { return attr.S(t.UTC().Format(timeLayout)) }

func getTime(it map[string]types.AttributeValue, name string) time.Time {
	t, err := time.Parse(timeLayout, attr.GetS(it, name))
	if err != nil {
		return time.Time{}
	}
	return t
}
