package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
)

// Kinds of the worker's own credentials, the kind label of
// certrotator_credential_expiry_timestamp_seconds.
const (
	CredentialClientSecret      = "entra_client_secret"
	CredentialClientCertificate = "entra_client_certificate"
	CredentialVaultSecretID     = "vault_approle_secret_id"
)

// CredentialExpiringType is the CloudEvent type of a warning that one of
// the worker's own credentials expires soon (contract.CredentialSubject
// says where it is published).
const CredentialExpiringType = contract.TypeCredentialExpiring

// CredentialJob is the job of a credential warning (contract.CredentialJob).
const CredentialJob = contract.CredentialJob

// CredentialCheckDefault is how often the worker reads its credentials'
// expiry when Config.CredentialCheck is zero.
const CredentialCheckDefault = time.Hour

// Credential is one of the worker's own credentials whose expiry can be
// known: an Entra client certificate (its file's notAfter), a client secret
// (its end date from the config), the Vault AppRole secret id (Vault's
// lookup). cmd builds the list from the config.
type Credential struct {
	Kind   string // one of the Credential* kinds
	Tenant string // the config's tenant key; "" for Vault's
	// Expiry returns when the credential stops working, or the zero time
	// when it never does. It is called at start and then every
	// CredentialCheck; its errors must hold no secret.
	Expiry func(ctx context.Context) (time.Time, error)
}

// CredentialState is what the last check of one credential found, for the
// status page and `doctor`.
type CredentialState struct {
	Kind     string    `json:"kind"`
	Tenant   string    `json:"tenant,omitempty"`
	Expires  time.Time `json:"expires,omitzero"` // zero: never, or not known (Error)
	Never    bool      `json:"never,omitempty"`
	Error    string    `json:"error,omitempty"`
	Checked  time.Time `json:"checked"`
	DaysLeft int       `json:"days_left"` // at Checked; meaningful with Expires only
}

// credentialWatch is the service that reads the worker's own credentials'
// expiry, exports it, and warns once per threshold (30, 14, 7 and 1 days,
// as a job's certificates) through the warnings bucket, so that every
// replica together announces each threshold of each credential once.
type credentialWatch struct {
	startstop.Base
	*shared
	creds      []Credential
	every      time.Duration
	thresholds []time.Duration

	mu     sync.Mutex // serialises runOnce between the loop and tests
	states []CredentialState
}

// Start launches the loop, whose first check happens at once in it.
func (c *credentialWatch) Start(ctx context.Context) error {
	runCtx, ok, stopped := c.StartInit(ctx)
	if !ok {
		return nil
	}
	if len(c.creds) == 0 {
		stopped()
		return nil
	}
	if c.bus() == nil {
		stopped()
		return errNotConnected
	}
	go func() {
		defer stopped()
		for {
			c.runOnce(runCtx)
			if retry.Sleep(runCtx, c.tune.clock, c.every) != nil {
				return
			}
		}
	}()
	return nil
}

// Credentials returns what the last check of each of the worker's own
// credentials found, in config order; none before the first check.
func (w *Worker) Credentials() []CredentialState {
	w.creds.mu.Lock()
	defer w.creds.mu.Unlock()
	return slices.Clone(w.creds.states)
}

// runOnce reads every credential's expiry, exports it and publishes the
// warnings due. A failed read is logged and shown; the gauge then keeps
// no value for it rather than a stale one.
func (c *credentialWatch) runOnce(ctx context.Context) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	states := make([]CredentialState, 0, len(c.creds))
	for _, cr := range c.creds {
		st := CredentialState{Kind: cr.Kind, Tenant: cr.Tenant, Checked: now}
		rctx, cancel := context.WithTimeout(ctx, c.tune.opTimeout)
		at, err := cr.Expiry(rctx)
		cancel()
		gauge := c.metrics.credentialExpiry
		switch {
		case err != nil:
			st.Error = err.Error()
			gauge.DeleteLabelValues(cr.Kind, cr.Tenant)
			if ctx.Err() == nil {
				c.log.Warn("reading the expiry of the worker's own credential", "kind", cr.Kind, "tenant", cr.Tenant, "error", err)
			}
		case at.IsZero():
			st.Never = true
			gauge.DeleteLabelValues(cr.Kind, cr.Tenant)
		default:
			st.Expires, st.DaysLeft = at, daysUntil(at, now)
			gauge.WithLabelValues(cr.Kind, cr.Tenant).Set(float64(at.Unix()))
			if err := c.warn(ctx, cr, at, now); err != nil && ctx.Err() == nil {
				c.log.Warn("publishing a credential expiry warning", "kind", cr.Kind, "tenant", cr.Tenant, "error", err)
			}
		}
		states = append(states, st)
	}
	c.states = states
}

// warn publishes the warning of the smallest threshold at crosses, unless
// a replica already did for this credential's expiry and threshold.
func (c *credentialWatch) warn(ctx context.Context, cr Credential, at, now time.Time) error {
	threshold, ok := smallestCrossed(at.Sub(now), c.thresholds)
	if !ok {
		return nil
	}
	b := c.bus()
	if b == nil {
		return errNotConnected
	}
	label := jobs.FormatThreshold(threshold)
	key := contract.CredentialKey(cr.Kind, cr.Tenant, at, label)
	ctx, cancel := context.WithTimeout(ctx, c.tune.opTimeout)
	defer cancel()
	seen := &Warnings{kv: b.warnings}
	first, err := seen.First(ctx, key)
	if err != nil || !first {
		return err
	}
	ev := credentialEvent(c.instance, cr, at, now, label)
	ev.ID = uuid.NewSHA1(uuid.NameSpaceURL, []byte(key)).String() // the same on every replica: the stream keeps one
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding credential warning: %w", err)
	}
	msg := &nats.Msg{Subject: contract.CredentialSubject(c.prefix, cr.Kind), Data: body, Header: nats.Header{}}
	msg.Header.Set("Content-Type", contract.EventContentType)
	if _, err := b.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("publishing credential warning on %s: %w", msg.Subject, err)
	}
	c.log.Warn("the worker's own credential expires soon", "kind", cr.Kind, "tenant", cr.Tenant,
		"expires", at.UTC().Format(time.RFC3339), "threshold", label)
	return nil
}

// credentialEvent is the CloudEvent of a credential warning: an expiring
// outcome of job CredentialJob for the tenant, whose reason says what
// expires when and whose certificate holds the end date.
func credentialEvent(instance string, cr Credential, at, now time.Time, label string) contract.Event {
	what := cr.Kind
	if cr.Tenant != "" {
		what += " of tenant " + cr.Tenant
	}
	o := jobs.Outcome{
		Job: CredentialJob, Tenant: cr.Tenant, Status: jobs.StatusExpiring, Final: true,
		Reason:      fmt.Sprintf("the worker's own %s expires at %s: renew it before then", what, at.UTC().Format(time.RFC3339)),
		Certificate: &jobs.CertInfo{NotAfter: at.UTC()},
		DaysLeft:    daysUntil(at, now), Threshold: label,
	}
	ev := contract.NewEvent(instance, o, now)
	ev.Type = CredentialExpiringType
	ev.Subject = CredentialJob + "/" + cr.Kind + "/" + contract.ConnectorToken(cr.Tenant)
	return ev
}

// smallestCrossed returns the smallest threshold that left is within.
func smallestCrossed(left time.Duration, thresholds []time.Duration) (time.Duration, bool) {
	var best time.Duration
	found := false
	for _, t := range thresholds {
		if left <= t && (!found || t < best) {
			best, found = t, true
		}
	}
	return best, found
}

// daysUntil is the whole days from now to at, rounded down.
func daysUntil(at, now time.Time) int {
	d := at.Sub(now)
	days := int(d / (24 * time.Hour))
	if d < 0 && d%(24*time.Hour) != 0 {
		days--
	}
	return days
}
