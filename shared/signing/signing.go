// Package signing signs webhook requests with the Standard Webhooks scheme
// (https://www.standardwebhooks.com/), which Svix and every Standard Webhooks
// library verify unchanged.
//
// A secret is "whsec_" followed by the standard base64 encoding of the key.
// A request carries
//
//	webhook-id: <msgID>
//	webhook-timestamp: <unix seconds>
//	webhook-signature: v1,<base64 HMAC-SHA256(key, msgID + "." + timestamp + "." + body)>
//
// and, during a secret rotation, one space-separated "v1,..." signature per
// active secret, the new secret first.
package signing

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync"

	"github.com/dealerai/integrations/events/webhook"
)

// secretBytes is the length of the keys NewSecret generates.
const secretBytes = 32

// sigLen is the length of one "v1,<base64 of 32 bytes>" signature.
var sigLen = len("v1,") + base64.StdEncoding.EncodedLen(sha256.Size)

// NewSecret returns a new secret: "whsec_" and the base64 of 32 random bytes.
func NewSecret() (string, error) {
	var key [secretBytes]byte
	if _, err := rand.Read(key[:]); err != nil {
		return "", err
	}
	return webhook.SecretPrefix + base64.StdEncoding.EncodeToString(key[:]), nil
}

// ErrMalformedSecret is returned (wrapped) for a secret that is not "whsec_"
// followed by non-empty standard base64.
var ErrMalformedSecret = errors.New("signing: malformed secret")

// Sign returns the webhook-signature header value for one request: one
// "v1,<signature>" per secret, space-separated, in the order given (the new
// secret first during a rotation). The signed content is
// msgID + "." + timestamp + "." + body. At least one secret is required, and
// a malformed secret is an error (never echoed in it).
func Sign(secrets []string, msgID string, timestamp int64, body []byte) (string, error) {
	if len(secrets) == 0 {
		return "", errors.New("signing: no secret")
	}

	bp := prefixPool.Get().(*[]byte)
	defer prefixPool.Put(bp)
	prefix := append((*bp)[:0], msgID...)
	prefix = append(prefix, '.')
	prefix = strconv.AppendInt(prefix, timestamp, 10)
	prefix = append(prefix, '.')
	*bp = prefix

	var out strings.Builder
	out.Grow(len(secrets)*(sigLen+1) - 1)
	var key [64]byte
	var sum [sha256.Size]byte
	var enc [44]byte // base64 of 32 bytes
	for i, secret := range secrets {
		k, err := decodeKey(key[:0], secret)
		if err != nil {
			return "", err
		}
		mac := hmac.New(sha256.New, k)
		mac.Write(prefix)
		mac.Write(body)
		base64.StdEncoding.Encode(enc[:], mac.Sum(sum[:0]))
		if i > 0 {
			out.WriteByte(' ')
		}
		out.WriteString("v1,")
		out.Write(enc[:])
	}
	return out.String(), nil
}

// prefixPool holds the buffers for the "<msgID>.<timestamp>." prefix.
var prefixPool = sync.Pool{New: func() any {
	b := make([]byte, 0, 128)
	return &b
}}

// decodeKey appends the key of secret to dst.
func decodeKey(dst []byte, secret string) ([]byte, error) {
	enc, ok := strings.CutPrefix(secret, webhook.SecretPrefix)
	if !ok || enc == "" {
		return nil, ErrMalformedSecret
	}
	n := base64.StdEncoding.DecodedLen(len(enc))
	if n > cap(dst) {
		dst = make([]byte, 0, n)
	}
	m, err := base64.StdEncoding.Decode(dst[:n], []byte(enc))
	if err != nil || m == 0 {
		return nil, ErrMalformedSecret
	}
	return dst[:m], nil
}
