package subscriptions_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/resources"
	"github.com/dealerai/integrations/shared/subscriptions"
)

func newStore(t *testing.T) *subscriptions.Store {
	t.Helper()
	env := localtest.New(t)
	return subscriptions.NewStore(env.DynamoDB, env.Table(resources.ConfigTable))
}

func newSub(dealer string) *subscriptions.Subscription {
	url, desc := "https://hooks.example.com/dealerai", "CRM bridge"
	return subscriptions.New(dealer, subscriptions.Fields{
		URL: &url, Events: []string{"lead.*", "appointment.created"}, Description: &desc,
	}, "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA==", time.Now())
}

func TestStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	sub := newSub("d1")
	if err := store.Create(ctx, sub); err != nil {
		t.Fatal(err)
	}

	got, err := store.Get(ctx, "d1", sub.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != sub.URL || got.Secret != sub.Secret || got.Version != 1 || got.Status != subscriptions.StatusActive ||
		!got.CreatedAt.Equal(sub.CreatedAt) || len(got.Events) != 2 || got.Description != "CRM bridge" {
		t.Fatalf("Get = %+v, want %+v", got, sub)
	}
	if _, err := store.Get(ctx, "d2", sub.ID); !errors.Is(err, subscriptions.ErrNotFound) {
		t.Fatalf("Get of another dealer = %v, want ErrNotFound", err)
	}

	// disable (the pipeline on a 410), then re-enable (a PATCH)
	if err := store.Disable(ctx, "d1", sub.ID, "endpoint answered 410 Gone"); err != nil {
		t.Fatal(err)
	}
	got, _ = store.Get(ctx, "d1", sub.ID)
	if got.Enabled || got.Status != subscriptions.StatusDisabled || got.DisabledReason == "" || got.Version != 2 {
		t.Fatalf("after Disable: %+v", got)
	}
	on := true
	got, err = store.Update(ctx, "d1", sub.ID, subscriptions.Fields{Enabled: &on}, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Enabled || got.Status != subscriptions.StatusActive || got.DisabledReason != "" || got.Version != 3 {
		t.Fatalf("after re-enable: %+v", got)
	}
	if _, err := store.Update(ctx, "d1", sub.ID, subscriptions.Fields{Enabled: &on}, 2); !errors.Is(err, subscriptions.ErrVersionMismatch) {
		t.Fatalf("stale Update = %v, want ErrVersionMismatch", err)
	}
	if _, err := store.Update(ctx, "d2", sub.ID, subscriptions.Fields{Enabled: &on}, 0); !errors.Is(err, subscriptions.ErrNotFound) {
		t.Fatalf("Update of another dealer = %v, want ErrNotFound", err)
	}
	if err := store.Disable(ctx, "d2", sub.ID, "x"); !errors.Is(err, subscriptions.ErrNotFound) {
		t.Fatalf("Disable of another dealer = %v, want ErrNotFound", err)
	}

	// rotation keeps the old secret for 24 h and does not change the version
	rotated, err := store.RotateSecret(ctx, "d1", sub.ID, "whsec_bmV3", false)
	if err != nil {
		t.Fatal(err)
	}
	if rotated.Secret != "whsec_bmV3" || rotated.PreviousSecret != sub.Secret || rotated.Version != 3 {
		t.Fatalf("after rotation: %+v", rotated)
	}
	if d := time.Until(rotated.PreviousSecretExpiresAt); d < 23*time.Hour || d > 25*time.Hour {
		t.Fatalf("previous secret expires in %v, want ~24h", d)
	}
	if s := rotated.SigningSecrets(time.Now()); len(s) != 2 || s[0] != "whsec_bmV3" {
		t.Fatalf("SigningSecrets = %v", s)
	}
	if s := rotated.SigningSecrets(time.Now().Add(25 * time.Hour)); len(s) != 1 {
		t.Fatalf("SigningSecrets after expiry = %v", s)
	}

	if err := store.Delete(ctx, "d1", sub.ID, 1); !errors.Is(err, subscriptions.ErrVersionMismatch) {
		t.Fatalf("stale Delete = %v, want ErrVersionMismatch", err)
	}
	if err := store.Delete(ctx, "d2", sub.ID, 0); !errors.Is(err, subscriptions.ErrNotFound) {
		t.Fatalf("Delete of another dealer = %v, want ErrNotFound", err)
	}
	if err := store.Delete(ctx, "d1", sub.ID, 3); err != nil {
		t.Fatal(err)
	}
	if err := store.Delete(ctx, "d1", sub.ID, 0); !errors.Is(err, subscriptions.ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
}

func TestStoreListPages(t *testing.T) {
	ctx := context.Background()
	store := newStore(t)
	var ids []string
	for range 7 {
		sub := newSub("d1")
		if err := store.Create(ctx, sub); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, sub.ID)
	}
	if err := store.Create(ctx, newSub("d2")); err != nil {
		t.Fatal(err)
	}
	var got []string
	cursor, pages := "", 0
	for {
		items, next, err := store.List(ctx, "d1", 3, cursor)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range items {
			got = append(got, s.ID)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if pages != 3 || len(got) != 7 {
		t.Fatalf("%d pages, %d items; want 3 pages of 7 items", pages, len(got))
	}
	for i := range ids {
		if got[i] != ids[i] {
			t.Fatalf("item %d = %s, want %s (oldest first)", i, got[i], ids[i])
		}
	}
	// exactly one page's worth: no cursor to an empty page
	if _, next, _ := store.List(ctx, "d1", 7, ""); next != "" {
		t.Fatalf("List(limit=7) of 7 gave a next cursor")
	}
	for _, bad := range []string{"!!!", "c3Vi", "eyJwayI6IkRFQUxFUiNkMiJ9"} {
		if _, _, err := store.List(ctx, "d1", 3, bad); !errors.Is(err, subscriptions.ErrInvalidCursor) {
			t.Fatalf("List(cursor=%q) = %v, want ErrInvalidCursor", bad, err)
		}
	}
}

// TestStoreLimitConcurrent creates 60 subscriptions at once: exactly 50 succeed, and the
// counter follows deletes.
func TestStoreLimitConcurrent(t *testing.T) {
	ctx := context.Background()
	env := localtest.New(t)
	store := subscriptions.NewStore(env.DynamoDB, env.Table(resources.ConfigTable))
	var ok, limited atomic.Int32
	var wg sync.WaitGroup
	var mu sync.Mutex
	var created []string
	for range 60 {
		wg.Go(func() {
			sub := newSub("d1")
			switch err := store.Create(ctx, sub); {
			case err == nil:
				ok.Add(1)
				mu.Lock()
				created = append(created, sub.ID)
				mu.Unlock()
			case errors.Is(err, subscriptions.ErrLimitReached):
				limited.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if ok.Load() != subscriptions.MaxPerDealer || limited.Load() != 10 {
		t.Fatalf("%d created, %d refused; want 50 and 10", ok.Load(), limited.Load())
	}
	out, err := env.DynamoDB.GetItem(ctx, &dynamodb.GetItemInput{
		TableName: aws.String(env.Table(resources.ConfigTable)), Key: subscriptions.CounterKey("d1"),
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := out.Item["n"]; n == nil {
		t.Fatal("no counter item")
	}
	if err := store.Delete(ctx, "d1", created[0], 0); err != nil {
		t.Fatal(err)
	}
	if err := store.Create(ctx, newSub("d1")); err != nil {
		t.Fatalf("create after a delete: %v", err)
	}
	if err := store.Create(ctx, newSub("d1")); !errors.Is(err, subscriptions.ErrLimitReached) {
		t.Fatalf("51st create = %v, want ErrLimitReached", err)
	}
	// another dealer has its own limit
	if err := store.Create(ctx, newSub("d2")); err != nil {
		t.Fatal(err)
	}
}
