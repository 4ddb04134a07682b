package jobs

import (
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Target kinds of an outcome (Outcome.TargetKind).
const (
	KindConnector = contract.KindConnector
	KindKeySet    = contract.KindKeySet
)

// KeySetRef binds a job to one B2C custom-policy key container
// (trustFrameworkKeySet) of one tenant: a second kind of target, fed the
// same bundle as the job's connectors in the same run.
type KeySetRef struct {
	Tenant string // key into the tenants map of the config
	ID     string // the container's id, B2C_1A_…
}

// keySetIDPrefix is what B2C puts before every custom-policy key
// container's name.
const keySetIDPrefix = "B2C_1A_"

// IsKeySetID reports whether s is a policy key container id: B2C_1A_
// followed by letters, digits, '_' or '-' (B2C's own naming rule for the
// name typed after the prefix).
func IsKeySetID(s string) bool {
	rest, ok := strings.CutPrefix(s, keySetIDPrefix)
	if !ok || rest == "" || len(s) > 128 {
		return false
	}
	for _, c := range rest {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// PolicyKey is one key of a container (a JWK, trustFrameworkKey), as far as
// rotation needs it. It never holds key material.
type PolicyKey struct {
	Kid       string
	Use       string
	X5t       string    // base64url SHA-1 of the certificate (JWK's x5t), "" for a key without one
	Subject   string    // the certificate's subject when Graph sent its x5c; "" otherwise
	NotBefore time.Time // nbf: the activation date; zero when absent
	NotAfter  time.Time // exp; zero when absent (never expires)
}

// Thumbprint returns the key's x5t as 40 upper-case hex characters, the
// form connectors and bundles use, or "" when x5t is not a SHA-1.
func (k PolicyKey) Thumbprint() string {
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.X5t, "="))
	if err != nil || len(raw) != sha1.Size {
		return ""
	}
	return strings.ToUpper(hex.EncodeToString(raw))
}

// KeySetState is what Graph says a container holds, keys in Graph's order.
type KeySetState struct {
	ID   string
	Keys []PolicyKey
}

// Has returns the key whose x5t is the thumbprint (hex, any case).
func (s KeySetState) Has(thumbprint string) (PolicyKey, bool) {
	for _, k := range s.Keys {
		if strings.EqualFold(k.Thumbprint(), thumbprint) {
			return k, true
		}
	}
	return PolicyKey{}, false
}

// KeySets reads policy key containers and uploads to them. Errors are
// classified as Connector's; a missing container is Permanent with code
// "Request_ResourceNotFound". There is deliberately no call that replaces a
// container's key list (Graph's PUT of the keyset): rotation only appends.
type KeySets interface {
	GetKeySet(ctx context.Context, tenant, id string) (KeySetState, error)
	// UploadKey sends the PFX (raw bytes) and its password with
	// uploadPkcs12 and returns the key Graph created.
	UploadKey(ctx context.Context, tenant, id string, pfx []byte, password string) (PolicyKey, error)
	// ActiveKey returns the key B2C uses now; ok is false when none is
	// valid.
	ActiveKey(ctx context.Context, tenant, id string) (key PolicyKey, ok bool, err error)
}
