package jobs

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/certrotator/certrotator/contract"
)

// memIntents keeps one request's intents in memory, as the worker keeps
// them in NATS; fail makes Record fail.
type memIntents struct {
	mu   sync.Mutex
	byID map[string]Intent
	fail error
}

func (m *memIntents) Record(_ context.Context, in Intent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if m.byID == nil {
		m.byID = map[string]Intent{}
	}
	m.byID[strings.ToLower(in.Connector)] = in
	return nil
}

func (m *memIntents) Recorded(_ context.Context, connector string) (Intent, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	in, ok := m.byID[strings.ToLower(connector)]
	return in, ok, nil
}

// TestRetryConfirmsUnclearUpload: the first attempt's upload is applied but
// its answer lost. The retry finds the certificate active and the intent the
// first attempt recorded before sending: succeeded, confirmed_on_retry, with
// the certificate that was active before the upload as previous. Without
// the intent (another request) the same state is already_present.
func TestRetryConfirmsUnclearUpload(t *testing.T) {
	t.Parallel()
	b := validBundle(t)
	g := newGraph()
	older := cert("older", testNow.Add(-30*day), testNow.Add(30*day))
	g.seed(conn1, older)
	intents := &memIntents{}
	conn := g.connector()
	lost := true
	conn.UploadFunc = func(ctx context.Context, tenant, id string, pfx []byte, password string) (ConnectorState, error) {
		if in, ok, _ := intents.Recorded(ctx, id); !ok || !strings.EqualFold(in.Thumbprint, b.Thumbprint) || in.Attempt != 1 || in.RequestID != "r1" {
			t.Errorf("upload sent before its intent was recorded (recorded %+v)", in)
		}
		st, err := g.upload(ctx, tenant, id, pfx, password)
		if lost {
			lost = false
			return ConnectorState{}, Transient("upload_outcome_unknown", errors.New("the connection closed before Graph answered"))
		}
		return st, err
	}
	r := newTestRotator(t, sourceOf(materialOf(b, 1)), conn, nil)
	ctx := WithIntents(context.Background(), intents)
	first := r.Rotate(ctx, testJob(1), Request{ID: "r1", Attempt: 1})
	if first[0].Status != contract.StatusFailed || first[0].Error.Class != ClassTransient {
		t.Fatalf("first attempt = %s %+v, want a transient failure", first[0].Status, first[0].Error)
	}
	second := r.Rotate(ctx, testJob(1), Request{ID: "r1", Attempt: 2})
	o := second[0]
	if o.Status != contract.StatusSucceeded || o.Reason != contract.ReasonConfirmedOnRetry || !o.Final {
		t.Fatalf("retry = %s/%s final=%v, want succeeded/%s", o.Status, o.Reason, o.Final, contract.ReasonConfirmedOnRetry)
	}
	if o.Previous == nil || !strings.EqualFold(o.Previous.Thumbprint, older.Thumbprint) {
		t.Errorf("previous = %+v, want the certificate active before the upload (%s)", o.Previous, older.Thumbprint)
	}
	if _, uploads := g.counts(conn1); uploads != 1 {
		t.Errorf("uploads = %d, want 1", uploads)
	}
	other := r.Rotate(WithIntents(context.Background(), &memIntents{}), testJob(1), Request{ID: "r2", Attempt: 2})
	if other[0].Status != contract.StatusSkipped || other[0].Reason != contract.ReasonAlreadyPresent {
		t.Errorf("another request = %s/%s, want skipped/%s", other[0].Status, other[0].Reason, contract.ReasonAlreadyPresent)
	}
}

// TestNoUploadWithoutRecordedIntent: when the intent cannot be recorded,
// nothing is sent and the attempt fails transiently.
func TestNoUploadWithoutRecordedIntent(t *testing.T) {
	t.Parallel()
	b := validBundle(t)
	g := newGraph()
	g.seed(conn1, cert("older", testNow.Add(-30*day), testNow.Add(30*day)))
	r := newTestRotator(t, sourceOf(materialOf(b, 1)), g.connector(), nil)
	ctx := WithIntents(context.Background(), &memIntents{fail: errors.New("nats: timeout")})
	out := r.Rotate(ctx, testJob(1), Request{ID: "r1", Attempt: 1})
	if out[0].Status != contract.StatusFailed || out[0].Error == nil || out[0].Error.Code != CodeIntentNotRecorded || out[0].Error.Class != ClassTransient {
		t.Fatalf("outcome = %s %+v, want a transient %s", out[0].Status, out[0].Error, CodeIntentNotRecorded)
	}
	if _, uploads := g.counts(conn1); uploads != 0 {
		t.Errorf("uploads = %d, want none", uploads)
	}
}
