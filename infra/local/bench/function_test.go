package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
)

// TestConcurrentInvocationsKeepTheirResponses: the function process serves many invocations
// of one function at once (it plays every container), and each must get its own batch
// response. A lambda.Handler's Invoke returns bytes in a buffer it has already put back in its
// pool, so one shared handler let concurrent invocations overwrite each other's responses.
func TestConcurrentInvocationsKeepTheirResponses(t *testing.T) {
	f := &function{name: "delivery", timeout: time.Minute,
		handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
			var resp events.SQSEventResponse
			for _, r := range ev.Records {
				resp.BatchItemFailures = append(resp.BatchItemFailures, events.SQSBatchItemFailure{ItemIdentifier: r.MessageId})
			}
			time.Sleep(time.Millisecond) // let the invocations overlap
			return resp, nil
		}}
	f.runtimes.New = func() any { return f.runtimeHandler() }
	fp := &functionProcess{functions: map[string]*function{"delivery": f}}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /invoke/{fn}", fp.invoke)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var wg sync.WaitGroup
	for i := range 200 {
		wg.Go(func() {
			// Responses of different lengths, so an overwritten one does not go unnoticed.
			id := fmt.Sprintf("m-%d-%s", i, bytes.Repeat([]byte("x"), i%17))
			body, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: id, Body: "{}"}}})
			resp, err := http.Post(srv.URL+"/invoke/delivery", "application/json", bytes.NewReader(body))
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var got events.SQSEventResponse
			if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
				t.Errorf("invocation %d: status %d, response not JSON: %v", i, resp.StatusCode, err)
				return
			}
			if len(got.BatchItemFailures) != 1 || got.BatchItemFailures[0].ItemIdentifier != id {
				t.Errorf("invocation %d got %+v, want its own message %s", i, got.BatchItemFailures, id)
			}
		})
	}
	wg.Wait()
	if f.stats.Invocations != 200 || f.stats.Records != 200 {
		t.Errorf("stats %+v, want 200 invocations of 1 record", f.stats)
	}
}

// TestRuntimeHandlerResponseLastsUntilItsNextInvocation pins the aws-lambda-go behaviour the
// per-invocation handlers above exist for (the test fails if a later version copies the
// response, and then one shared handler would do): the bytes Invoke returns are overwritten
// by the same handler's next invocation.
func TestRuntimeHandlerResponseLastsUntilItsNextInvocation(t *testing.T) {
	f := &function{name: "delivery", handler: func(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
		return events.SQSEventResponse{BatchItemFailures: []events.SQSBatchItemFailure{{ItemIdentifier: ev.Records[0].MessageId}}}, nil
	}}
	h := f.runtimeHandler()
	invoke := func(id string) []byte {
		body, _ := json.Marshal(events.SQSEvent{Records: []events.SQSMessage{{MessageId: id}}})
		out, err := h.Invoke(context.Background(), body)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	first := invoke("first")
	want := string(first)
	invoke("other")
	if string(first) == want {
		t.Fatalf("the first response %s survived the next invocation: lambda.Handler no longer reuses its buffer", want)
	}
}
