package events

import "testing"

func TestValidFilter(t *testing.T) {
	for _, c := range []struct {
		filter string
		want   bool
	}{
		{"*", true},
		{"lead.created", true},
		{"lead.update.disposition", true},
		{"contact.sequence_enrollment.updated", true},
		{"sequence.step.skipped", true},
		{"lead.*", true},
		{"appointment.*", true},
		{"contact.*", true},
		{"conversation.*", true},
		{"sequence.*", true},
		{"sequence.step.*", true},
		{"sequence.enrollment.*", true},
		{"lead.update.*", true},
		{"contact.basic.*", true},

		{"", false},
		{"lead", false},
		{"lead.", false},
		{"lead.cre*", false},
		{"lead*", false},
		{"foo.*", false},
		{"sequence.step", false},
		{"sequence.steps.*", false},
		{"lead.created.*", false},
		{".*", false},
		{"*.*", false},
		{"**", false},
		{"*.created", false},
		{"Lead.*", false},
		{"LEAD.CREATED", false},
		{" lead.created", false},
		{"lead.created ", false},
		{"lead.deleted", false},
	} {
		if got := ValidFilter(c.filter); got != c.want {
			t.Errorf("ValidFilter(%q) = %v, want %v", c.filter, got, c.want)
		}
	}
	for _, d := range Catalog() {
		if !ValidFilter(d.Type) {
			t.Errorf("ValidFilter(%q) = false", d.Type)
		}
	}
}

func TestMatchFilter(t *testing.T) {
	for _, c := range []struct {
		filter, eventType string
		want              bool
	}{
		{"*", "lead.created", true},
		{"*", "sequence.step.failed", true},
		{"lead.created", "lead.created", true},
		{"lead.created", "lead.received", false},
		{"lead.*", "lead.created", true},
		{"lead.*", "lead.update.disposition", true},
		{"lead.*", "appointment.created", false},
		{"sequence.*", "sequence.step.executed", true},
		{"sequence.*", "sequence.enrollment.created", true},
		{"sequence.step.*", "sequence.step.executed", true},
		{"sequence.step.*", "sequence.enrollment.created", false},
		{"sequence.enrollment.*", "sequence.reply.received", false},
		{"contact.*", "conversation.started", false},
		{"lead.cre*", "lead.created", false},
		{"lead*", "lead.created", false},
		{"lead", "lead.created", false},
		{"lead.", "lead.created", false},
		{"foo.*", "lead.created", false},
		{"Lead.*", "lead.created", false},
		{"", "lead.created", false},
		{"*.*", "lead.created", false},
	} {
		if got := MatchFilter(c.filter, c.eventType); got != c.want {
			t.Errorf("MatchFilter(%q, %q) = %v, want %v", c.filter, c.eventType, got, c.want)
		}
	}
}

// Every valid wildcard selects at least one catalog type, and the valid
// wildcards are exactly "*" and the prefixes of the catalog types.
func TestFiltersAgainstCatalog(t *testing.T) {
	for f := range validWildcards {
		n := 0
		for _, d := range Catalog() {
			if MatchFilter(f, d.Type) {
				n++
			}
		}
		if n == 0 {
			t.Errorf("valid filter %q matches no type", f)
		}
	}
	want := []string{"*", "lead.*", "lead.update.*", "appointment.*", "contact.*", "contact.basic.*", "contact.vehicleofinterest.*", "contact.sequence_enrollment.*", "conversation.*", "sequence.*", "sequence.enrollment.*", "sequence.reply.*", "sequence.step.*"}
	for _, w := range want {
		if !ValidFilter(w) {
			t.Errorf("ValidFilter(%q) = false", w)
		}
	}
	if len(validWildcards) != len(want) {
		t.Errorf("%d valid wildcards, want %d", len(validWildcards), len(want))
	}
}

func TestMatchAny(t *testing.T) {
	for _, c := range []struct {
		filters   []string
		eventType string
		want      bool
	}{
		{nil, "lead.created", false},
		{[]string{}, "lead.created", false},
		{[]string{"appointment.*", "lead.created"}, "lead.created", true},
		{[]string{"appointment.*", "lead.created"}, "appointment.cancelled", true},
		{[]string{"appointment.*", "lead.created"}, "lead.received", false},
		{[]string{"*"}, "conversation.takenover", true},
	} {
		if got := MatchAny(c.filters, c.eventType); got != c.want {
			t.Errorf("MatchAny(%q, %q) = %v, want %v", c.filters, c.eventType, got, c.want)
		}
	}
}
