package worker

import (
	"context"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// A settled request's record and intents leave nothing in the outcomes
// bucket: KeyValue.Delete left a marker per key for the bucket's TTL, so
// the NATS server's memory grew with every request (the soak's growth).
func TestDroppedRecordLeavesNoMarker(t *testing.T) {
	t.Parallel()
	s, w := connectedWorker(t)
	ctx := context.Background()
	const seq = 7
	if err := w.consumer.storeRecord(ctx, seq, record{}); err != nil {
		t.Fatal(err)
	}
	// The request's intents go in one purge; another request's stay.
	const conn2 = "Connector.With.Dots"
	for _, key := range []string{intentKey(seq, conn1), intentKey(seq, conn2), intentKey(seq+1, conn1), recordKey(seq + 1)} {
		if _, err := w.bus().outcomes.Put(ctx, key, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	w.consumer.dropRecord(ctx, seq, []string{conn1, conn2})
	for _, key := range []string{recordKey(seq), intentKey(seq, conn1), intentKey(seq, conn2)} {
		if _, err := w.bus().outcomes.Get(ctx, key); !errors.Is(err, jetstream.ErrKeyNotFound) {
			t.Errorf("%s after the drop: %v, want not found", key, err)
		}
	}
	for _, key := range []string{intentKey(seq+1, conn1), recordKey(seq + 1)} {
		if _, err := w.bus().outcomes.Get(ctx, key); err != nil {
			t.Errorf("%s of another request after the drop: %v, want it kept", key, err)
		}
	}
	w.consumer.dropRecord(ctx, seq+1, []string{conn1})
	st, err := testkit.JetStream(t, connect(t, s)).Stream(ctx, "KV_"+contract.OutcomesBucket)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 || info.State.NumSubjects != 0 {
		t.Errorf("outcomes bucket holds %d messages on %d subjects after the drop, want none (no delete markers)", info.State.Msgs, info.State.NumSubjects)
	}
}
