package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// CodeIntentNotRecorded is the error code of an upload not sent because its
// intent could not be recorded first (see Intents): the request is retried.
const CodeIntentNotRecorded = "intent_not_recorded"

// Intent is an upload about to be sent: which attempt of which request
// sends which certificate to which connector, and what was active there
// before. It holds no key material.
type Intent struct {
	RequestID  string    `json:"request_id"`
	Attempt    int       `json:"attempt"`
	Tenant     string    `json:"tenant"`
	Connector  string    `json:"connector"`
	Thumbprint string    `json:"thumbprint"`
	Previous   *CertInfo `json:"previous,omitempty"`
}

// Intents keeps the upload intents of one request where its later attempts
// find them, durably (the worker keeps them in NATS). An upload whose end
// is unclear (its answer lost, the process killed after Graph applied it,
// the outcome not stored) leaves the connector on the bundle with no
// outcome; the retry then finds the thumbprint active. With the intent
// recorded it can tell that this request made the rotation and report it
// succeeded, instead of skipped/already_present.
type Intents interface {
	// Record keeps in before its upload is sent. An error stops the upload:
	// an upload without a recorded intent could end unclear and unknowable.
	Record(ctx context.Context, in Intent) error
	// Recorded returns the intent an attempt of this request recorded for
	// the connector, if any.
	Recorded(ctx context.Context, connector string) (Intent, bool, error)
}

type intentsKey struct{}

// WithIntents returns a context whose uploads record their intent in in
// before they are sent, and whose retries look there before they report a
// certificate already present.
func WithIntents(ctx context.Context, in Intents) context.Context {
	return context.WithValue(ctx, intentsKey{}, in)
}

func intentsOf(ctx context.Context) Intents {
	in, _ := ctx.Value(intentsKey{}).(Intents)
	return in
}

// recordIntent records the upload about to be sent, when the context
// carries Intents.
func (r *Rotator) recordIntent(ctx context.Context, rn *run, ref ConnectorRef, thumbprint string, active *Certificate) error {
	in := intentsOf(ctx)
	if in == nil {
		return nil
	}
	err := in.Record(ctx, Intent{
		RequestID: rn.req.ID, Attempt: rn.req.Attempt, Tenant: ref.Tenant, Connector: ref.ID,
		Thumbprint: strings.ToUpper(thumbprint), Previous: activeInfo(active),
	})
	if err != nil {
		return Transient(CodeIntentNotRecorded, fmt.Errorf("recording the upload to connector %s before sending it: %w", ref.ID, err))
	}
	return nil
}

// confirmed reports whether an earlier attempt of this request recorded the
// intent to upload thumbprint to the connector, which now holds it: that
// attempt's upload was applied although its end was unclear. Only a retry
// asks; a failed look-up counts as no (the connector is reported as found,
// which is true, only less precise).
func (r *Rotator) confirmed(ctx context.Context, rn *run, ref ConnectorRef, thumbprint string) (Intent, bool) {
	in := intentsOf(ctx)
	if in == nil || rn.req.Attempt <= 1 {
		return Intent{}, false
	}
	got, ok, err := in.Recorded(ctx, ref.ID)
	if err != nil {
		r.log.WarnContext(ctx, "looking up the upload intent of an earlier attempt", "job", rn.job.Name,
			"connector", ref.ID, "request_id", rn.req.ID, "error", err)
		return Intent{}, false
	}
	if !ok || !strings.EqualFold(got.Thumbprint, thumbprint) || got.RequestID != rn.req.ID || got.Attempt >= rn.req.Attempt {
		return Intent{}, false
	}
	return got, true
}

// present reports whether the connector holds the candidate as rule 2
// counts it: listed and active, or listed and staged.
func present(st ConnectorState, c candidate, now time.Time) bool {
	got, ok := st.Has(c.Thumbprint)
	return ok && (got.IsActive || c.NotBefore.After(now))
}
