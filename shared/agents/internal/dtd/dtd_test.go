package dtd

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dealerai/integrations/shared/internal/agenttest"
)

func loadADF(t *testing.T) *DTD {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(agenttest.Testdata(), "agents", "adf-1.0.dtd"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

const valid = `<?xml version="1.0"?><?adf version="1.0"?>
<adf><prospect status="new"><requestdate>2026-01-01T00:00:00Z</requestdate>
<vehicle interest="buy"><year>2024</year><make>Toyota</make><model>RAV4</model></vehicle>
<customer><contact><name part="first">Ana</name><phone type="voice">1</phone></contact></customer>
<vendor><vendorname>Dealer</vendorname><contact><name>Dealer</name><email/></contact></vendor>
</prospect></adf>`

func TestValidate(t *testing.T) {
	d := loadADF(t)
	if err := d.Validate([]byte(valid), "adf"); err != nil {
		t.Fatalf("valid document refused: %v", err)
	}
	bad := map[string]struct{ from, to, want string }{
		"missing make":       {"<make>Toyota</make>", "", "content model"},
		"order":              {"<year>2024</year><make>Toyota</make>", "<make>Toyota</make><year>2024</year>", "content model"},
		"enum":               {`interest="buy"`, `interest="rent"`, "not one of"},
		"unknown attribute":  {`status="new"`, `status="new" color="red"`, "not declared"},
		"unknown element":    {"<requestdate>", "<foo/><requestdate>", "not declared"},
		"no email nor phone": {`<phone type="voice">1</phone>`, "", "content model"},
		"text in elements":   {"<customer>", "<customer>hello", "text in element content"},
		"element in text":    {"<year>2024</year>", "<year><b/>2024</year>", "(#PCDATA)"},
		"root":               {"<adf>", "<adf2>", "root"},
		"not well-formed":    {"</adf>", "", "not well-formed"},
	}
	for name, c := range bad {
		doc := strings.Replace(valid, c.from, c.to, 1)
		if c.from == "<adf>" {
			doc = strings.Replace(strings.Replace(valid, "<adf>", "<adf2>", 1), "</adf>", "</adf2>", 1)
		}
		err := d.Validate([]byte(doc), "adf")
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want an error containing %q", name, err, c.want)
		}
	}
}

func TestParseRefusesUndeclaredChild(t *testing.T) {
	if _, err := Parse(`<!ELEMENT a (b, c)><!ELEMENT b (#PCDATA)>`); err == nil {
		t.Fatal("want an error for undeclared c")
	}
}
