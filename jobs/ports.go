package jobs

import (
	"context"
	"log/slog"
	"strings"
	"time"
)

// Material is a bundle as read from its source: the PFX bytes, the
// password and the source's version. It implements slog.LogValuer so that it
// can never print its secrets.
type Material struct {
	PFX      []byte `json:"-"`
	Password string `json:"-"`
	Version  int
}

// LogValue keeps the PFX and password out of logs.
func (m Material) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("version", m.Version), slog.String("pfx", "REDACTED"))
}

// Source reads a job's bundle. A missing secret, field or version returns
// an error classified Permanent (code "source_not_found" or
// "source_field_missing"), a denied read Permanent ("source_denied"), an
// unreachable or sealed source Transient ("source_unavailable"). Its errors
// name the bundle they were reading; the Rotator passes them on unwrapped.
type Source interface {
	Fetch(ctx context.Context, ref SourceRef) (Material, error)
}

// Certificate is one entry of a connector's certificateList.
type Certificate struct {
	Thumbprint string // 40 hex characters, compared case-insensitively
	NotBefore  time.Time
	NotAfter   time.Time
	IsActive   bool
}

// ConnectorState is what Graph says an API connector holds.
type ConnectorState struct {
	ID           string
	DisplayName  string
	AuthType     string // "clientCertificate", "basic", or "" when unknown
	TargetURL    string // the API the connector calls; a job's probe calls it too
	Certificates []Certificate
}

// Active returns the certificate marked active, if any.
func (s ConnectorState) Active() (Certificate, bool) {
	for _, c := range s.Certificates {
		if c.IsActive {
			return c, true
		}
	}
	return Certificate{}, false
}

// Has reports whether the list holds the thumbprint (case-insensitive).
// Graph appends on every upload, so a re-uploaded certificate (a rollback)
// is listed more than once: Has prefers the entry that is active.
func (s ConnectorState) Has(thumbprint string) (Certificate, bool) {
	var found Certificate
	ok := false
	for _, c := range s.Certificates {
		if !strings.EqualFold(c.Thumbprint, thumbprint) {
			continue
		}
		if c.IsActive {
			return c, true
		}
		found, ok = c, true
	}
	return found, ok
}

// Connector reads and updates API connectors. Errors are classified with
// Permanent / Transient (see Failure); an unknown connector is Permanent
// with code "Request_ResourceNotFound" or whatever Graph said.
type Connector interface {
	Get(ctx context.Context, tenant, id string) (ConnectorState, error)
	// Upload sends the PFX (raw bytes; the adapter base64-encodes it) and its
	// password ("" for none) and returns the state Graph answered with.
	Upload(ctx context.Context, tenant, id string, pfx []byte, password string) (ConnectorState, error)
}
