package faultsuite

import (
	"sort"
	"strings"
	"sync"
)

// secretSet is every secret, token and credential the suite created, by value, with a label
// that can be printed (the value never is).
type secretSet struct {
	mu     sync.Mutex
	values map[string]string
}

func newSecretSet() *secretSet { return &secretSet{values: map[string]string{}} }

func (s *secretSet) add(value, label string) {
	if len(value) < 12 { // too short to be recognised, or to be a secret
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.values[value] = label
}

// addSecret records a signing secret and its bare key (the base64 after whsec_).
func (s *secretSet) addSecret(secret string) {
	s.add(secret, "a signing secret")
	s.add(strings.TrimPrefix(secret, "whsec_"), "the key of a signing secret")
}

// addToken records a JWT, its signature and the Authorization header value.
func (s *secretSet) addToken(tok string) {
	s.add(tok, "a bearer token")
	s.add("Bearer "+tok, "an Authorization header")
	if i := strings.LastIndexByte(tok, '.'); i > 0 {
		s.add(tok[i+1:], "a bearer token's signature")
	}
}

// genericMarkers betray a secret or a token whatever its value.
var genericMarkers = map[string]string{
	"whsec_":               "a whsec_ secret",
	"Bearer ":              "a bearer token",
	"eyJhbGciOi":           "a JWT",
	"Authorization":        "an Authorization header",
	"X-Amz-Security-Token": "an AWS session token",
}

// scan returns what text leaks: the labels of the values found in it (credentials in URLs
// are allowed where urlOK says, e.g. in a subscription's own url).
func (s *secretSet) scan(text string, generic, urlOK bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	found := map[string]bool{}
	for v, label := range s.values {
		if urlOK && label == "a credential in a webhook URL" {
			continue
		}
		if strings.Contains(text, v) {
			found[label] = true
		}
	}
	if generic {
		for m, label := range genericMarkers {
			if strings.Contains(text, m) {
				found[label+" (marker "+m[:3]+"...)"] = true
			}
		}
	}
	var out []string
	for l := range found {
		out = append(out, l)
	}
	sort.Strings(out)
	return out
}

func (s *secretSet) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.values)
}
