package plans_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/plans"
)

var known = []string{"vinsolutions", "dealersocket", "fortellis", "xtime"}

func TestParseDefault(t *testing.T) {
	for v, want := range map[string][]string{
		"":                          {"dealersocket", "fortellis", "vinsolutions", "xtime"},
		"  ":                        {"dealersocket", "fortellis", "vinsolutions", "xtime"},
		"none":                      {},
		"xtime":                     {"xtime"},
		" xtime , fortellis,xtime ": {"fortellis", "xtime"},
	} {
		got, err := plans.ParseDefault(v, known)
		if err != nil || got == nil || !slices.Equal(got, want) {
			t.Errorf("ParseDefault(%q) = %v, %v; want %v", v, got, err, want)
		}
	}
	for _, bad := range []string{"crm", "xtime,", "XTime", "none,xtime", "xtime;fortellis"} {
		if got, err := plans.ParseDefault(bad, known); err == nil || !strings.Contains(err.Error(), "DEFAULT_AGENT_PLATFORMS") {
			t.Errorf("ParseDefault(%q) = %v, %v; want an error naming the setting", bad, got, err)
		}
	}
}

func TestValidate(t *testing.T) {
	if errs := plans.Validate([]string{"xtime", "vinsolutions"}, known); errs != nil {
		t.Errorf("valid platforms: %v", errs)
	}
	if errs := plans.Validate([]string{}, known); errs != nil {
		t.Errorf("no platform: %v", errs)
	}
	errs := plans.Validate([]string{"xtime", "crm", "xtime", "", "fortellis"}, known)
	fields := make([]string, len(errs))
	for i, e := range errs {
		fields[i] = e.Field
	}
	if !slices.Equal(fields, []string{"platforms[1]", "platforms[2]", "platforms[3]"}) {
		t.Errorf("errors %v", errs)
	}
	if !strings.Contains(errs[0].Message, "vinsolutions, dealersocket, fortellis, xtime") || !strings.Contains(errs[1].Message, "twice") {
		t.Errorf("messages %v", errs)
	}
}

func TestPolicyResolve(t *testing.T) {
	p := plans.Policy{Default: []string{"xtime", "fortellis"}}
	e, isDefault := p.Resolve("d1", nil)
	if !isDefault || e.DealerID != "d1" || !slices.Equal(e.Platforms, []string{"fortellis", "xtime"}) || !e.Includes("xtime") || e.Includes("vinsolutions") {
		t.Errorf("default: %+v %v", e, isDefault)
	}
	stored := &plans.Entitlement{DealerID: "d1", Platforms: []string{"vinsolutions"}, Version: 3}
	if e, isDefault := p.Resolve("d1", stored); isDefault || e != stored || e.Includes("xtime") {
		t.Errorf("stored: %+v %v", e, isDefault)
	}
	// an empty stored plan is a plan, not the default
	if e, isDefault := p.Resolve("d1", &plans.Entitlement{DealerID: "d1"}); isDefault || e.Includes("xtime") {
		t.Errorf("empty stored plan: %+v %v", e, isDefault)
	}
	if e, _ := (plans.Policy{Default: []string{}}).Resolve("d1", nil); len(e.Platforms) != 0 || e.Platforms == nil {
		t.Errorf("default none: %+v", e)
	}
}
