package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// A run's events go out in batches without waiting for each ack, yet
// every status is stored, every event published once and in order, and an
// outcome that carries over the former status reads the one written just
// before it.
func TestPublishEventsInBatches(t *testing.T) {
	t.Parallel()
	s, w := connectedWorker(t)
	ctx := context.Background()

	now := time.Date(2026, 12, 8, 4, 0, 0, 0, time.UTC)
	next := &contract.CertInfo{Thumbprint: "NEXT"}
	var events []contract.Event
	// More connectors than one batch holds, each rotated.
	n := publishBatch + 40
	for i := range n {
		o := jobs.Outcome{Job: workertest.JobName, Connector: fmt.Sprintf("conn-%03d", i), RequestID: "r1",
			Status: contract.StatusSucceeded, Final: true, Certificate: next, Previous: &contract.CertInfo{Thumbprint: "OLD"}}
		events = append(events, contract.NewEvent("test-1", o, now))
	}
	// Then conn-000 again, skipped: its status reads the success above.
	again := jobs.Outcome{Job: workertest.JobName, Connector: "conn-000", RequestID: "r2",
		Status: contract.StatusSkipped, Reason: contract.ReasonAlreadyPresent, Final: true, Certificate: next}
	events = append(events, contract.NewEvent("test-1", again, now))

	if err := w.consumer.publishEvents(ctx, events); err != nil {
		t.Fatalf("publishEvents: %v", err)
	}
	for _, i := range []int{0, 1, n - 1} {
		key := contract.StatusKeyOf(events[i].Data)
		e, err := w.bus().status.Get(ctx, key)
		if err != nil {
			t.Fatalf("status %s: %v", key, err)
		}
		var rec contract.StatusRecord
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			t.Fatal(err)
		}
		if rec.LastSuccess == nil || rec.LastSuccess.RequestID != "r1" || rec.Active == nil || rec.Active.Thumbprint != "NEXT" {
			t.Errorf("status %s = %+v, want the success of r1 with NEXT active", key, rec)
		}
		if i == 0 && rec.RequestID != "r2" {
			t.Errorf("status %s is of %s, want the later outcome r2's (carrying r1's success)", key, rec.RequestID)
		}
	}
	st, err := testkit.JetStream(t, connect(t, s)).Stream(ctx, contract.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := info.State.Msgs; got != uint64(len(events)) {
		t.Fatalf("results stream holds %d events, want %d", got, len(events))
	}
	for i, want := range []contract.Event{events[0], events[len(events)-1]} {
		seq := uint64(1)
		if i == 1 {
			seq = uint64(len(events))
		}
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		var got contract.Event
		if err := json.Unmarshal(m.Data, &got); err != nil {
			t.Fatal(err)
		}
		if got.ID != want.ID {
			t.Errorf("event %d is %s, want %s (published in order)", seq, got.ID, want.ID)
		}
	}
	// Published again (a redelivery): the stream keeps one of each.
	if err := w.consumer.publishEvents(ctx, events); err != nil {
		t.Fatalf("publishing again: %v", err)
	}
	if info, err = st.Info(ctx); err != nil || info.State.Msgs != uint64(len(events)) {
		t.Errorf("after publishing again the stream holds %d events (%v), want %d", info.State.Msgs, err, len(events))
	}
}
