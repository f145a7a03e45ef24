package local

import (
	"cmp"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/dealerai/integrations/shared/httpapi"
)

// The local issuer and audience, as API Gateway's JWT authorizer would be configured.
const (
	LocalIssuer   = "https://auth.dealerai.local/"
	LocalAudience = "dealerai-integrations"
	// DefaultDealerClaim is the claim the dealer id is read from unless DEALER_ID_CLAIM says.
	DefaultDealerClaim = httpapi.DefaultDealerIDClaim
	// LocalAdminSub is the sub of the local stack's admin tokens: who the logs say made a
	// change.
	LocalAdminSub = "staff@dealerai.local"
)

// Issuer signs and checks the local stack's RS256 tokens.
type Issuer struct {
	key      *rsa.PrivateKey
	Issuer   string
	Audience string
}

func keyPath(root string) string { return filepath.Join(root, ".local", "jwt-key.pem") }

// NewIssuer generates a fresh RS256 key and saves it in .local/ so `make token` can sign
// tokens the running stack accepts.
func NewIssuer(root string) (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Join(root, ".local"), 0o700); err != nil {
		return nil, err
	}
	block := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(keyPath(root), block, 0o600); err != nil {
		return nil, err
	}
	return &Issuer{key: key, Issuer: LocalIssuer, Audience: LocalAudience}, nil
}

// NewEphemeralIssuer is an issuer whose key lives only in memory (tests).
func NewEphemeralIssuer() (*Issuer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	return &Issuer{key: key, Issuer: LocalIssuer, Audience: LocalAudience}, nil
}

// LoadIssuer reads the key the running stack saved.
func LoadIssuer(root string) (*Issuer, error) {
	raw, err := os.ReadFile(keyPath(root))
	if err != nil {
		return nil, fmt.Errorf("no signing key: is `make dev` running? (%w)", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, errors.New("bad key file " + keyPath(root))
	}
	key, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		return nil, err
	}
	return &Issuer{key: key, Issuer: LocalIssuer, Audience: LocalAudience}, nil
}

// Token signs a one-hour token for dealer, with the dealer id in claim (default dealer_id).
func (i *Issuer) Token(dealer, claim string) (string, error) {
	if claim == "" {
		claim = DefaultDealerClaim
	}
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": i.Issuer, "aud": i.Audience, "sub": "user-of-" + dealer,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		claim: dealer,
	}
	return i.Sign(claims)
}

// AdminToken signs a one-hour token of DealerAI staff: sub LocalAdminSub, scope in claim
// (defaults "dealerai:admin" in "scope", as ADMIN_SCOPE and ADMIN_SCOPE_CLAIM), no dealer.
func (i *Issuer) AdminToken(scope, claim string) (string, error) {
	now := time.Now()
	claims := jwt.MapClaims{
		"iss": i.Issuer, "aud": i.Audience, "sub": LocalAdminSub,
		"iat": now.Unix(), "nbf": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		cmp.Or(claim, httpapi.DefaultAdminScopeClaim): cmp.Or(scope, httpapi.DefaultAdminScope),
	}
	return i.Sign(claims)
}

// Sign signs arbitrary claims with the issuer's key (tests craft odd tokens with it).
func (i *Issuer) Sign(claims jwt.MapClaims) (string, error) {
	return jwt.NewWithClaims(jwt.SigningMethodRS256, claims).SignedString(i.key)
}

// PublicKey is the key tokens are verified with.
func (i *Issuer) PublicKey() *rsa.PublicKey { return &i.key.PublicKey }

// Verify checks a token as API Gateway's JWT authorizer does — RS256 signature, iss, aud,
// exp and nbf — and returns its claims.
func (i *Issuer) Verify(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(token, claims, func(*jwt.Token) (any, error) { return &i.key.PublicKey, nil },
		jwt.WithValidMethods([]string{"RS256"}),
		jwt.WithIssuer(i.Issuer),
		jwt.WithAudience(i.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(5*time.Second),
	)
	if err != nil {
		return nil, err
	}
	return claims, nil
}
