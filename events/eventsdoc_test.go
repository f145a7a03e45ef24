package events_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/dealerai/integrations/events/internal/eventsdoc"
)

// docs/events.md is generated from the catalog; it must say what the catalog says.
func TestEventsDocIsCurrent(t *testing.T) {
	want, err := eventsdoc.Render()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../docs/events.md")
	if err != nil {
		t.Fatalf("%v: run go generate ./events", err)
	}
	if bytes.Equal(got, want) {
		return
	}
	gotLines, wantLines := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < max(len(gotLines), len(wantLines)); i++ {
		var g, w []byte
		if i < len(gotLines) {
			g = gotLines[i]
		}
		if i < len(wantLines) {
			w = wantLines[i]
		}
		if !bytes.Equal(g, w) {
			t.Fatalf("docs/events.md differs from the catalog at line %d (run go generate ./events):\n  file:    %s\n  catalog: %s", i+1, g, w)
		}
	}
}
