// Package credwatch owns the watch of the worker's own credentials (its
// Entra client certificates and secrets, its Vault AppRole secret id): it
// reads their expiry, exports it, and warns once per threshold across the
// replicas, as for a job's certificates.
package credwatch

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker/warnings"
)

// Kinds of the worker's own credentials, the kind label of
// certrotator_credential_expiry_timestamp_seconds.
const (
	ClientSecret      = "entra_client_secret"
	ClientCertificate = "entra_client_certificate"
	VaultSecretID     = "vault_approle_secret_id"
)

// CheckDefault is how often the worker reads its credentials' expiry when
// none is configured.
const CheckDefault = time.Hour

// Credential is one of the worker's own credentials whose expiry can be
// known: an Entra client certificate (its file's notAfter), a client secret
// (its end date from the config), the Vault AppRole secret id (Vault's
// lookup). cmd builds the list from the config.
type Credential struct {
	Kind   string // one of the kinds above
	Tenant string // the config's tenant key; "" for Vault's
	// Expiry returns when the credential stops working, or the zero time
	// when it never does. It is called at start and then every
	// CredentialCheck; its errors must hold no secret.
	Expiry func(ctx context.Context) (time.Time, error)
}

// State is what the last check of one credential found, for the
// status page and `doctor`.
type State struct {
	Kind     string    `json:"kind"`
	Tenant   string    `json:"tenant,omitempty"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never, or not known (Error)
	Never    bool      `json:"never,omitempty"`
	Error    string    `json:"error,omitempty"`
	Checked  time.Time `json:"checked"`
	DaysLeft int       `json:"days_left"` // at Checked; meaningful with Expires only
}

// Watch is the service that reads the worker's own credentials'
// expiry, exports it, and warns once per threshold (30, 14, 7 and 1 days,
// as a job's certificates) through the warnings bucket, so that every
// replica together announces each threshold of each credential once.
type Watch struct {
	startstop.Base
	baseservice.BaseService
	o Options
	// OpTimeout bounds one read and one publish.
	OpTimeout time.Duration

	mu     sync.Mutex // serialises runOnce between the loop and tests
	states []State
}

// Options are what a Watch needs.
type Options struct {
	Instance, Prefix string // of the warnings' events and subjects
	Credentials      []Credential
	Every            time.Duration        // the period of the checks; 0 is CheckDefault
	Thresholds       []time.Duration      // the warnings' thresholds
	Gauge            *prometheus.GaugeVec // certrotator_credential_expiry_timestamp_seconds{kind,tenant}
	// JetStream publishes the warnings; Seen remembers those published
	// (nil until the worker provisioned the warnings bucket).
	JetStream jetstream.JetStream
	Seen      func() jobs.Warnings
}

// New returns a Watch of o's credentials.
func New(a *baseservice.Archetype, o Options) *Watch {
	if o.Every <= 0 {
		o.Every = CheckDefault
	}
	c := &Watch{o: o, OpTimeout: 10 * time.Second}
	c.Init(a)
	return c
}

// Thresholds are the thresholds at which the watch warns.
func (c *Watch) Thresholds() []time.Duration { return c.o.Thresholds }

// Start launches the loop, whose first check happens at once in it.
func (c *Watch) Start(ctx context.Context) error {
	return c.Launch(ctx, func(runCtx context.Context) (func(), error) {
		switch {
		case len(c.o.Credentials) == 0:
			return nil, nil
		case c.o.JetStream == nil || c.o.Seen() == nil:
			return nil, baseservice.ErrNotConnected
		}
		return func() {
			c.Repeat(runCtx, func(ctx context.Context) time.Duration { c.RunOnce(ctx); return c.o.Every })
		}, nil
	})
}

// States returns what the last check of each credential found, in config
// order; none before the first check.
func (c *Watch) States() []State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.states)
}

// RunOnce reads every credential's expiry, exports it and publishes the
// warnings due. A failed read is logged and shown; the gauge then keeps
// no value for it rather than a stale one.
func (c *Watch) RunOnce(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.Now()
	states := make([]State, 0, len(c.o.Credentials))
	for _, cr := range c.o.Credentials {
		st := State{Kind: cr.Kind, Tenant: cr.Tenant, Checked: now}
		rctx, cancel := context.WithTimeout(ctx, c.OpTimeout)
		at, err := cr.Expiry(rctx)
		cancel()
		gauge := c.o.Gauge
		switch {
		case err != nil:
			st.Error = err.Error()
			gauge.DeleteLabelValues(cr.Kind, cr.Tenant)
			if ctx.Err() == nil {
				c.Logger().Warn("reading the expiry of the worker's own credential", "kind", cr.Kind, "tenant", cr.Tenant, "error", err)
			}
		case at.IsZero():
			st.Never = true
			gauge.DeleteLabelValues(cr.Kind, cr.Tenant)
		default:
			st.Expires, st.DaysLeft = at, jobs.DaysLeft(at.Sub(now))
			gauge.WithLabelValues(cr.Kind, cr.Tenant).Set(float64(at.Unix()))
			if err := c.warn(ctx, cr, at, now); err != nil && ctx.Err() == nil {
				c.Logger().Warn("publishing a credential expiry warning", "kind", cr.Kind, "tenant", cr.Tenant, "error", err)
			}
		}
		states = append(states, st)
	}
	c.states = states
}

// warn publishes the warning of the smallest threshold at crosses, unless
// a replica already did for this credential's expiry and threshold.
func (c *Watch) warn(ctx context.Context, cr Credential, at, now time.Time) error {
	threshold, ok := jobs.Crossed(at.Sub(now), c.o.Thresholds)
	if !ok {
		return nil
	}
	label := jobs.FormatThreshold(threshold)
	ctx, cancel := context.WithTimeout(ctx, c.OpTimeout)
	defer cancel()
	published, err := warnings.Announce(ctx, c.o.JetStream, c.o.Seen(), contract.CredentialKey(cr.Kind, cr.Tenant, at, label),
		contract.CredentialSubject(c.o.Prefix, cr.Kind), credentialEvent(c.o.Instance, cr, at, now, label))
	if published {
		c.Logger().Warn("the worker's own credential expires soon", "kind", cr.Kind, "tenant", cr.Tenant,
			"expires", at.UTC().Format(time.RFC3339), "threshold", label)
	}
	return err
}

// credentialEvent is the CloudEvent of a credential warning: an expiring
// outcome of job contract.CredentialJob for the tenant, whose reason says what
// expires when and whose certificate holds the end date.
func credentialEvent(instance string, cr Credential, at, now time.Time, label string) contract.Event {
	what := cr.Kind
	if cr.Tenant != "" {
		what += " of tenant " + cr.Tenant
	}
	o := jobs.Outcome{
		Job: contract.CredentialJob, Tenant: cr.Tenant, Status: contract.StatusExpiring, Final: true,
		Reason:      fmt.Sprintf("the worker's own %s expires at %s: renew it before then", what, at.UTC().Format(time.RFC3339)),
		Certificate: &jobs.CertInfo{NotAfter: at.UTC()},
		DaysLeft:    jobs.DaysLeft(at.Sub(now)), Threshold: label,
	}
	ev := contract.NewEvent(instance, o, now)
	ev.Type = contract.TypeCredentialExpiring
	ev.Subject = contract.CredentialJob + "/" + cr.Kind + "/" + contract.ConnectorToken(cr.Tenant)
	return ev
}
