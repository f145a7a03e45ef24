package platform_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/agents/platform"
)

func catalog() platform.Catalog {
	return platform.Catalog{
		{ID: "one", Name: "One", Hosts: []string{"api.one.example"}, Settings: []platform.KeySpec{{Key: "baseUrl", URL: true}, {Key: "dealer"}}},
		{ID: "two", Name: "Two", Hosts: []string{"api.two.example"}},
	}
}

func TestParseExtraHosts(t *testing.T) {
	got, err := platform.ParseExtraHosts(" 127.0.0.1, ::1 ,localhost,two=Sandbox.Two.Example,, [::1]")
	want := []platform.ExtraHost{{Host: "127.0.0.1"}, {Host: "::1"}, {Host: "localhost"}, {Platform: "two", Host: "Sandbox.Two.Example"}, {Host: "[::1]"}}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := platform.ParseExtraHosts(""); err != nil || len(got) != 0 {
		t.Fatalf("empty: %v %v", got, err)
	}
	for _, bad := range []string{"https://evil.example", "evil.example:443", "evil.example/x", "two=", "a..b", "-a.example", "a b", "ünï.example"} {
		if _, err := platform.ParseExtraHosts(bad); err == nil || !strings.Contains(err.Error(), bad) {
			t.Errorf("%q: err = %v", bad, err)
		}
	}
}

func TestWithExtraHosts(t *testing.T) {
	base := catalog()
	extra, _ := platform.ParseExtraHosts("127.0.0.1,two=Sandbox.Two.Example.,[::1]")
	c, err := base.WithExtraHosts(extra)
	if err != nil {
		t.Fatal(err)
	}
	one, _ := c.Get("one")
	two, _ := c.Get("two")
	if !slices.Equal(one.Hosts, []string{"api.one.example", "127.0.0.1", "::1"}) ||
		!slices.Equal(two.Hosts, []string{"api.two.example", "127.0.0.1", "sandbox.two.example", "::1"}) {
		t.Fatalf("hosts: one %v, two %v", one.Hosts, two.Hosts)
	}
	if one.AllowsHost("sandbox.two.example") || !two.AllowsHost("SANDBOX.two.example") || !one.AllowsHost("[::1]") {
		t.Error("a platform's extra host is another's, or matching is wrong")
	}
	if orig, _ := base.Get("one"); len(orig.Hosts) != 1 {
		t.Errorf("the original catalog changed: %v", orig.Hosts)
	}
	if _, err := base.WithExtraHosts([]platform.ExtraHost{{Platform: "three", Host: "x.example"}}); err == nil || !strings.Contains(err.Error(), "three") {
		t.Errorf("unknown platform: %v", err)
	}
}

func TestCheckURL(t *testing.T) {
	one, _ := catalog().Get("one")
	for u, ok := range map[string]bool{
		"https://api.one.example/v1":          true,
		"https://API.ONE.EXAMPLE.:8443/v1":    true,
		"https://api.one.example.evil.com/v1": false,
		"https://evil.com/api.one.example":    false,
		"https://user@evil.com":               false,
		"api.one.example/v1":                  false,
		"":                                    false,
	} {
		if msg := one.CheckURL(u); (msg == "") != ok {
			t.Errorf("%q: %q", u, msg)
		}
	}
	if msg := one.CheckURL("https://evil.com"); !strings.Contains(msg, "api.one.example") {
		t.Errorf("the message names the hosts: %q", msg)
	}
	if !slices.Equal(one.URLSettings(), []string{"baseUrl"}) {
		t.Errorf("URL settings %v", one.URLSettings())
	}
	if got := one.WithDefaults(map[string]string{"dealer": "7", "x": ""}); len(got) != 1 || got["dealer"] != "7" {
		t.Errorf("defaults %v", got)
	}
}
