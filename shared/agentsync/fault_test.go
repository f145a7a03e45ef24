package agentsync_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	catalog "github.com/dealerai/integrations/events"
	"github.com/dealerai/integrations/events/inbound"
	"github.com/dealerai/integrations/infra/local"
	"github.com/dealerai/integrations/infra/local/faultproxy"
	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/agents"
	"github.com/dealerai/integrations/shared/agents/registry"
	"github.com/dealerai/integrations/shared/agentsync"
	"github.com/dealerai/integrations/shared/app"
	"github.com/dealerai/integrations/shared/resources"
)

// TestFaultSyncOutages is the two-way sync under DynamoDB and SQS outages (`make
// test-faults` runs it with the fault suite): 10 dealers' agents read a change log of 20
// leads, 5 a page, 10 a job, while the sync function's connections to DynamoDB and to SQS are
// cut in turn (faultproxy: refused and dropped connections) for 1.5 s at a time. Jobs that
// fail are run again, as SQS would redeliver them, until every cursor is at the end. Then
// every change seen is on the Inbound queue under its one eventId — published = seen per
// dealer, none lost, none under two ids — however often a page was published again.
func TestFaultSyncOutages(t *testing.T) {
	const dealers, records = 10, 20
	ctx := context.Background()
	env := localtest.New(t)
	ddbProxy, err := faultproxy.Start(strings.TrimPrefix(env.DynamoDBEndpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ddbProxy.Close() })
	sqsProxy, err := faultproxy.Start(strings.TrimPrefix(env.SQSEndpoint, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sqsProxy.Close() })
	faulty, err := local.AWSConfig(ctx, ddbProxy.URL(), sqsProxy.URL())
	if err != nil {
		t.Fatal(err)
	}
	faulty.RetryMaxAttempts = 2 // let the outages reach the job, not only the SDK's retries

	crm := newFakeCRM(t)
	crm.add(leads(records, time.Now().Add(-time.Hour))...)
	cfg := mustConfig(t, env)
	cfg.Logger = slog.New(slog.DiscardHandler)
	h, err := app.NewSyncHandler(faulty, cfg, &http.Client{Timeout: 5 * time.Second}, append(registry.Platforms(), testCRM))
	if err != nil {
		t.Fatal(err)
	}
	s := h.Syncer
	s.Metrics, s.PageRecords, s.MaxRecords, s.Budget = nil, 5, 10, 2*time.Second
	store := agents.NewStore(env.DynamoDB, env.Table(resources.ConfigTable))
	states := &agentsync.StateStore{DB: env.DynamoDB, Table: env.Table(resources.ConfigTable)}
	var ids []string
	for i := range dealers {
		id := fmt.Sprintf("dlr_f%02d", i)
		ids = append(ids, id)
		a := &agents.Agent{DealerID: id, Platform: testCRM.ID, Enabled: true, Events: testCRM.Events,
			Settings: map[string]string{"baseUrl": crm.srv.URL}, Credentials: map[string]string{"key": "good-key"}}
		if _, err := store.Put(ctx, a); err != nil {
			t.Fatal(err)
		}
	}

	// The outages, in turn, until the sync is done.
	stop := make(chan struct{})
	var faults sync.WaitGroup
	cuts := 0
	faults.Go(func() {
		for i := 0; ; i++ {
			proxy := []*faultproxy.Proxy{ddbProxy, sqsProxy}[i%2]
			proxy.Cut()
			cuts++
			select {
			case <-time.After(1500 * time.Millisecond):
			case <-stop:
			}
			proxy.Restore()
			select {
			case <-time.After(time.Second):
			case <-stop:
				return
			}
		}
	})

	done := func(dealer string) bool {
		st, err := states.Get(ctx, dealer, testCRM.ID)
		return err == nil && st.Cursor.Value == strconv.Itoa(records)
	}
	failedJobs := 0
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var left []string
		for _, d := range ids {
			if !done(d) {
				left = append(left, d)
			}
		}
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 min %d agents' syncs are not through: %v", len(left), left)
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, d := range left {
			wg.Go(func() {
				if err := s.Run(ctx, d, testCRM.ID); err != nil {
					mu.Lock()
					failedJobs++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		time.Sleep(200 * time.Millisecond)
	}
	close(stop)
	faults.Wait()
	if failedJobs == 0 {
		t.Errorf("no job failed in %d outages: the faults did not reach the sync", cuts)
	}

	// Published = seen, by eventId, per dealer; each change under one id.
	published := map[string]map[string]bool{} // dealer -> eventIds
	idsOf := map[string]map[string]bool{}     // dealer/record -> eventIds
	messages := 0
	for _, m := range localtest.ReceiveAll(t, env.SQS, env.QueueURL(resources.InboundQueue)) {
		messages++
		ev, err := inbound.Parse([]byte(aws.ToString(m.Body)))
		if err != nil {
			t.Fatalf("an inbound message does not validate: %v", err)
		}
		if published[ev.DealerID] == nil {
			published[ev.DealerID] = map[string]bool{}
		}
		published[ev.DealerID][ev.ID] = true
		key := ev.DealerID + "/" + ev.PlatformIDs["leadId"]
		if idsOf[key] == nil {
			idsOf[key] = map[string]bool{}
		}
		idsOf[key][ev.ID] = true
	}
	lost := 0
	for _, d := range ids {
		for i := 1; i <= records; i++ {
			id := catalog.InboundEventID(testCRM.ID, "lead", fmt.Sprintf("lead-%d", i), "1")
			if !published[d][id] {
				lost++
			}
		}
		if n := len(published[d]); n != records {
			t.Errorf("%s: %d distinct events published for %d changes seen", d, n, records)
		}
	}
	for key, evIDs := range idsOf {
		if len(evIDs) != 1 {
			t.Errorf("%s published under %d ids", key, len(evIDs))
		}
	}
	if lost != 0 {
		t.Errorf("lost %d of %d changes", lost, dealers*records)
	}
	t.Logf("FAULTSUITE sync-outages: %d outages, %d jobs failed and ran again, %d changes seen, %d messages published (%d again), lost %d",
		cuts, failedJobs, dealers*records, messages, messages-dealers*records, lost)
}
