package plans_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/dealerai/integrations/infra/local/localtest"
	"github.com/dealerai/integrations/shared/plans"
	"github.com/dealerai/integrations/shared/resources"
)

func TestStore(t *testing.T) {
	ctx := context.Background()
	env := localtest.New(t)
	store := plans.NewStore(env.DynamoDB, env.Table(resources.ConfigTable))
	now := time.Date(2026, 12, 1, 9, 30, 0, 123456789, time.UTC)
	store.Now = func() time.Time { return now }

	if _, err := store.Get(ctx, "d1"); !errors.Is(err, plans.ErrNotFound) {
		t.Fatalf("get before any put: %v", err)
	}
	saved, err := store.Put(ctx, &plans.Entitlement{DealerID: "d1", Platforms: []string{"xtime", "fortellis", "xtime"}, UpdatedBy: "staff-1"})
	if err != nil {
		t.Fatal(err)
	}
	if saved.Version != 1 || !slices.Equal(saved.Platforms, []string{"fortellis", "xtime"}) || !saved.UpdatedAt.Equal(now.Truncate(time.Millisecond)) {
		t.Errorf("saved %+v", saved)
	}
	got, err := store.Get(ctx, "d1")
	if err != nil || got.Version != 1 || got.UpdatedBy != "staff-1" || !slices.Equal(got.Platforms, saved.Platforms) || !got.UpdatedAt.Equal(saved.UpdatedAt) || got.DealerID != "d1" {
		t.Errorf("get %+v %v", got, err)
	}
	// writes are conditional on the version read
	if _, err := store.Put(ctx, &plans.Entitlement{DealerID: "d1", Platforms: []string{"xtime"}}); !errors.Is(err, plans.ErrVersionMismatch) {
		t.Errorf("put as new over a stored plan: %v", err)
	}
	if _, err := store.Put(ctx, &plans.Entitlement{DealerID: "d1", Platforms: []string{"xtime"}, Version: 2}); !errors.Is(err, plans.ErrVersionMismatch) {
		t.Errorf("put at a version not stored: %v", err)
	}
	empty, err := store.Put(ctx, &plans.Entitlement{DealerID: "d1", Platforms: nil, UpdatedBy: "staff-2", Version: 1})
	if err != nil || empty.Version != 2 || empty.Platforms == nil || len(empty.Platforms) != 0 {
		t.Fatalf("empty plan: %+v %v", empty, err)
	}
	if got, err := store.Get(ctx, "d1"); err != nil || len(got.Platforms) != 0 || got.UpdatedBy != "staff-2" {
		t.Errorf("empty plan read back: %+v %v", got, err)
	}
	// other dealers are untouched
	if _, err := store.Get(ctx, "d2"); !errors.Is(err, plans.ErrNotFound) {
		t.Errorf("d2: %v", err)
	}
	// the item sorts under the targets' prefix: the targets query returns it
	out, err := env.DynamoDB.Query(ctx, &dynamodb.QueryInput{
		TableName:              aws.String(env.Table(resources.ConfigTable)),
		KeyConditionExpression: aws.String("pk = :pk AND begins_with(sk, :t)"),
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":pk": &types.AttributeValueMemberS{Value: resources.DealerKey("d1")},
			":t":  &types.AttributeValueMemberS{Value: resources.TargetKeyPrefix},
		},
	})
	if err != nil || len(out.Items) != 1 || !plans.IsItem(out.Items[0]) {
		t.Errorf("targets query: %v %v", out, err)
	}
}

func TestFromItemRefusesWhatItCannotRead(t *testing.T) {
	s := func(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }
	base := func() map[string]types.AttributeValue {
		return map[string]types.AttributeValue{
			"pk": s("DEALER#d1"), "sk": s(resources.PlanKey),
			"platforms": &types.AttributeValueMemberL{Value: []types.AttributeValue{s("xtime")}},
			"version":   &types.AttributeValueMemberN{Value: "4"},
		}
	}
	if e, err := plans.FromItem(base()); err != nil || e.DealerID != "d1" || e.Version != 4 || !slices.Equal(e.Platforms, []string{"xtime"}) {
		t.Fatalf("FromItem = %+v, %v", e, err)
	}
	for name, change := range map[string]func(map[string]types.AttributeValue){
		"another item": func(it map[string]types.AttributeValue) { it["sk"] = s("T#AGENT#xtime") },
		"no platforms": func(it map[string]types.AttributeValue) { delete(it, "platforms") },
		"platforms as a set": func(it map[string]types.AttributeValue) {
			it["platforms"] = &types.AttributeValueMemberSS{Value: []string{"xtime"}}
		},
		"a platform number": func(it map[string]types.AttributeValue) {
			it["platforms"] = &types.AttributeValueMemberL{Value: []types.AttributeValue{&types.AttributeValueMemberN{Value: "1"}}}
		},
		"a bad updatedAt":      func(it map[string]types.AttributeValue) { it["updatedAt"] = s("yesterday") },
		"a bad version":        func(it map[string]types.AttributeValue) { it["version"] = &types.AttributeValueMemberN{Value: "x"} },
		"no dealer in the key": func(it map[string]types.AttributeValue) { it["pk"] = s("d1") },
	} {
		it := base()
		change(it)
		if e, err := plans.FromItem(it); err == nil {
			t.Errorf("%s: decoded as %+v", name, e)
		}
	}
}
