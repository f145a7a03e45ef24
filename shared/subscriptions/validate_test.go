package subscriptions_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dealerai/integrations/shared/safeurl"
	"github.com/dealerai/integrations/shared/subscriptions"
	"github.com/dealerai/integrations/shared/validation"
)

// syntaxOnly checks URLs without DNS.
type syntaxOnly struct{ safeurl.Policy }

func (s syntaxOnly) Check(_ context.Context, raw string) error { return s.CheckSyntax(raw) }

type brokenChecker struct{}

func (brokenChecker) Check(context.Context, string) error { return context.DeadlineExceeded }

func ptr[T any](v T) *T { return &v }

func fieldsOf(err error) []string {
	var v *validation.Error
	if !errors.As(err, &v) {
		return nil
	}
	var out []string
	for _, f := range v.Fields {
		out = append(out, f.Field)
	}
	return out
}

func TestValidate(t *testing.T) {
	ctx := context.Background()
	urls := syntaxOnly{}
	ok := subscriptions.Fields{URL: ptr("https://93.184.215.14/hook"), Events: []string{"lead.*", "*", "sequence.step.executed"}}
	if err := subscriptions.ValidateCreate(ctx, urls, ok); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		create bool
		f      subscriptions.Fields
		want   string
	}{
		{"url required", true, subscriptions.Fields{Events: []string{"*"}}, "url"},
		{"events required", true, subscriptions.Fields{URL: ok.URL}, "events"},
		{"private url", false, subscriptions.Fields{URL: ptr("https://10.0.0.5/x")}, "url"},
		{"http url", false, subscriptions.Fields{URL: ptr("http://93.184.215.14/x")}, "url"},
		{"empty events", false, subscriptions.Fields{Events: []string{}}, "events"},
		{"unknown type", false, subscriptions.Fields{Events: []string{"lead.created", "lead.gone"}}, "events[1]"},
		{"duplicate", false, subscriptions.Fields{Events: []string{"*", "lead.*", "*"}}, "events[2]"},
		{"long description", false, subscriptions.Fields{Description: ptr(strings.Repeat("x", 501))}, "description"},
	}
	for _, c := range cases {
		validate := subscriptions.ValidateUpdate
		if c.create {
			validate = subscriptions.ValidateCreate
		}
		if got := fieldsOf(validate(ctx, urls, c.f)); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: fields %v, want [%s]", c.name, got, c.want)
		}
	}
	if err := subscriptions.ValidateUpdate(ctx, urls, subscriptions.Fields{Description: ptr(strings.Repeat("é", 500))}); err != nil {
		t.Errorf("500 characters: %v", err)
	}
	// a checker that fails (not a refusal) is not a validation error
	err := subscriptions.ValidateUpdate(ctx, brokenChecker{}, subscriptions.Fields{URL: ok.URL})
	if !errors.Is(err, context.DeadlineExceeded) || fieldsOf(err) != nil {
		t.Errorf("broken checker: %v", err)
	}
}

func TestNewAndIDs(t *testing.T) {
	s := subscriptions.New("d1", subscriptions.Fields{URL: ptr("https://x.example"), Events: []string{"*"}, Enabled: ptr(false)}, "whsec_x", time.Now())
	if !subscriptions.ValidID(s.ID) || s.Status != subscriptions.StatusDisabled || s.Enabled || s.Version != 1 {
		t.Fatalf("%+v", s)
	}
	for _, bad := range []string{"", "sub_", "sub_x", "dlv_01JDQ7Z4X8M2K9V6T3R5N1P0AB", "sub_01JDQ7Z4X8M2K9V6T3R5N1P0AB#", "sub_01jdq7z4x8m2k9v6t3r5n1p0abc"} {
		if subscriptions.ValidID(bad) {
			t.Errorf("ValidID(%q)", bad)
		}
	}
	if k := subscriptions.Key("d1", s.ID); len(k) != 2 {
		t.Fatal(k)
	}
}
