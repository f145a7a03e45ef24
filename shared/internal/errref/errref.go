// Package errref makes the reference ids that stand for our own failures where they are shown
// to dealers: the delivery log and the API say "internal error (ref …)", and the log line that
// carries the failure's detail (an AWS SDK error names the account, roles and tables) carries
// the same ref, so an operator finds it from what the dealer reports.
package errref

import (
	"crypto/rand"
	"encoding/hex"
)

// New is a fresh reference id: 12 hex digits.
func New() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Message is what a dealer sees of a failure with reference ref.
func Message(ref string) string { return "internal error (ref " + ref + ")" }

// Annotate adds ref to msg, what a dealer sees of the failure ("internal error" when empty).
func Annotate(msg, ref string) string {
	if msg == "" {
		return Message(ref)
	}
	return msg + " (ref " + ref + ")"
}
