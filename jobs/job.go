package jobs

import (
	"strings"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Policy says when a valid, newer bundle is uploaded.
type Policy string

const (
	// PolicyOnChange uploads whenever the bundle differs from what the
	// connector holds and is newer. It is the default.
	PolicyOnChange Policy = "on-change"
	// PolicyBeforeExpiry uploads only when the active certificate is within
	// RenewBefore of its expiry, or when there is no active certificate.
	PolicyBeforeExpiry Policy = "before-expiry"
)

// Defaults applied by config when a job leaves a field out.
const (
	MinValidityDefault = 168 * time.Hour
	MaxAttemptsDefault = contract.MaxAttemptsDefault
	RenewBeforeDefault = 720 * time.Hour
)

// WarnBeforeDefault lists the expiry warning thresholds used when a job sets
// none: 30, 14, 7 and 1 days.
func WarnBeforeDefault() []time.Duration {
	return []time.Duration{720 * time.Hour, 336 * time.Hour, 168 * time.Hour, 24 * time.Hour}
}

// SourceRef locates a job's bundle in Vault KV v2.
type SourceRef struct {
	Mount         string // KV v2 mount, e.g. "secret"
	Path          string // secret path under the mount, e.g. "b2c/contoso-api"
	PFXField      string // field holding the standard base64 of the PFX; "pfx" by default
	PasswordField string // field holding the password; "password" by default; absent or empty means none
	// Version pins the KV version to read; 0 reads the latest. Config never
	// sets it: a request's `version` does, for one run.
	Version int
	// PKI, when set, makes the job issue its own certificate from Vault PKI
	// into this KV path (see Rotator.ensureIssued); nil for a bundle written by others.
	PKI *PKIRef
}

// ConnectorRef binds a job to one API connector of one tenant.
type ConnectorRef struct {
	Tenant string // key into the tenants map of the config
	ID     string // Graph's GUID of the API connector
}

// RenewBefore is the before-expiry window: either a fixed duration or a
// share of the active certificate's lifetime (0 < Fraction < 1). The zero
// value means RenewBeforeDefault.
type RenewBefore struct {
	Duration time.Duration
	Fraction float64
}

// Window returns how long before notAfter the renewal is due for a
// certificate valid from notBefore to notAfter.
func (r RenewBefore) Window(notBefore, notAfter time.Time) time.Duration {
	if r.Fraction > 0 {
		return time.Duration(float64(notAfter.Sub(notBefore)) * r.Fraction)
	}
	if r.Duration > 0 {
		return r.Duration
	}
	return RenewBeforeDefault
}

// Schedule says when a job is due next: the first slot strictly after t.
// A cron library plugs in behind it without leaking into jobs.
type Schedule interface {
	Next(t time.Time) time.Time
}

// Job is one bundle in Vault and the connectors (and key sets) it is uploaded to. Config
// builds Jobs with every default filled in.
type Job struct {
	Name        string
	Source      SourceRef
	Schedule    string        // the cron spec as written; empty for none
	Next        Schedule      // Schedule parsed once by config; nil for none
	Watch       time.Duration // how often the worker polls the KV path's current_version for a new version; 0 for never
	Policy      Policy
	RenewBefore RenewBefore
	MinValidity time.Duration
	WarnBefore  []time.Duration
	MaxAttempts int
	Reencode    bool
	Connectors  []ConnectorRef
	KeySets     []KeySetRef // B2C policy key containers fed the same bundle (see keyset.go)
	Probe       *ProbeSpec  // nil: no probe before an upload (see jobs/probe.go)
	// Windows are the change windows uploads start in; none means always
	// (see gate). EmergencyWithin lets an upload go ahead outside them when
	// the active certificate expires sooner; 0 never does.
	Windows         []Window
	EmergencyWithin time.Duration
}

// KeySet returns the job's binding for the key set id, case-insensitively
// (B2C compares policy key names without case).
func (j Job) KeySet(id string) (KeySetRef, bool) {
	for _, k := range j.KeySets {
		if strings.EqualFold(k.ID, id) {
			return k, true
		}
	}
	return KeySetRef{}, false
}

// Connector returns the job's binding for the connector id, case-insensitively.
func (j Job) Connector(id string) (ConnectorRef, bool) {
	for _, c := range j.Connectors {
		if strings.EqualFold(c.ID, id) {
			return c, true
		}
	}
	return ConnectorRef{}, false
}

// LargestMaxAttempts is the largest max_attempts of jj, each defaulted
// (MaxAttemptsDefault when jj is empty): the requests consumer's
// MaxDeliver, which the worker provisions and `doctor` checks.
func LargestMaxAttempts(jj []Job) int {
	n := MaxAttemptsDefault
	if len(jj) > 0 {
		n = 1
	}
	for _, j := range jj {
		a := j.MaxAttempts
		if a <= 0 {
			a = MaxAttemptsDefault
		}
		n = max(n, a)
	}
	return n
}
