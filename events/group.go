package events

import (
	"crypto/sha256"
	"encoding/hex"
)

// MessageGroupID is the SQS MessageGroupId of a dealer's messages on the standard events
// and deliveries queues, which makes them SQS fair queues: when one dealer has a backlog,
// SQS hands the other dealers' messages to consumers first, so a dealer that floods the
// queue (or points its subscriptions at an endpoint that never answers) does not hold up
// everyone's deliveries. It is the dealer id when that is a valid group id (1 to 128
// printable ASCII characters), else "dealer-" and a SHA-256 prefix of it: one group per
// dealer either way.
func MessageGroupID(dealerID string) string {
	if len(dealerID) >= 1 && len(dealerID) <= 128 {
		ok := true
		for i := 0; i < len(dealerID); i++ {
			if c := dealerID[i]; c < '!' || c > '~' {
				ok = false
				break
			}
		}
		if ok {
			return dealerID
		}
	}
	sum := sha256.Sum256([]byte(dealerID))
	return "dealer-" + hex.EncodeToString(sum[:16])
}
