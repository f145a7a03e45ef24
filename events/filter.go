package events

import "strings"

// ValidFilter reports whether filter is a valid subscription filter: an
// exact catalog type ("lead.created"), "*" (every type), or a prefix
// wildcard "<prefix>.*" that matches at least one catalog type ("lead.*",
// "sequence.step.*", "sequence.*"). "lead.cre*" and "foo.*" are invalid.
func ValidFilter(filter string) bool {
	_, exact := compiledTypes[filter]
	return exact || validWildcards[filter]
}

// MatchFilter reports whether filter selects eventType. It is the one
// matcher of the API and the router.
func MatchFilter(filter, eventType string) bool {
	switch {
	case filter == "*" || filter == eventType:
		return true
	case strings.HasSuffix(filter, ".*"):
		return strings.HasPrefix(eventType, filter[:len(filter)-1])
	}
	return false
}

// MatchAny reports whether any of filters selects eventType.
func MatchAny(filters []string, eventType string) bool {
	for _, f := range filters {
		if MatchFilter(f, eventType) {
			return true
		}
	}
	return false
}
