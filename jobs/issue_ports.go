package jobs

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// ErrWriteConflict is wrapped by a Writer's error when the check-and-set
// failed: a version after the one read exists. That alone does not prove
// the run lost: the version may be the run's own, written by a request
// whose answer was lost. The run settles it by reading (see settleWrite).
var ErrWriteConflict = errors.New("jobs: another version was written first")

// ErrWriteUnclear is wrapped by a Writer's error when the write's answer
// was lost (a cut connection, a timeout, a 5xx from Vault or a proxy): the
// version may or may not have been written. The run settles it by reading.
var ErrWriteUnclear = errors.New("jobs: the write's answer was lost")

// PKIRef says how a job's certificate is issued from Vault PKI: the
// `source.pki` config section. Config fills its defaults.
type PKIRef struct {
	Mount      string        // PKI mount, e.g. "pki"
	Role       string        // the role issuing the certificate
	CommonName string        // the leaf's CN
	AltNames   []string      // DNS subject alternative names; the CN is added by Vault
	TTL        time.Duration // requested lifetime; 0 for the role's default
	// KeyType and KeyBits are what the job expects the role to generate
	// ("rsa" 2048, "ec" 256...): Vault's issue endpoint takes the key kind
	// from the role, so a certificate with another key is revoked and
	// refused rather than rolled out. Empty and 0 accept the role's choice.
	KeyType string
	KeyBits int
}

// Issued is a certificate fresh from the CA, in PEM. Its key exists only in
// memory until it is written to KV; it implements slog.LogValuer and
// carries json:"-" so that it is never logged or encoded.
type Issued struct {
	CertificatePEM string   // the leaf
	ChainPEM       []string // the issuing CA first, then up to the root
	PrivateKeyPEM  string   `json:"-"`
	Serial         string   // colon-separated hex, as Vault writes it; used to revoke
}

// LogValue shows the serial only.
func (i Issued) LogValue() slog.Value {
	return slog.GroupValue(slog.String("serial", i.Serial), slog.String("private_key", "REDACTED"))
}

// Issuer issues and revokes certificates. Issue's errors are classified: a
// refused role or name Permanent ("source_denied", "source_rejected"), an
// unreachable CA Transient ("source_unavailable"). Revoke revokes iss by
// presenting its certificate and private key (Vault's pki/revoke-with-key),
// so that the policy need not allow revoking any serial of the mount; a
// certificate already revoked succeeds.
type Issuer interface {
	Issue(ctx context.Context, ref PKIRef) (Issued, error)
	Revoke(ctx context.Context, mount string, iss Issued) error
}

// NewVersion is a bundle to write as a new KV version, with the facts about
// its certificate that history shows without reading the secret.
type NewVersion struct {
	Material           // PFX and password; Version is ignored
	Serial   string    // the certificate's serial, colon-separated hex
	NotAfter time.Time // the leaf's notAfter
	Issuer   string    // the leaf's issuer DN
	// Thumbprint is the leaf's, upper-case hex: what settling a write
	// compares with the version read back. It is not written.
	Thumbprint string
}

// Writer writes a job's bundle as a new version with check-and-set: cas is
// the version the writer read (0: the path must hold no version). Write
// sends the write once and never retries it: a retried write that Vault had
// applied comes back as a conflict with the run's own version. A refused
// check-and-set wraps ErrWriteConflict, a lost answer ErrWriteUnclear (both
// Transient); a refusal (403, 400) is a Failure as Source's, and means
// nothing was written. It returns the version written. Write must not keep
// v.PFX: the caller clears it afterwards.
type Writer interface {
	Write(ctx context.Context, ref SourceRef, cas int, v NewVersion) (int, error)
}

// VersionInfo is one KV version as the metadata describes it.
type VersionInfo struct {
	Version   int
	Created   time.Time
	Deleted   time.Time // zero unless deleted (soft; undelete brings it back)
	Destroyed bool
	// Serial, NotAfter and Issuer are set for versions certrotator issued
	// (from the path's custom metadata); zero for versions written by others.
	Serial   string
	NotAfter time.Time
	Issuer   string
	// RolledBackFrom is the version whose data `certrotator rollback`
	// wrote as this one (0 for any other version), and RolledBackBy who
	// asked, both from the path's custom metadata.
	RolledBackFrom int
	RolledBackBy   string
}

// Live reports whether the version still holds its data at now: not
// destroyed, and not deleted (a deletion time may lie in the future when
// the path sets delete_version_after).
func (v VersionInfo) Live(now time.Time) bool {
	return !v.Destroyed && (v.Deleted.IsZero() || v.Deleted.After(now))
}

// History is a KV path's metadata: what `watch` polls and `history` joins
// outcomes with. It never holds secret data.
type History struct {
	Current  int           // current_version; 0 when the path was never written
	Versions []VersionInfo // newest first; Vault keeps max_versions of them
}

// Version returns the info of version n, if Vault still keeps it.
func (h History) Version(n int) (VersionInfo, bool) {
	for _, v := range h.Versions {
		if v.Version == n {
			return v, true
		}
	}
	return VersionInfo{}, false
}

// VersionLister reads a KV path's metadata without its data. A path never
// written returns a zero History and no error; other errors as Source's.
type VersionLister interface {
	Versions(ctx context.Context, ref SourceRef) (History, error)
}
