package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dealerai/integrations/infra/local"
)

// coldStartRuns is how many cold starts are timed per function (the median is reported).
const coldStartRuns = 5

// Functions are the Lambdas, as `make build` builds them.
var Functions = []string{"api", "router", "delivery"}

// buildFlags are `make build`'s flags.
var buildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags", "-s -w"}

// RIEModule is the AWS Lambda Runtime Interface Emulator, a tool dependency in go.mod.
const RIEModule = "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie"

// ColdStartResult is one function's binary size and init time.
type ColdStartResult struct {
	Function string
	Bytes    int64         // linux/arm64 binary
	Init     time.Duration // median under the RIE, host build
	InitMin  time.Duration
	Inits    []time.Duration
}

// ColdStart builds each function for linux/arm64 (its size) and for this machine with the same
// flags, and times its init under the Lambda Runtime Interface Emulator: from the runtime
// process's start to its first request for an event (the RIE's "INIT REPORT"), for the first
// invocation of a fresh emulator, coldStartRuns times.
func ColdStart(ctx context.Context, w io.Writer) ([]ColdStartResult, error) {
	root, err := local.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "bench-coldstart-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	build := func(out, pkg, goarch string) error {
		args := append([]string{"build"}, buildFlags...)
		cmd := exec.CommandContext(ctx, "go", append(args, "-o", out, pkg)...)
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s (%s): %v: %s", pkg, goarch, err, b)
		}
		return nil
	}
	rie := filepath.Join(dir, "aws-lambda-rie")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", rie, RIEModule)
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("build the RIE (%s): %v: %s", RIEModule, err, b)
	}

	// The floor: a Go Lambda that does nothing, built and started the same way.
	floorSrc := filepath.Join(dir, "floor.go")
	if err := os.WriteFile(floorSrc, []byte(floorFunction), 0o600); err != nil {
		return nil, err
	}
	var results []ColdStartResult
	for _, fn := range append([]string{"floor"}, Functions...) {
		pkg := "./functions/" + fn
		if fn == "floor" {
			pkg = floorSrc
		}
		arm := filepath.Join(dir, fn+"-arm64")
		host := filepath.Join(dir, fn+"-"+runtime.GOARCH)
		if err := build(arm, pkg, "arm64"); err != nil {
			return results, err
		}
		if err := build(host, pkg, runtime.GOARCH); err != nil {
			return results, err
		}
		st, err := os.Stat(arm)
		if err != nil {
			return results, err
		}
		r := ColdStartResult{Function: fn, Bytes: st.Size()}
		for range coldStartRuns {
			d, err := initUnderRIE(ctx, rie, host, fn)
			if err != nil {
				fmt.Fprintf(w, "  %s: init not measured: %v\n", fn, err)
				break
			}
			r.Inits = append(r.Inits, d)
		}
		if len(r.Inits) > 0 {
			s := slices.Clone(r.Inits)
			slices.Sort(s)
			r.Init, r.InitMin = s[len(s)/2], s[0]
		}
		var inits []string
		for _, d := range r.Inits {
			inits = append(inits, ms(d))
		}
		name := fn
		if fn == "floor" {
			name = "floor (an empty Go Lambda)"
		}
		fmt.Fprintf(w, "  %-26s binary %s (linux/arm64); init median %s, min %s (%s)\n", name, decimalMB(r.Bytes), ms(r.Init), ms(r.InitMin), strings.Join(inits, ", "))
		results = append(results, r)
	}
	return results, nil
}

// floorFunction is the floor of the cold start figures: lambda.Start of a handler that does
// nothing.
const floorFunction = `package main

import (
	"context"

	"github.com/aws/aws-lambda-go/events"
	"github.com/aws/aws-lambda-go/lambda"
)

func main() {
	lambda.Start(func(context.Context, events.SQSEvent) (events.SQSEventResponse, error) { return events.SQSEventResponse{}, nil })
}
`

// decimalMB is a size in MB of 10^6 bytes (the 10 MB target reads so; stricter than MiB).
func decimalMB(b int64) string { return fmt.Sprintf("%.2f MB", float64(b)/1e6) }

var initReport = regexp.MustCompile(`INIT REPORT\(durationMs: ([0-9.]+)\)`)

// initUnderRIE starts a fresh RIE running the function, invokes it once and returns the init
// duration the RIE reports.
func initUnderRIE(ctx context.Context, rie, bootstrap, fn string) (time.Duration, error) {
	invokeAddr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	apiAddr, err := freeAddr()
	if err != nil {
		return 0, err
	}
	cmd := exec.CommandContext(ctx, rie, "--runtime-interface-emulator-address", invokeAddr, "--runtime-api-address", apiAddr, bootstrap)
	// The settings the function requires (it connects to nothing during init).
	cmd.Env = append(os.Environ(),
		"AWS_REGION=us-east-1", "AWS_ACCESS_KEY_ID=bench", "AWS_SECRET_ACCESS_KEY=bench", "AWS_SESSION_TOKEN=bench",
		"CONFIG_TABLE=config", "DELIVERY_LOG_TABLE=log", "DELIVERIES_QUEUE_URL=http://127.0.0.1:1/q", "EVENTS_DLQ_URL=http://127.0.0.1:1/d",
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(MemoryMB[fn]))
	var out bytes.Buffer
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	found := make(chan time.Duration, 1)
	go func() {
		s := bufio.NewScanner(pr)
		for s.Scan() {
			out.WriteString(s.Text() + "\n")
			if m := initReport.FindStringSubmatch(s.Text()); m != nil {
				v, _ := strconv.ParseFloat(m[1], 64)
				select {
				case found <- time.Duration(v * float64(time.Millisecond)):
				default:
				}
			}
		}
	}()
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		pw.Close()
	}()
	if err := waitHTTP(ctx, "http://"+invokeAddr+"/"); err != nil {
		return 0, err
	}
	payload := `{"Records":[]}`
	if fn == "api" {
		payload = `{"version":"2.0","routeKey":"$default","rawPath":"/healthz","requestContext":{"http":{"method":"GET","path":"/healthz"}}}`
	}
	resp, err := http.Post("http://"+invokeAddr+"/2015-03-31/functions/function/invocations", "application/json", strings.NewReader(payload))
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	select {
	case d := <-found:
		return d, nil
	case <-time.After(10 * time.Second):
		return 0, errors.New("no INIT REPORT from the RIE: " + out.String())
	}
}

func waitHTTP(ctx context.Context, url string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
