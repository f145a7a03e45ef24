package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"

	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/awsconfig"
	"github.com/dealerai/integrations/shared/resources"
)

// The function process plays the two Lambdas: it builds the router and delivery handlers
// exactly as their main.go does (settings and AWS configuration from its environment, through
// package app) and serves their invocations on loopback, as the Lambda runtime API hands an
// invocation to a function: the SQS event as JSON in, the batch response as JSON out. The
// event source mappings (the pollers) run in the bench process, so this process's CPU time
// (getrusage) is the handlers' alone: their code, the SDK calls they make, the JSON of their
// invocations, and the Go runtime under them. Its stdout (the handlers' slog lines and EMF
// metrics) is counted, per function, as CloudWatch Logs would ingest it.

// FunctionStats is what the function process reports since its last reset.
type FunctionStats struct {
	CPUSeconds float64                    `json:"cpuSeconds"` // user + system
	Calls      CallCounts                 `json:"calls"`
	Functions  map[string]InvocationStats `json:"functions"`
	// PeakRSS is the process's peak resident set (VmHWM) since the reset; PeakHeap the peak
	// of live heap objects, PeakGoMemory of all memory the Go runtime mapped (sampled every
	// 50 ms).
	PeakRSS      uint64 `json:"peakRSS"`
	PeakHeap     uint64 `json:"peakHeap"`
	PeakGoMemory uint64 `json:"peakGoMemory"`
	Goroutines   int    `json:"goroutines"`
}

// InvocationStats describes one function's invocations.
type InvocationStats struct {
	Invocations int     `json:"invocations"`
	Records     int     `json:"records"`
	Seconds     float64 `json:"seconds"`  // summed wall time
	BilledMs    float64 `json:"billedMs"` // summed, each rounded up to the ms
	MaxSeconds  float64 `json:"maxSeconds"`
	LogBytes    int64   `json:"logBytes"`
	LogLines    int64   `json:"logLines"`
}

// BareRequest asks the function process to POST bodies to URLs with a plain Go loop: the
// floor the delivery handler's own HTTP work is compared with.
type BareRequest struct {
	Concurrency int           `json:"concurrency"`
	Requests    []BarePayload `json:"requests"`
}

// BarePayload is one POST of a bare run.
type BarePayload struct {
	URL  string `json:"url"`
	Body []byte `json:"body"`
}

// BareResult is what a bare run cost.
type BareResult struct {
	Requests    int     `json:"requests"`
	Errors      int     `json:"errors"`
	CPUSeconds  float64 `json:"cpuSeconds"`
	WallSeconds float64 `json:"wallSeconds"`
}

type function struct {
	name    string
	handler app.SQSHandler
	// runtimes holds the handler as lambda.Start wraps it (lambda.NewHandler), one per
	// concurrent invocation, as each container has its own: the bytes a lambda.Handler's
	// Invoke returns live in a buffer it has already handed back to its own pool, valid only
	// until its next invocation. One shared instance let concurrent invocations overwrite
	// each other's batch responses (seen once as 5 deliveries left in flight).
	runtimes sync.Pool
	timeout  time.Duration
	logs     *lineCounter

	mu    sync.Mutex
	stats InvocationStats
}

type functionProcess struct {
	calls     *Calls
	functions map[string]*function
	cpu0      atomic.Int64 // ns of CPU at the last reset
	peakHeap  atomic.Uint64
	peakGo    atomic.Uint64
	profile   *os.File
	// awsCfg and cfg are what the handlers were built from (the SDK-call floor's clients).
	awsCfg aws.Config
	cfg    app.Config
}

// RunFunction runs the function process until its stdin closes. It prints the address it
// serves on as its first stdout line; everything written to stdout afterwards is the
// handlers' logs, counted (and copied to logFile when set).
func RunFunction(ctx context.Context, logFile string) error {
	control := os.Stdout
	var copyTo io.Writer
	if logFile != "" {
		f, err := os.Create(logFile)
		if err != nil {
			return err
		}
		defer f.Close()
		copyTo = f
	}
	cfg, err := app.ConfigFromEnv(os.Getenv)
	if err != nil {
		return err
	}
	awsCfg, err := awsconfig.FromEnv(os.Getenv)
	if err != nil {
		return err
	}
	fp := &functionProcess{calls: NewCalls(), functions: map[string]*function{}}
	awsCfg.APIOptions = append(awsCfg.APIOptions, fp.calls.Option)
	// This one process plays every concurrent container of both functions (up to 70
	// invocations of 10 records at once); each container reuses its own SDK connections, so
	// the shared pool must hold as many idle connections as the containers together would.
	awsCfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 2048, 1024
	})
	fp.awsCfg, fp.cfg = awsCfg, cfg

	build := []struct {
		name    string
		timeout time.Duration
		new     func(context.Context) (app.SQSHandler, error)
	}{
		{"router", resources.RouterTimeout, func(ctx context.Context) (app.SQSHandler, error) { return app.NewRouter(ctx, awsCfg, cfg) }},
		{"delivery", resources.DeliveryTimeout, func(ctx context.Context) (app.SQSHandler, error) { return newDelivery(awsCfg, cfg) }},
	}
	for _, b := range build {
		lc, err := newLineCounter(copyTo)
		if err != nil {
			return err
		}
		os.Stdout = lc.w // the handlers' loggers take os.Stdout when they are built
		h, err := b.new(ctx)
		os.Stdout = control
		if err != nil {
			return fmt.Errorf("%s: %w", b.name, err)
		}
		f := &function{name: b.name, handler: h, timeout: b.timeout, logs: lc}
		f.runtimes.New = func() any { return f.runtimeHandler() }
		fp.functions[b.name] = f
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /invoke/{fn}", fp.invoke)
	mux.HandleFunc("POST /reset", func(w http.ResponseWriter, _ *http.Request) { fp.reset() })
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, _ *http.Request) { writeJSON(w, fp.snapshot()) })
	mux.HandleFunc("POST /bare", fp.bare)
	mux.HandleFunc("POST /sdkfloor", fp.sdkFloor)
	mux.HandleFunc("POST /profile/start", fp.startProfile)
	mux.HandleFunc("POST /profile/stop", fp.stopProfile)
	server := &http.Server{Handler: mux}
	go func() { _ = server.Serve(ln) }()
	go fp.sampleMemory(ctx)
	fp.reset()
	fmt.Fprintf(control, "listening %s\n", ln.Addr())

	// The bench process ends this one by closing its stdin.
	_, _ = io.Copy(io.Discard, os.Stdin)
	fp.stopProfile(nil, nil)
	return server.Close()
}

// newDelivery builds the delivery handler as app.NewDelivery does (app.NewDeliveryHandler
// with the configuration's endpoint policy), with one change for the
// same reason as the SDK clients' pool above: this process plays up to 50 delivery containers
// at once, each with its own webhook connection pool (256 idle connections, 32 per host), so
// the one shared pool holds what those would together. With one container's limits the burst
// run re-dialled ~600 receiver connections (counted with a dial hook; the steady run none),
// which no container on AWS does: a container makes at most 10 requests at a time.
func newDelivery(awsCfg aws.Config, cfg app.Config) (app.SQSHandler, error) {
	policy, err := cfg.EndpointPolicy()
	if err != nil {
		return nil, err
	}
	h, err := app.NewDeliveryHandler(awsCfg, cfg, policy)
	if err != nil {
		return nil, err
	}
	client, ok := h.HTTP.(*http.Client)
	if !ok {
		return nil, fmt.Errorf("delivery HTTP client is a %T, want *http.Client", h.HTTP)
	}
	t, ok := client.Transport.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("delivery HTTP transport is a %T, want *http.Transport", client.Transport)
	}
	t.MaxIdleConns, t.MaxIdleConnsPerHost = 4096, 512
	return h.Handle, nil
}

// invoke runs one invocation the way the Lambda runtime does (aws-lambda-go's runtime client
// and lambda.NewHandler): the payload read whole into a pooled buffer, then the handler
// wrapper's JSON decoding of the event, the call, and the JSON encoding of the response.
func (fp *functionProcess) invoke(w http.ResponseWriter, r *http.Request) {
	f := fp.functions[r.PathValue("fn")]
	if f == nil {
		http.NotFound(w, r)
		return
	}
	payload := payloadPool.Get().(*bytes.Buffer)
	defer payloadPool.Put(payload)
	payload.Reset()
	if _, err := payload.ReadFrom(r.Body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Lambda's context: the function timeout, not cancelled by the caller going away.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), f.timeout)
	defer cancel()
	start := time.Now()
	var out []byte
	var err error
	rh := f.runtimes.Get().(lambda.Handler)
	defer f.runtimes.Put(rh) // after out is written: out is rh's buffer
	// The label lets a CPU profile be split by function (go tool pprof -tagfocus function=router).
	pprof.Do(ctx, pprof.Labels("function", f.name), func(ctx context.Context) { out, err = rh.Invoke(ctx, payload.Bytes()) })
	d := time.Since(start).Seconds()
	f.mu.Lock()
	f.stats.Invocations++
	f.stats.Seconds += d
	f.stats.BilledMs += billedMs(d)
	f.stats.MaxSeconds = max(f.stats.MaxSeconds, d)
	f.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(out)
}

var payloadPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// runtimeHandler wraps the handler as lambda.Start does (lambda.NewHandler), counting records
// and turning a panic into an error.
func (f *function) runtimeHandler() lambda.Handler {
	return lambda.NewHandler(func(ctx context.Context, ev events.SQSEvent) (resp events.SQSEventResponse, err error) {
		f.mu.Lock()
		f.stats.Records += len(ev.Records)
		f.mu.Unlock()
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("handler panic: %v", r)
			}
		}()
		return f.handler(ctx, ev)
	})
}

func (fp *functionProcess) reset() {
	fp.calls.Reset()
	for _, f := range fp.functions {
		f.mu.Lock()
		f.stats = InvocationStats{}
		f.mu.Unlock()
		f.logs.reset()
	}
	// Writing 5 to clear_refs resets the peak RSS (VmHWM) to the current RSS.
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
	fp.peakHeap.Store(0)
	fp.peakGo.Store(0)
	fp.cpu0.Store(int64(cpuTime()))
}

func (fp *functionProcess) snapshot() FunctionStats {
	s := FunctionStats{
		CPUSeconds:   (cpuTime() - time.Duration(fp.cpu0.Load())).Seconds(),
		Calls:        fp.calls.Snapshot(),
		Functions:    map[string]InvocationStats{},
		PeakRSS:      peakRSS(),
		PeakHeap:     fp.peakHeap.Load(),
		PeakGoMemory: fp.peakGo.Load(),
		Goroutines:   runtime.NumGoroutine(),
	}
	for name, f := range fp.functions {
		f.mu.Lock()
		st := f.stats
		f.mu.Unlock()
		st.LogBytes, st.LogLines = f.logs.counts()
		s.Functions[name] = st
	}
	return s
}

func (fp *functionProcess) sampleMemory(ctx context.Context) {
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/total:bytes"}}
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(samples)
		storeMax(&fp.peakHeap, samples[0].Value.Uint64())
		storeMax(&fp.peakGo, samples[1].Value.Uint64())
	}
}

func storeMax(a *atomic.Uint64, v uint64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// bare POSTs the given bodies with a plain Go loop: a stock http.Transport keeping enough
// idle connections per host for the concurrency, Content-Type set, the response read and
// closed. Its CPU time is the floor of the delivery's HTTP work.
func (fp *functionProcess) bare(w http.ResponseWriter, r *http.Request) {
	var req BareRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	conc := max(1, req.Concurrency)
	poster := newBarePoster(conc)
	defer poster.client.CloseIdleConnections()
	var next, errs atomic.Int64
	cpu0, start := cpuTime(), time.Now()
	var wg sync.WaitGroup
	for range conc {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= len(req.Requests) {
					return
				}
				if !poster.post(req.Requests[i]) {
					errs.Add(1)
				}
			}
		})
	}
	wg.Wait()
	writeJSON(w, BareResult{Requests: len(req.Requests), Errors: int(errs.Load()), CPUSeconds: (cpuTime() - cpu0).Seconds(), WallSeconds: time.Since(start).Seconds()})
}

// barePoster POSTs bodies with a plain http.Client, as the floors do.
type barePoster struct{ client *http.Client }

func newBarePoster(concurrency int) barePoster {
	return barePoster{&http.Client{Transport: &http.Transport{MaxIdleConns: 4 * concurrency, MaxIdleConnsPerHost: concurrency}, Timeout: 30 * time.Second}}
}

// post reports whether p was answered with a 2xx.
func (b barePoster) post(p BarePayload) bool {
	hr, _ := http.NewRequest(http.MethodPost, p.URL, bytes.NewReader(p.Body))
	hr.Header.Set("Content-Type", "application/json")
	resp, err := b.client.Do(hr)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode/100 == 2
}

func (fp *functionProcess) startProfile(w http.ResponseWriter, r *http.Request) {
	fp.stopProfile(nil, nil)
	f, err := os.Create(r.URL.Query().Get("path"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	fp.profile = f
}

func (fp *functionProcess) stopProfile(http.ResponseWriter, *http.Request) {
	if fp.profile != nil {
		pprof.StopCPUProfile()
		fp.profile.Close()
		fp.profile = nil
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// peakRSS is VmHWM from /proc/self/status, in bytes (0 where there is no procfs).
func peakRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// lineCounter is a pipe whose write end stands in for a function's stdout: it counts the
// bytes and lines written (what CloudWatch Logs ingests) and copies them to a file if asked.
type lineCounter struct {
	w            *os.File
	bytes, lines atomic.Int64
}

func newLineCounter(copyTo io.Writer) (*lineCounter, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	lc := &lineCounter{w: w}
	go func() {
		br := bufio.NewReaderSize(r, 64*1024)
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				lc.bytes.Add(int64(len(line)))
				if line[len(line)-1] == '\n' {
					lc.lines.Add(1)
				}
				if copyTo != nil {
					_, _ = copyTo.Write(line)
				}
			}
			if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
				return
			}
		}
	}()
	return lc, nil
}

func (lc *lineCounter) reset() { lc.bytes.Store(0); lc.lines.Store(0) }

func (lc *lineCounter) counts() (int64, int64) { return lc.bytes.Load(), lc.lines.Load() }
