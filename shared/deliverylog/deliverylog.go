// Package deliverylog is the delivery log: one item per delivery (an event for one target) in
// the delivery-log table, with the attempts made so far.
//
// Keys follow the data model (docs/design.md#data-model): pk = "<dealerId>#SUB#<subscriptionId>" or
// "<dealerId>#AGENT#<platform>", sk = the delivery id (time-ordered, so a Query with
// ScanIndexForward=false lists a target's deliveries newest first). Attribute names are short
// to keep the item of a successful first attempt well under 1 KB:
//
//	e  eventId          t  eventType       s  status           n  attemptCount
//	c  lastStatusCode   le lastError       ro retryOf          ca createdAt (epoch ms)
//	ua updatedAt (ms)   p  payload (JSON)  a  attempts (list)  pg progress (map)
//	rb retriedBy        expiresAt  TTL (epoch s)
//
// and each attempt is a map {n, at, c, d, ec, er, sn} (attempt, at ms, statusCode, durationMs,
// errorClass, error, responseSnippet). The payload is stored only for deliveries that did not
// succeed (so they can be retried) and the response snippet only for failed attempts.
package deliverylog

import (
	"cmp"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/oklog/ulid/v2"

	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
)

// Delivery statuses.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	StatusSkipped   = "skipped"
)

// Error classes of a failed attempt.
const (
	ClassHTTPStatus = "http_status" // the endpoint answered, but not with a 2xx
	ClassTimeout    = "timeout"     // no complete answer within the attempt's timeout
	ClassConnection = "connection"  // DNS, connect, TLS or a broken connection
	ClassBlocked    = "blocked"     // the address is not allowed (safeurl refused to connect)
	ClassInternal   = "internal"    // our side failed before or around the request
	// ClassCircuitOpen: the target's circuit breaker is open; no request was made.
	ClassCircuitOpen = "circuit_open"
)

// Attempt is one delivery attempt.
type Attempt struct {
	// Attempt is the message's ApproximateReceiveCount (1..4; it restarts at 1 when a message
	// is redriven from the dead-letter queue).
	Attempt         int       `json:"attempt"`
	At              time.Time `json:"at"`
	StatusCode      int       `json:"statusCode,omitempty"`
	DurationMs      int64     `json:"durationMs"`
	ErrorClass      string    `json:"errorClass,omitempty"`
	Error           string    `json:"error,omitempty"`
	ResponseSnippet string    `json:"responseSnippet,omitempty"`
}

// Record is one delivery.
type Record struct {
	DealerID       string           `json:"-"`
	Target         deliveryq.Target `json:"target"`
	DeliveryID     string           `json:"deliveryId"`
	EventID        string           `json:"eventId"`
	EventType      string           `json:"eventType"`
	Status         string           `json:"status"`
	AttemptCount   int              `json:"attemptCount"`
	LastStatusCode int              `json:"lastStatusCode,omitempty"`
	LastError      string           `json:"lastError,omitempty"`
	RetryOf        string           `json:"retryOf,omitempty"`
	// RetriedBy is the manual retry made of this delivery (each delivery is retried once at
	// most: MarkRetried).
	RetriedBy string    `json:"retriedBy,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`
	// Attempts and Payload are read by Get, not by List.
	Attempts []Attempt       `json:"attempts,omitempty"`
	Payload  json.RawMessage `json:"payload,omitempty"`
	// Progress holds the ids a multi-step agent flow obtained so far, so a retry resumes from
	// the step that failed (read by Get; written with an outcome when not empty).
	Progress map[string]string `json:"-"`

	// stored says the record was read from the table (so a write updates it).
	stored bool
}

var (
	// ErrNotFound is returned by Get for an unknown delivery.
	ErrNotFound = errors.New("deliverylog: delivery not found")
	// ErrExists is returned by CreatePending when the delivery id is taken.
	ErrExists = errors.New("deliverylog: delivery already exists")
	// ErrSucceeded is returned when recording a failure or a skip for a delivery that has
	// meanwhile succeeded (a concurrent duplicate of the message): nothing was written.
	ErrSucceeded = errors.New("deliverylog: delivery already succeeded")
	// ErrInvalidCursor is returned by List for a cursor it did not produce.
	ErrInvalidCursor = errors.New("deliverylog: invalid cursor")
	// ErrNotRetryable is returned by MarkRetried for a delivery that is neither failed nor
	// skipped (any more).
	ErrNotRetryable = errors.New("deliverylog: delivery is neither failed nor skipped")
)

// AlreadyRetriedError is returned by MarkRetried for a delivery already retried: By is the
// retry made.
type AlreadyRetriedError struct{ By string }

func (e *AlreadyRetriedError) Error() string {
	return "deliverylog: delivery already retried as " + e.By
}

// DynamoDBAPI is the part of the DynamoDB client the store uses.
type DynamoDBAPI interface {
	GetItem(ctx context.Context, in *dynamodb.GetItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(ctx context.Context, in *dynamodb.PutItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(ctx context.Context, in *dynamodb.UpdateItemInput, optFns ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(ctx context.Context, in *dynamodb.QueryInput, optFns ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
}

var _ DynamoDBAPI = (*dynamodb.Client)(nil)

// Store reads and writes the delivery-log table.
type Store struct {
	db    DynamoDBAPI
	table string
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// ScanLimit bounds the items a filtered List reads per call (DefaultScanLimit when 0).
	ScanLimit int
}

// DefaultScanLimit is how many log items a List with a status filter reads at most per call:
// past it, it answers the matches found so far (maybe none) and a cursor to continue from.
const DefaultScanLimit = 1000

// NewStore returns a store on the named table.
func NewStore(db DynamoDBAPI, table string) *Store {
	return &Store{db: db, table: table, Now: time.Now}
}

// Short attribute names.
const (
	attrPK         = "pk"
	attrSK         = "sk"
	attrEventID    = "e"
	attrEventType  = "t"
	attrStatus     = "s"
	attrCount      = "n"
	attrCode       = "c"
	attrLastError  = "le"
	attrRetryOf    = "ro"
	attrCreatedAt  = "ca"
	attrUpdatedAt  = "ua"
	attrPayload    = "p"
	attrAttempts   = "a"
	attrProgress   = "pg"
	attrRetriedBy  = "rb"
	attrExpiresAt  = "expiresAt"
	attemptNumber  = "n"
	attemptAt      = "at"
	attemptCode    = "c"
	attemptMillis  = "d"
	attemptClass   = "ec"
	attemptError   = "er"
	attemptSnippet = "sn"
)

// MaxErrorLen bounds a stored error message; MaxSnippetLen the stored response snippet.
const (
	MaxErrorLen   = 512
	MaxSnippetLen = 1024
)

func partitionKey(dealerID string, t deliveryq.Target) (string, error) {
	if dealerID == "" || t.ID == "" {
		return "", fmt.Errorf("deliverylog: dealer and target id are required")
	}
	switch t.Kind {
	case deliveryq.KindSubscription:
		return dealerID + resources.DeliveryLogSubscriptionInfix + t.ID, nil
	case deliveryq.KindAgent:
		return dealerID + resources.DeliveryLogAgentInfix + t.ID, nil
	}
	return "", fmt.Errorf("deliverylog: unknown target kind %q", t.Kind)
}

func (s *Store) key(dealerID string, t deliveryq.Target, deliveryID string) (map[string]types.AttributeValue, error) {
	pk, err := partitionKey(dealerID, t)
	if err != nil {
		return nil, err
	}
	if deliveryID == "" {
		return nil, fmt.Errorf("deliverylog: delivery id is required")
	}
	return map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(deliveryID)}, nil
}

// Get reads one delivery with its attempts and payload. consistent asks for a strongly
// consistent read.
func (s *Store) Get(ctx context.Context, dealerID string, target deliveryq.Target, deliveryID string, consistent bool) (*Record, error) {
	key, err := s.key(dealerID, target, deliveryID)
	if err != nil {
		return nil, err
	}
	out, err := s.db.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key,
		ConsistentRead: aws.Bool(consistent),
	})
	if err != nil {
		return nil, fmt.Errorf("deliverylog: get %s: %w", deliveryID, err)
	}
	if out.Item == nil {
		return nil, ErrNotFound
	}
	rec := decode(out.Item)
	rec.DealerID, rec.Target = dealerID, target
	return rec, nil
}

// listProjection is every attribute but the attempts and the payload.
var listProjection = []string{attrSK, attrEventID, attrEventType, attrStatus, attrCount, attrCode, attrLastError, attrRetryOf, attrRetriedBy, attrCreatedAt, attrUpdatedAt}

// List returns a target's deliveries newest first, at most limit (1..1000; default 50), only
// those with the given status unless status is empty. cursor is "" or a nextCursor returned
// by an earlier List with the same target and status (ErrInvalidCursor for anything else);
// nextCursor is "" at the end. With a status, one call reads at most ScanLimit items: a
// target whose history has few matches answers a short (even empty) page and a cursor, never
// its whole history in one request. The records carry no attempts and no payload.
func (s *Store) List(ctx context.Context, dealerID string, target deliveryq.Target, status string, limit int, cursor string) ([]Record, string, error) {
	pk, err := partitionKey(dealerID, target)
	if err != nil {
		return nil, "", err
	}
	if limit <= 0 {
		limit = 50
	}
	limit = min(limit, 1000)
	names := map[string]string{"#pk": attrPK}
	proj := ""
	for i, a := range listProjection {
		n := "#p" + strconv.Itoa(i)
		names[n] = a
		if proj != "" {
			proj += ","
		}
		proj += n
	}
	in := &dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
		KeyConditionExpression:    aws.String("#pk = :pk"),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: map[string]types.AttributeValue{":pk": str(pk)},
		ProjectionExpression:      aws.String(proj),
		ScanIndexForward:          aws.Bool(false),
	}
	if status != "" {
		names["#st"] = attrStatus
		in.ExpressionAttributeValues[":st"] = str(status)
		in.FilterExpression = aws.String("#st = :st")
	}
	if cursor != "" {
		sk, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
	}
	scanLimit := cmp.Or(s.ScanLimit, DefaultScanLimit)
	var items []Record
	scanned := 0
	for {
		if status == "" {
			in.Limit = aws.Int32(int32(limit - len(items)))
		} else {
			in.Limit = aws.Int32(int32(max(scanLimit-scanned, 1)))
		}
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("deliverylog: list %s: %w", pk, err)
		}
		scanned += int(out.ScannedCount)
		for i, item := range out.Items {
			if len(items) == limit {
				break
			}
			rec := decode(item)
			rec.DealerID, rec.Target = dealerID, target
			items = append(items, *rec)
			if len(items) == limit && (i < len(out.Items)-1 || out.LastEvaluatedKey != nil) {
				return items, encodeCursor(rec.DeliveryID), nil
			}
		}
		if out.LastEvaluatedKey == nil || len(items) == limit {
			return items, "", nil
		}
		if status != "" && scanned >= scanLimit {
			return items, encodeCursor(getS(out.LastEvaluatedKey, attrSK)), nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// CreatePending stores a new pending delivery (a manual retry or a test send) with its
// payload, before its message is enqueued. ErrExists if the delivery id is taken.
func (s *Store) CreatePending(ctx context.Context, rec *Record) error {
	now := s.Now()
	item, err := s.baseItem(rec, now)
	if err != nil {
		return err
	}
	item[attrStatus] = str(StatusPending)
	item[attrCount] = num(0)
	if len(rec.Payload) > 0 {
		item[attrPayload] = str(string(rec.Payload))
	}
	_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:           aws.String(s.table),
		Item:                item,
		ConditionExpression: aws.String("attribute_not_exists(pk)"),
	})
	if isConditionFailed(err) {
		return ErrExists
	}
	if err != nil {
		return fmt.Errorf("deliverylog: create %s: %w", rec.DeliveryID, err)
	}
	rec.Status, rec.CreatedAt, rec.UpdatedAt, rec.stored = StatusPending, createdAt(rec, now), now, true
	return nil
}

// MarkRetried records on a failed or skipped delivery that retryID retries it: one
// conditional UpdateItem, so of two concurrent retries of one delivery only one is made.
// *AlreadyRetriedError (naming the retry) when it was retried already, ErrNotRetryable when
// its status is another, ErrNotFound when it does not exist.
func (s *Store) MarkRetried(ctx context.Context, dealerID string, target deliveryq.Target, deliveryID, retryID string) error {
	err := s.updateItem(ctx, dealerID, target, deliveryID, &dynamodb.UpdateItemInput{
		UpdateExpression:                    aws.String("SET #rb = :rb"),
		ConditionExpression:                 aws.String("attribute_exists(#pk) AND attribute_not_exists(#rb) AND #s IN (:failed, :skipped)"),
		ExpressionAttributeNames:            map[string]string{"#pk": attrPK, "#rb": attrRetriedBy, "#s": attrStatus},
		ExpressionAttributeValues:           map[string]types.AttributeValue{":rb": str(retryID), ":failed": str(StatusFailed), ":skipped": str(StatusSkipped)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var failed *types.ConditionalCheckFailedException
	switch {
	case errors.As(err, &failed):
		if len(failed.Item) == 0 {
			return ErrNotFound
		}
		if by := getS(failed.Item, attrRetriedBy); by != "" {
			return &AlreadyRetriedError{By: by}
		}
		return ErrNotRetryable
	case err != nil:
		return fmt.Errorf("deliverylog: mark %s retried: %w", deliveryID, err)
	}
	return nil
}

// UnmarkRetried takes back MarkRetried's mark when the retry could not be started (its
// record or message not written), so that the delivery can be retried again. It removes
// the mark only if it still names retryID.
func (s *Store) UnmarkRetried(ctx context.Context, dealerID string, target deliveryq.Target, deliveryID, retryID string) error {
	err := s.updateItem(ctx, dealerID, target, deliveryID, &dynamodb.UpdateItemInput{
		UpdateExpression:          aws.String("REMOVE #rb"),
		ConditionExpression:       aws.String("#rb = :rb"),
		ExpressionAttributeNames:  map[string]string{"#rb": attrRetriedBy},
		ExpressionAttributeValues: map[string]types.AttributeValue{":rb": str(retryID)},
	})
	if err != nil && !isConditionFailed(err) {
		return fmt.Errorf("deliverylog: unmark %s retried: %w", deliveryID, err)
	}
	return nil
}

// updateItem runs in on the item of a delivery (setting its table and key).
func (s *Store) updateItem(ctx context.Context, dealerID string, target deliveryq.Target, deliveryID string, in *dynamodb.UpdateItemInput) error {
	key, err := s.key(dealerID, target, deliveryID)
	if err != nil {
		return err
	}
	in.TableName, in.Key = aws.String(s.table), key
	_, err = s.db.UpdateItem(ctx, in)
	return err
}

// RecordSuccess records a successful attempt: the delivery is succeeded. For a delivery not
// read from the table (a first attempt) it is one conditional PutItem of a small item with
// neither payload nor snippet; for a stored one (or when that put finds the item exists) an
// UpdateItem appending the attempt.
func (s *Store) RecordSuccess(ctx context.Context, rec *Record, a Attempt) error {
	a.ResponseSnippet = ""
	if !rec.stored {
		item, err := s.successItem(rec, a)
		if err != nil {
			return err
		}
		_, err = s.db.PutItem(ctx, &dynamodb.PutItemInput{
			TableName:           aws.String(s.table),
			Item:                item,
			ConditionExpression: aws.String("attribute_not_exists(pk)"),
		})
		if err == nil {
			return nil
		}
		if !isConditionFailed(err) {
			return fmt.Errorf("deliverylog: record success of %s: %w", rec.DeliveryID, err)
		}
	}
	return s.update(ctx, rec, a, StatusSucceeded, "", false)
}

// successItem is the item of a delivery whose first attempt succeeded: no payload, no
// snippet.
func (s *Store) successItem(rec *Record, a Attempt) (map[string]types.AttributeValue, error) {
	a.ResponseSnippet = ""
	item, err := s.baseItem(rec, s.Now())
	if err != nil {
		return nil, err
	}
	item[attrStatus] = str(StatusSucceeded)
	item[attrCount] = num(1)
	if a.StatusCode != 0 {
		item[attrCode] = num(a.StatusCode)
	}
	item[attrAttempts] = &types.AttributeValueMemberL{Value: []types.AttributeValue{attemptItem(a)}}
	if len(rec.Progress) > 0 {
		item[attrProgress] = progressItem(rec.Progress)
	}
	return item, nil
}

// RecordFailure records a failed attempt: status pending (it will be retried) or failed
// (final), the attempt appended with its snippet, the payload stored once. ErrSucceeded if
// the delivery has succeeded meanwhile.
func (s *Store) RecordFailure(ctx context.Context, rec *Record, a Attempt, final bool) error {
	status := StatusPending
	if final {
		status = StatusFailed
	}
	return s.update(ctx, rec, a, status, "", true)
}

// RecordSkipped ends a delivery without a request (its target was deleted or disabled, or
// does not apply to the event): status skipped, reason as the last error, payload stored.
// ErrSucceeded if the delivery has succeeded meanwhile.
func (s *Store) RecordSkipped(ctx context.Context, rec *Record, reason string) error {
	return s.update(ctx, rec, Attempt{}, StatusSkipped, reason, true)
}

// update writes an outcome onto the item (creating it if needed). a.Attempt == 0 means no
// attempt is appended. Unless the outcome is a success, it is conditional on the delivery not
// having succeeded.
func (s *Store) update(ctx context.Context, rec *Record, a Attempt, status, reason string, keepPayload bool) error {
	key, err := s.key(rec.DealerID, rec.Target, rec.DeliveryID)
	if err != nil {
		return err
	}
	now := s.Now()
	names := map[string]string{
		"#s": attrStatus, "#ua": attrUpdatedAt, "#x": attrExpiresAt, "#e": attrEventID,
		"#t": attrEventType, "#ca": attrCreatedAt,
	}
	values := map[string]types.AttributeValue{
		":s":  str(status),
		":ua": num(now.UnixMilli()),
		":x":  num(now.Add(resources.DeliveryLogRetention).Unix()),
		":e":  str(rec.EventID),
		":t":  str(rec.EventType),
		":ca": num(createdAt(rec, now).UnixMilli()),
	}
	set := "#s = :s, #ua = :ua, #x = :x, #e = if_not_exists(#e, :e), #t = if_not_exists(#t, :t), #ca = if_not_exists(#ca, :ca)"
	var remove string
	if a.Attempt > 0 {
		names["#n"], names["#a"], names["#c"] = attrCount, attrAttempts, attrCode
		values[":zero"], values[":one"] = num(0), num(1)
		values[":empty"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{}}
		values[":att"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{attemptItem(a)}}
		set += ", #n = if_not_exists(#n, :zero) + :one, #a = list_append(if_not_exists(#a, :empty), :att)"
		if a.StatusCode != 0 {
			values[":c"] = num(a.StatusCode)
			set += ", #c = :c"
		} else {
			remove = "#c"
		}
	}
	names["#le"] = attrLastError
	lastErr := reason
	if lastErr == "" {
		lastErr = a.Error
	}
	if status == StatusSucceeded || lastErr == "" {
		remove = joinComma(remove, "#le")
	} else {
		values[":le"] = str(truncate(lastErr, MaxErrorLen))
		set += ", #le = :le"
	}
	if rec.RetryOf != "" {
		names["#ro"], values[":ro"] = attrRetryOf, str(rec.RetryOf)
		set += ", #ro = if_not_exists(#ro, :ro)"
	}
	if len(rec.Progress) > 0 {
		names["#pg"], values[":pg"] = attrProgress, progressItem(rec.Progress)
		set += ", #pg = :pg"
	}
	if keepPayload && len(rec.Payload) > 0 {
		names["#p"], values[":p"] = attrPayload, str(string(rec.Payload))
		set += ", #p = if_not_exists(#p, :p)"
	}
	expr := "SET " + set
	if remove != "" {
		expr += " REMOVE " + remove
	}
	in := &dynamodb.UpdateItemInput{
		TableName:                 aws.String(s.table),
		Key:                       key,
		UpdateExpression:          aws.String(expr),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
	}
	if status != StatusSucceeded {
		values[":succeeded"] = str(StatusSucceeded)
		in.ConditionExpression = aws.String("attribute_not_exists(#s) OR #s <> :succeeded")
	}
	_, err = s.db.UpdateItem(ctx, in)
	if isConditionFailed(err) {
		return ErrSucceeded
	}
	if err != nil {
		return fmt.Errorf("deliverylog: record %s of %s: %w", status, rec.DeliveryID, err)
	}
	return nil
}

func joinComma(a, b string) string {
	if a == "" {
		return b
	}
	return a + ", " + b
}

// baseItem is the item of a new delivery without status, count and payload.
func (s *Store) baseItem(rec *Record, now time.Time) (map[string]types.AttributeValue, error) {
	key, err := s.key(rec.DealerID, rec.Target, rec.DeliveryID)
	if err != nil {
		return nil, err
	}
	item := key
	item[attrEventID] = str(rec.EventID)
	item[attrEventType] = str(rec.EventType)
	item[attrCreatedAt] = num(createdAt(rec, now).UnixMilli())
	item[attrUpdatedAt] = num(now.UnixMilli())
	item[attrExpiresAt] = num(now.Add(resources.DeliveryLogRetention).Unix())
	if rec.RetryOf != "" {
		item[attrRetryOf] = str(rec.RetryOf)
	}
	return item, nil
}

func createdAt(rec *Record, now time.Time) time.Time {
	if rec.CreatedAt.IsZero() {
		return now
	}
	return rec.CreatedAt
}

func attemptItem(a Attempt) types.AttributeValue {
	m := map[string]types.AttributeValue{
		attemptNumber: num(a.Attempt),
		attemptAt:     num(a.At.UnixMilli()),
		attemptMillis: num(a.DurationMs),
	}
	if a.StatusCode != 0 {
		m[attemptCode] = num(a.StatusCode)
	}
	if a.ErrorClass != "" {
		m[attemptClass] = str(a.ErrorClass)
	}
	if a.Error != "" {
		m[attemptError] = str(truncate(a.Error, MaxErrorLen))
	}
	if a.ResponseSnippet != "" {
		m[attemptSnippet] = str(truncate(a.ResponseSnippet, MaxSnippetLen))
	}
	return &types.AttributeValueMemberM{Value: m}
}

func progressItem(p map[string]string) types.AttributeValue {
	m := make(map[string]types.AttributeValue, len(p))
	for k, v := range p {
		m[k] = str(truncate(v, MaxErrorLen))
	}
	return &types.AttributeValueMemberM{Value: m}
}

func decode(item map[string]types.AttributeValue) *Record {
	rec := &Record{
		DeliveryID:     getS(item, attrSK),
		EventID:        getS(item, attrEventID),
		EventType:      getS(item, attrEventType),
		Status:         getS(item, attrStatus),
		AttemptCount:   int(getN(item, attrCount)),
		LastStatusCode: int(getN(item, attrCode)),
		LastError:      getS(item, attrLastError),
		RetryOf:        getS(item, attrRetryOf),
		RetriedBy:      getS(item, attrRetriedBy),
		CreatedAt:      millis(getN(item, attrCreatedAt)),
		UpdatedAt:      millis(getN(item, attrUpdatedAt)),
		stored:         true,
	}
	if p := getS(item, attrPayload); p != "" {
		rec.Payload = json.RawMessage(p)
	}
	if m, ok := item[attrProgress].(*types.AttributeValueMemberM); ok {
		rec.Progress = map[string]string{}
		for k, v := range m.Value {
			if s, ok := v.(*types.AttributeValueMemberS); ok {
				rec.Progress[k] = s.Value
			}
		}
	}
	if l, ok := item[attrAttempts].(*types.AttributeValueMemberL); ok {
		for _, v := range l.Value {
			m, ok := v.(*types.AttributeValueMemberM)
			if !ok {
				continue
			}
			rec.Attempts = append(rec.Attempts, Attempt{
				Attempt:         int(getN(m.Value, attemptNumber)),
				At:              millis(getN(m.Value, attemptAt)),
				StatusCode:      int(getN(m.Value, attemptCode)),
				DurationMs:      getN(m.Value, attemptMillis),
				ErrorClass:      getS(m.Value, attemptClass),
				Error:           getS(m.Value, attemptError),
				ResponseSnippet: getS(m.Value, attemptSnippet),
			})
		}
	}
	return rec
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func num[T int | int64](v T) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(int64(v), 10)}
}

func getS(item map[string]types.AttributeValue, name string) string {
	if v, ok := item[name].(*types.AttributeValueMemberS); ok {
		return v.Value
	}
	return ""
}

func getN(item map[string]types.AttributeValue, name string) int64 {
	if v, ok := item[name].(*types.AttributeValueMemberN); ok {
		n, _ := strconv.ParseInt(v.Value, 10, 64)
		return n
	}
	return 0
}

func millis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func isConditionFailed(err error) bool {
	var ccf *types.ConditionalCheckFailedException
	return errors.As(err, &ccf)
}

// truncate makes s valid UTF-8 (DynamoDB strings must be) and cuts it to at most n bytes on a
// rune boundary.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

func utf8RuneStart(b byte) bool { return b&0xC0 != 0x80 }

// RecoverMargin is how far before a recovery's since its Query starts: a delivery whose last
// attempt failed after since was created at most the retries' span (about 36 min, plus a
// Retry-After of up to 1 h) before it.
const RecoverMargin = 2 * time.Hour

// ListFailed returns, oldest first, a target's deliveries that ended failed at or after since
// (their last attempt recorded then) and were not retried: the ones a recovery delivers
// again. It returns at most limit, with their payloads, and reads at most scanLimit items;
// nextCursor ("" at the end) continues after the last item read. The records carry no
// attempts.
func (s *Store) ListFailed(ctx context.Context, dealerID string, target deliveryq.Target, since time.Time, limit, scanLimit int, cursor string) ([]Record, string, error) {
	pk, err := partitionKey(dealerID, target)
	if err != nil {
		return nil, "", err
	}
	from := "dlv_" + ulidPrefix(since.Add(-RecoverMargin))
	in := &dynamodb.QueryInput{
		TableName:              aws.String(s.table),
		KeyConditionExpression: aws.String("#pk = :pk AND #sk >= :from"),
		FilterExpression:       aws.String("#s = :failed AND #ua >= :since AND attribute_not_exists(#rb)"),
		ExpressionAttributeNames: map[string]string{"#pk": attrPK, "#sk": attrSK, "#s": attrStatus, "#ua": attrUpdatedAt,
			"#rb": attrRetriedBy, "#e": attrEventID, "#t": attrEventType, "#ro": attrRetryOf, "#ca": attrCreatedAt, "#p": attrPayload},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": str(pk), ":from": str(from), ":failed": str(StatusFailed),
			":since": &types.AttributeValueMemberN{Value: strconv.FormatInt(since.UnixMilli(), 10)},
		},
		ProjectionExpression: aws.String("#sk, #e, #t, #s, #ro, #ca, #ua, #p"),
		ScanIndexForward:     aws.Bool(true),
	}
	if cursor != "" {
		sk, err := decodeCursor(cursor)
		if err != nil {
			return nil, "", err
		}
		in.ExclusiveStartKey = map[string]types.AttributeValue{attrPK: str(pk), attrSK: str(sk)}
	}
	var recs []Record
	scanned := 0
	for {
		in.Limit = aws.Int32(int32(max(scanLimit-scanned, 1)))
		out, err := s.db.Query(ctx, in)
		if err != nil {
			return nil, "", fmt.Errorf("deliverylog: failed deliveries of %s: %w", pk, err)
		}
		scanned += int(out.ScannedCount)
		for _, item := range out.Items {
			rec := decode(item)
			rec.DealerID, rec.Target = dealerID, target
			recs = append(recs, *rec)
			if len(recs) == limit {
				return recs, encodeCursor(rec.DeliveryID), nil
			}
		}
		if out.LastEvaluatedKey == nil {
			return recs, "", nil
		}
		if scanned >= scanLimit {
			return recs, encodeCursor(getS(out.LastEvaluatedKey, attrSK)), nil
		}
		in.ExclusiveStartKey = out.LastEvaluatedKey
	}
}

// encodeCursor is the cursor that continues a list after the delivery id sk.
func encodeCursor(sk string) string { return base64.RawURLEncoding.EncodeToString([]byte(sk)) }

// decodeCursor reads a cursor back: the delivery id of a list's last item (or last item
// read). Anything else (not base64, not "dlv_" and a ULID: bytes DynamoDB would refuse as a
// key) is ErrInvalidCursor, a 400 for the API rather than DynamoDB's error.
func decodeCursor(cursor string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return "", ErrInvalidCursor
	}
	rest, ok := strings.CutPrefix(string(b), "dlv_")
	if !ok {
		return "", ErrInvalidCursor
	}
	if _, err := ulid.ParseStrict(rest); err != nil {
		return "", ErrInvalidCursor
	}
	return string(b), nil
}

// ulidPrefix is the time part of the ULIDs of t (10 characters): every delivery id of t or
// later sorts at or after "dlv_" + it.
func ulidPrefix(t time.Time) string {
	var id ulid.ULID
	_ = id.SetTime(ulid.Timestamp(t))
	return id.String()[:10]
}
