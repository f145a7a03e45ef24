// Package faultsuite is the reliability suite of the delivery pipeline (docs/reliability.md): on emulator
// instances private to the suite, a steady stream of events goes through the real router and
// delivery handlers (built by package app exactly as the Lambdas build them, driven by
// infra/local's SQSPoller like Lambda's event source mapping) to real receivers that verify
// every request, while one fault at a time is injected: DynamoDB Local or the SQS emulator
// paused (SIGSTOP) or cut off (faultproxy), receivers failing in every way an endpoint can,
// a handler crash in the middle of a batch, duplicate SQS messages.
//
// After each scenario every delivery is accounted for: received exactly as sent, or
// dead-lettered (in a DLQ, or recorded failed in the delivery log); none lost, none POSTed
// again after it succeeded except in the documented at-least-once window (the POST succeeded
// but the delivery log could not be written), which is counted and reported separately. The
// stack must recover without a restart: events published after the fault all arrive.
//
// Every log line the suite's handlers write, and every API response, is scanned for the
// secrets and tokens the suite created.
//
// The default (short) form runs in about a minute and a half, for `make test`; FAULTS=long
// runs the long form (10× the events, 40 s outages, 15 s endpoint faults) in about five
// minutes, for `make test-faults`:
//
//	FAULTS=long go run ./infra/local/cmd/stack emulators -- go test -count=1 -v -run Fault -timeout 30m ./shared/faultsuite/
//
// Each scenario prints one summary line to stdout, and the suite a Markdown table of them
// (go test shows a passing package's output with -v; FAULTS_REPORT=<file> also writes them
// to a file):
//
//	FAULTSUITE scenario=<name> fault="<what>" sent=N delivered=N deadLettered=N dupAfterSuccess=N atLeastOnceWindow=N concurrentCopies=N answerLost=N lost=N ...
//
// sent: deliveries that had to be made (each published event to each subscription whose
// filter matches it, plus delivery messages written directly); delivered: answered 2xx,
// body and signature verified; deadLettered: not delivered and visible — in a DLQ, or
// recorded failed (410 Gone deletes the message) or skipped (its subscription disabled);
// dupAfterSuccess: POSTs of a delivery after a 2xx answer to it that nothing explains (a
// failure); atLeastOnceWindow: such POSTs after the handler reported that the delivery log
// could not be written (the documented window); concurrentCopies: such POSTs by a second SQS
// message of the delivery handled by another invocation at the same time (each read the log
// before the other recorded its success: docs/design.md#delivery covers a delivery "already
// recorded as succeeded"); answerLost: such POSTs after a 2xx that never reached the sender
// (its attempt logged as a timeout or a broken connection); lost: neither delivered nor
// dead-lettered (a failure).
package faultsuite

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"

	"github.com/dealerai/integrations/infra/local/localtest"
)

// realStdout is the process's stdout: the handlers' logs (which package app writes to
// os.Stdout) are captured by swapping os.Stdout while they are built, so the summary lines
// must go here.
var realStdout = os.Stdout

// defaultLogs captures slog.Default(): what the API handler (httpapi.New without a Logger),
// the pollers and anything else logging through the default logger write.
var defaultLogs = &localtest.Buffer{}

func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewJSONHandler(defaultLogs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	os.Exit(m.Run())
}

// printMu serializes the summary output.
var printMu sync.Mutex

func printLine(format string, args ...any) {
	printMu.Lock()
	defer printMu.Unlock()
	fmt.Fprintf(realStdout, format+"\n", args...)
}
