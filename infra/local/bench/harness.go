// Package bench measures the delivery pipeline on the local stack — the router and delivery
// handlers driven by event source mapping stand-ins (infra/local's SQSPoller) on DynamoDB
// Local and the SQS emulator — and prints the figures of docs/performance.md: AWS calls,
// capacity, log bytes and Lambda time per delivery with their cost at list prices, the
// handlers' CPU per delivery beside a bare-POST floor, latency at a paced load, isolation from
// a hanging endpoint, drain rate, memory, loss, cold start and binary sizes.
//
// Three processes keep the CPU figure honest: the emulators (started by `stack emulators`),
// this process (the event source mappings, the webhook receivers and the load generator), and
// the function process (RunFunction), which runs nothing but the handlers, so its getrusage
// is theirs. All figures are local figures: the emulators share this machine's cores.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"

	catalog "github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/shared/deliveryq"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/signing"
	"github.com/dealerai/integrations/shared/subscriptions"
)

// Options configure a Harness.
type Options struct {
	// Dealers, each with FanOut subscriptions matching the bench's events.
	Dealers, FanOut int
	// RouterConcurrency and DeliveryConcurrency are the event source mappings' maximum
	// concurrent invocations (infra/stack's defaults: 20 and 50); Pollers their long polls.
	RouterConcurrency, DeliveryConcurrency, Pollers int
	// DeliveryTimeout is the function's DELIVERY_TIMEOUT (10 s when empty).
	DeliveryTimeout string
	// Self is the command that runs the function process ("<Self> function").
	Self []string
	// LogFile, when set, receives a copy of the handlers' logs.
	LogFile string
	Out     io.Writer
}

func (o *Options) defaults() {
	if o.Dealers == 0 {
		o.Dealers = 50
	}
	if o.FanOut == 0 {
		o.FanOut = 3
	}
	if o.RouterConcurrency == 0 {
		o.RouterConcurrency = 20
	}
	if o.DeliveryConcurrency == 0 {
		o.DeliveryConcurrency = 50
	}
	if o.Pollers == 0 {
		o.Pollers = 2
	}
	if o.Out == nil {
		o.Out = os.Stdout
	}
}

// Harness is one provisioned pipeline: tables and queues, subscriptions, receivers, the
// function process and the pollers feeding it.
type Harness struct {
	opts  Options
	ddb   *dynamodb.Client
	sqs   *sqs.Client // the bench's own (publishing, inspecting), not counted
	names local.Names
	// esmCalls counts the event source mappings' SQS calls: the events mapping's (router) and
	// the deliveries mapping's (delivery), each through its own client.
	esmCalls map[string]*Calls
	esmSQS   map[string]*sqs.Client
	fn       *functionClient
	dealers  []*dealer
	rc       *receipts
	inflight atomic.Int64
	stop     context.CancelFunc
	pollers  sync.WaitGroup
	// mappings are the event source mapping stand-ins, window their batching window.
	mappings []*local.SQSPoller
	window   time.Duration
	cleanups []func()
}

type dealer struct {
	id     string
	server *httptest.Server
	subs   []*sub
}

type sub struct {
	target  deliveryq.Target
	url     string
	hanging atomic.Bool
}

// New provisions a pipeline on the emulators of AWS_ENDPOINT_URL_DYNAMODB/_SQS and starts it.
func New(ctx context.Context, opts Options) (*Harness, error) {
	opts.defaults()
	h := &Harness{opts: opts, esmCalls: map[string]*Calls{"router": NewCalls(), "delivery": NewCalls()}, esmSQS: map[string]*sqs.Client{}, rc: newReceipts()}
	ok := false
	defer func() {
		if !ok {
			h.Close()
		}
	}()
	ddbURL, sqsURL := os.Getenv("AWS_ENDPOINT_URL_DYNAMODB"), os.Getenv("AWS_ENDPOINT_URL_SQS")
	if ddbURL == "" || sqsURL == "" {
		return nil, errors.New("the bench needs the emulators: run it under `go run ./infra/local/cmd/stack emulators -- ...` (sets AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_SQS)")
	}
	awsCfg, err := local.AWSConfig(ctx, ddbURL, sqsURL)
	if err != nil {
		return nil, err
	}
	h.ddb, h.sqs = local.Clients(awsCfg)
	prefix := fmt.Sprintf("bench-%d", time.Now().UnixNano()%1e9)
	if h.names, err = local.Provision(ctx, h.ddb, h.sqs, prefix); err != nil {
		return nil, err
	}
	h.cleanups = append(h.cleanups, h.deprovision)

	// Receivers: one endpoint host per dealer, one path per subscription.
	store := subscriptions.NewStore(h.ddb, h.names.Tables[resources.ConfigTable.ID])
	filters := []string{"*", "lead.*", "lead.created", "lead.created", "lead.*"}
	for d := range opts.Dealers {
		dl := &dealer{id: fmt.Sprintf("dlr_bench%03d", d)}
		dl.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { h.receive(dl, w, r) }))
		h.cleanups = append(h.cleanups, dl.server.Close)
		for i := range opts.FanOut {
			url := fmt.Sprintf("%s/hooks/%d", dl.server.URL, i)
			secret, err := signing.NewSecret()
			if err != nil {
				return nil, err
			}
			s := subscriptions.New(dl.id, subscriptions.Fields{URL: &url, Events: []string{filters[i%len(filters)]}}, secret, time.Now())
			if err := store.Create(ctx, s); err != nil {
				return nil, fmt.Errorf("subscribe: %w", err)
			}
			dl.subs = append(dl.subs, &sub{target: deliveryq.Target{Kind: deliveryq.KindSubscription, ID: s.ID}, url: url})
		}
		h.dealers = append(h.dealers, dl)
	}

	// The function process, with the settings the functions read from their environment.
	env := h.names.Env()
	env["AWS_ENDPOINT_URL_DYNAMODB"], env["AWS_ENDPOINT_URL_SQS"] = ddbURL, sqsURL
	env["AWS_REGION"], env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"] = local.Region, local.AccessKeyID, local.SecretAccessKey
	env["ALLOW_ENDPOINT_CIDRS"], env["ALLOW_HTTP_ENDPOINTS"] = "127.0.0.0/8", "true"
	env["GOMAXPROCS"] = resources.PipelineGOMAXPROCS // as infra/stack sets it for both functions
	// GOGC as infra/stack sets it; not GOMEMLIMIT, a container's limit (this process plays them all)
	env["GOGC"] = resources.PipelineGOGC
	if opts.DeliveryTimeout != "" {
		env["DELIVERY_TIMEOUT"] = opts.DeliveryTimeout
	}
	if h.fn, err = startFunction(opts.Self, env, opts.LogFile); err != nil {
		return nil, err
	}
	h.cleanups = append(h.cleanups, h.fn.close)

	// The event source mappings, each with its own counted SQS client.
	for fn, c := range h.esmCalls {
		esmCfg := awsCfg.Copy()
		esmCfg.APIOptions = append(esmCfg.APIOptions, c.Option)
		h.esmSQS[fn] = sqs.NewFromConfig(esmCfg)
	}
	h.startPollers()
	ok = true
	return h, nil
}

// startPollers starts the event source mapping stand-ins (batching window 0, the CDK
// context batchingWindow's default).
func (h *Harness) startPollers() {
	runCtx, stop := context.WithCancel(context.Background())
	h.stop = stop
	// The mappings' warnings (a failed poll, invocation or delete) are printed: each one can
	// leave messages in flight until their visibility timeout, which a run reports as lost.
	pollerLog := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	h.mappings = []*local.SQSPoller{
		{SQS: h.esmSQS["router"], QueueURL: h.names.QueueURLs[resources.EventsQueue.ID], QueueARN: h.names.QueueARNs[resources.EventsQueue.ID],
			Handler: h.remote("router"), Concurrency: h.opts.RouterConcurrency, Pollers: h.opts.Pollers, Timeout: resources.RouterTimeout, Log: pollerLog},
		{SQS: h.esmSQS["delivery"], QueueURL: h.names.QueueURLs[resources.DeliveriesQueue.ID], QueueARN: h.names.QueueARNs[resources.DeliveriesQueue.ID],
			Handler: h.remote("delivery"), Concurrency: h.opts.DeliveryConcurrency, Pollers: h.opts.Pollers, Timeout: resources.DeliveryTimeout, Log: pollerLog},
	}
	for _, p := range h.mappings {
		h.pollers.Go(func() { p.Run(runCtx) })
	}
	h.cleanups = append(h.cleanups, func() {
		stop()
		done := make(chan struct{})
		go func() { h.pollers.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
		}
	})
}

// SetBatchingWindow sets both mappings' batching window (the CDK context batchingWindow, which
// infra/stack sets on both), from their next batch on. Call it between runs.
func (h *Harness) SetBatchingWindow(d time.Duration) {
	for _, p := range h.mappings {
		p.SetBatchingWindow(d)
	}
	h.window = d
}

// Close stops everything New started and deletes the tables and queues.
func (h *Harness) Close() {
	for i := len(h.cleanups) - 1; i >= 0; i-- {
		h.cleanups[i]()
	}
	h.cleanups = nil
}

func (h *Harness) deprovision() { local.Deprovision(h.ddb, h.sqs, h.names) }

// remote is the handler an event source mapping invokes: the function process, over
// loopback.
func (h *Harness) remote(fn string) local.SQSFunc {
	return func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		h.inflight.Add(1)
		defer h.inflight.Add(-1)
		return h.fn.invoke(ctx, fn, ev)
	}
}

// ---- the function process ----

type functionClient struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	base  string
	http  *http.Client
}

func startFunction(self []string, env map[string]string, logFile string) (*functionClient, error) {
	args := append(slices.Clone(self[1:]), "function")
	if logFile != "" {
		args = append(args, "-logfile", logFile)
	}
	cmd := exec.Command(self[0], args...)
	cmd.Env = os.Environ()
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	f := &functionClient{cmd: cmd, stdin: stdin, http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	line := make(chan string, 1)
	go func() {
		buf := make([]byte, 256)
		n, _ := io.ReadAtLeast(stdout, buf, 1)
		s := string(buf[:n])
		for !strings.Contains(s, "\n") {
			m, err := stdout.Read(buf)
			if err != nil {
				break
			}
			s += string(buf[:m])
		}
		line <- s
		_, _ = io.Copy(io.Discard, stdout)
	}()
	select {
	case s := <-line:
		addr, ok := strings.CutPrefix(strings.TrimSpace(s), "listening ")
		if !ok {
			f.close()
			return nil, fmt.Errorf("function process: %q", s)
		}
		f.base = "http://" + addr
	case <-time.After(60 * time.Second):
		f.close()
		return nil, errors.New("function process did not start")
	}
	return f, nil
}

func (f *functionClient) close() {
	_ = f.stdin.Close()
	done := make(chan struct{})
	go func() { _ = f.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = f.cmd.Process.Kill()
		<-done
	}
}

func (f *functionClient) invoke(ctx context.Context, fn string, ev events.SQSEvent) (events.SQSEventResponse, error) {
	var resp events.SQSEventResponse
	err := f.call(ctx, "POST", "/invoke/"+fn, ev, &resp)
	return resp, err
}

func (f *functionClient) call(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, f.base+path, body)
	if err != nil {
		return err
	}
	resp, err := f.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

func (f *functionClient) reset() error {
	return f.call(context.Background(), "POST", "/reset", nil, nil)
}

func (f *functionClient) stats() (FunctionStats, error) {
	var s FunctionStats
	err := f.call(context.Background(), "GET", "/stats", nil, &s)
	return s, err
}

// ---- receivers ----

// receipts tracks what the endpoints received against what was expected.
type receipts struct {
	mu         sync.Mutex
	sent       map[string]time.Time // eventId → SendMessage time
	expect     map[string]*expectation
	remaining  int // expected, not hanging, not yet received
	done       chan struct{}
	duplicates int
	unexpected int
	// hangingRetries are further attempts of the hanging endpoint's deliveries.
	hangingRetries int
	last           time.Time
	bare           atomic.Int64
}

type expectation struct {
	event   string
	hanging bool
	got     time.Time
}

func newReceipts() *receipts {
	return &receipts{sent: map[string]time.Time{}, expect: map[string]*expectation{}, done: make(chan struct{})}
}

func receiptKey(eventID, deliveryID string) string { return eventID + "|" + deliveryID }

func (h *Harness) receive(dl *dealer, w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	now := time.Now()
	eventID := r.Header.Get("webhook-id")
	if eventID == "" {
		h.rc.bare.Add(1) // a bare-POST floor request
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var s *sub
	if i, err := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/hooks/")); err == nil && i >= 0 && i < len(dl.subs) {
		s = dl.subs[i]
	}
	rc := h.rc
	rc.mu.Lock()
	e := rc.expect[receiptKey(eventID, r.Header.Get("DealerAI-Delivery-Id"))]
	switch {
	case e == nil:
		rc.unexpected++
	case !e.got.IsZero() && e.hanging:
		rc.hangingRetries++ // the next attempt, after the backoff
	case !e.got.IsZero():
		rc.duplicates++
	default:
		e.got = now
		if !e.hanging {
			rc.last = now
			rc.remaining--
			if rc.remaining == 0 {
				close(rc.done)
			}
		}
	}
	rc.mu.Unlock()
	if s != nil && s.hanging.Load() {
		<-r.Context().Done() // hang until the delivery's timeout closes the connection
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- load ----

// Load is one run of events through the pipeline.
type Load struct {
	Name   string
	Events int
	// Rate is events per second, each its own SendMessage; 0 sends them all at once in
	// batches of 10.
	Rate float64
	// Batched sends the events in SendMessageBatch calls of 10 at Rate events per second.
	Batched bool
	// Hanging makes one endpoint (the first subscription of the first dealer) hang until the
	// delivery timeout.
	Hanging bool
	// Profile, when set, is where the function process writes a CPU profile of the run.
	Profile string
}

// Result is what a Load measured.
type Result struct {
	Load
	Expected, Received, Duplicates, Unexpected, Lost int
	HangingDeliveries, HangingRetries                int
	Elapsed                                          time.Duration // first send → last receipt
	Latencies                                        []time.Duration
	Function                                         FunctionStats
	// ESM is the event source mappings' calls, ESMByFunction each mapping's (by the function
	// it invokes).
	ESM           CallCounts
	ESMByFunction map[string]CallCounts
	// Window is the mappings' batching window during the run.
	Window                               time.Duration
	EventsDLQ, DeliveriesDLQ, EventsLeft int
	DeliveriesLeft                       int
	LostSample                           []string // "eventId|deliveryId" of up to 5 lost deliveries
}

// Run sends the load's events and waits until every delivery that should succeed arrived and
// the pipeline is idle.
func (h *Harness) Run(ctx context.Context, l Load) (*Result, error) {
	type event struct {
		id   string
		body string
	}
	evs := make([]event, l.Events)
	rc := newReceipts()
	hangSub := h.dealers[0].subs[0]
	hangSub.hanging.Store(l.Hanging)
	defer hangSub.hanging.Store(false)
	for i := range evs {
		dl := h.dealers[i%len(h.dealers)]
		body, ev, err := exampleEvent(dl.id)
		if err != nil {
			return nil, err
		}
		evs[i] = event{id: ev.ID, body: string(body)}
		for _, s := range dl.subs {
			hanging := l.Hanging && s == hangSub
			rc.expect[receiptKey(ev.ID, deliveryq.DeliveryID(ev.ID, ev.Timestamp, s.target))] = &expectation{event: ev.ID, hanging: hanging}
			if !hanging {
				rc.remaining++
			}
		}
	}
	expected := rc.remaining
	h.rc = rc
	for _, c := range h.esmCalls {
		c.Reset()
	}
	if err := h.fn.reset(); err != nil {
		return nil, err
	}
	if l.Profile != "" {
		if err := h.fn.call(ctx, "POST", "/profile/start?path="+l.Profile, nil, nil); err != nil {
			return nil, err
		}
	}

	eventsURL := aws.String(h.names.QueueURLs[resources.EventsQueue.ID])
	start := time.Now()
	var sendErr atomic.Value
	next := make(chan int, 64)
	var senders sync.WaitGroup
	if l.Rate <= 0 || l.Batched {
		for range 4 {
			senders.Go(func() {
				for i := range next {
					end := min(i+10, len(evs))
					entries := make([]sqstypes.SendMessageBatchRequestEntry, 0, 10)
					for j := i; j < end; j++ {
						entries = append(entries, sqstypes.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(j - i)), MessageBody: aws.String(evs[j].body)})
					}
					now := time.Now()
					rc.mu.Lock()
					for j := i; j < end; j++ {
						rc.sent[evs[j].id] = now
					}
					rc.mu.Unlock()
					out, err := h.sqs.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: eventsURL, Entries: entries})
					if err == nil && len(out.Failed) > 0 {
						err = fmt.Errorf("%d events refused", len(out.Failed))
					}
					if err != nil {
						sendErr.Store(err)
					}
				}
			})
		}
		interval := time.Duration(0)
		if l.Rate > 0 {
			interval = time.Duration(float64(10*time.Second) / l.Rate)
		}
		for i := 0; i < len(evs); i += 10 {
			if d := time.Until(start.Add(time.Duration(i/10) * interval)); d > 0 {
				time.Sleep(d)
			}
			next <- i
		}
	} else {
		for range 16 {
			senders.Go(func() {
				for i := range next {
					now := time.Now()
					rc.mu.Lock()
					rc.sent[evs[i].id] = now
					rc.mu.Unlock()
					if _, err := h.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: eventsURL, MessageBody: aws.String(evs[i].body)}); err != nil {
						sendErr.Store(err)
					}
				}
			})
		}
		interval := time.Duration(float64(time.Second) / l.Rate)
		for i := range evs {
			if d := time.Until(start.Add(time.Duration(i) * interval)); d > 0 {
				time.Sleep(d)
			}
			next <- i
		}
	}
	close(next)
	senders.Wait()
	if err, _ := sendErr.Load().(error); err != nil {
		return nil, fmt.Errorf("publish: %w", err)
	}

	// Every delivery that should succeed has arrived...
	limit := 120*time.Second + time.Duration(l.Events)*10*time.Millisecond
	select {
	case <-rc.done:
	case <-time.After(limit):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	// ... and the pipeline is idle (the last records logged and deleted, hanging attempts
	// timed out).
	idleBy := time.Now().Add(60 * time.Second)
	for time.Now().Before(idleBy) {
		if h.inflight.Load() == 0 && h.depth(resources.EventsQueue, true) == 0 && h.depth(resources.DeliveriesQueue, false) == 0 {
			time.Sleep(300 * time.Millisecond)
			if h.inflight.Load() == 0 {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if l.Profile != "" {
		_ = h.fn.call(ctx, "POST", "/profile/stop", nil, nil)
	}
	fs, err := h.fn.stats()
	if err != nil {
		return nil, err
	}
	res := &Result{Load: l, Expected: expected, Function: fs, Window: h.window,
		ESMByFunction: map[string]CallCounts{}, ESM: CallCounts{Ops: map[string]int{}}}
	for fn, c := range h.esmCalls {
		res.ESMByFunction[fn] = c.Snapshot()
		res.ESM = res.ESM.Add(res.ESMByFunction[fn])
	}
	rc.mu.Lock()
	for key, e := range rc.expect {
		if e.hanging {
			res.HangingDeliveries++
			continue
		}
		if e.got.IsZero() {
			res.Lost++
			if len(res.LostSample) < 5 {
				res.LostSample = append(res.LostSample, key)
			}
			continue
		}
		res.Received++
		res.Latencies = append(res.Latencies, e.got.Sub(rc.sent[e.event]))
	}
	res.Duplicates, res.Unexpected, res.HangingRetries = rc.duplicates, rc.unexpected, rc.hangingRetries
	res.Elapsed = rc.last.Sub(start)
	rc.mu.Unlock()
	slices.Sort(res.Latencies)
	res.EventsDLQ = h.depth(resources.EventsDLQ, true)
	res.DeliveriesDLQ = h.depth(resources.DeliveriesDLQ, true)
	res.EventsLeft = h.depth(resources.EventsQueue, true)
	res.DeliveriesLeft = h.depth(resources.DeliveriesQueue, true) - res.HangingDeliveries
	return res, nil
}

// depth counts a queue's messages: with all, every message (visible, in flight or delayed),
// else the visible ones. (The emulator's ApproximateNumberOfMessages counts the messages in
// flight too, where SQS's counts the visible ones only.)
func (h *Harness) depth(q resources.Queue, all bool) int {
	out, err := h.sqs.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(h.names.QueueURLs[q.ID]),
		AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameApproximateNumberOfMessages,
			sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible, sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed},
	})
	if err != nil {
		return -1
	}
	n := func(a sqstypes.QueueAttributeName) int {
		v, _ := strconv.Atoi(out.Attributes[string(a)])
		return v
	}
	available, inFlight, delayed := n(sqstypes.QueueAttributeNameApproximateNumberOfMessages),
		n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible), n(sqstypes.QueueAttributeNameApproximateNumberOfMessagesDelayed)
	if all {
		return available + delayed
	}
	return max(available-inFlight, 0)
}

// Bare POSTs delivery bodies (fresh events' normalized bodies) to the subscriptions' URLs,
// posts of them, from the function process with a plain Go loop at the delivery side's
// concurrency (batch size × the mapping's maximum concurrency).
func (h *Harness) Bare(ctx context.Context, posts int) (BareResult, error) {
	req := BareRequest{Concurrency: 10 * h.opts.DeliveryConcurrency}
	for i := 0; len(req.Requests) < posts; i++ {
		dl := h.dealers[i%len(h.dealers)]
		_, ev, err := exampleEvent(dl.id)
		if err != nil {
			return BareResult{}, err
		}
		for _, s := range dl.subs {
			if len(req.Requests) < posts {
				req.Requests = append(req.Requests, BarePayload{URL: s.url, Body: ev.Body})
			}
		}
	}
	var res BareResult
	err := h.fn.call(ctx, "POST", "/bare", req, &res)
	if err == nil && res.Errors > 0 {
		err = fmt.Errorf("bare POSTs: %d of %d failed", res.Errors, res.Requests)
	}
	return res, err
}

// exampleEvent is the catalog's lead.created example for a dealer with a fresh event id,
// and its validated form.
func exampleEvent(dealerID string) ([]byte, *catalog.Event, error) {
	raw, ok := catalog.Example("lead.created")
	if !ok {
		return nil, nil, errors.New("no lead.created example")
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, nil, err
	}
	m["dealerId"], m["eventId"] = dealerID, catalog.NewEventID()
	body, err := json.Marshal(m)
	if err != nil {
		return nil, nil, err
	}
	ev, err := catalog.Parse(body)
	return body, ev, err
}
