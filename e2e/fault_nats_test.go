package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
)

// eventually polls cond until it holds, failing with what at the deadline:
// for state that announces nothing (Graph's lists, a stream, the logs).
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	workertest.EventuallyWithin(t, eventTimeout, what, cond)
}

// storedEvents reads every outcome event of the request kept in the
// results stream.
func storedEvents(t *testing.T, js jetstream.JetStream, requestID string) []contract.Event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	st, err := js.Stream(ctx, contract.ResultsStream)
	if err != nil {
		t.Fatalf("opening the results stream: %v", err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		t.Fatalf("reading the results stream: %v", err)
	}
	var out []contract.Event
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := st.GetMsg(ctx, seq)
		if err != nil {
			continue
		}
		var ev contract.Event
		if json.Unmarshal(m.Data, &ev) == nil && ev.Data.RequestID == requestID {
			out = append(out, ev)
		}
	}
	return out
}

// TestFaultResultsStreamFull: the results stream is full (max_msgs with
// discard new), so publishing the outcome of an applied upload fails. The
// worker keeps the outcome it produced and publishes that one once the
// stream has room, instead of re-running and reporting already_present:
// the stream ends with one event for the request, succeeded, and Graph saw
// one upload.
func TestFaultResultsStreamFull(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	fs.put(t, "b2c/full", validFor(t, 60*24*time.Hour, "p4ss-full"))
	f := newFleet(t)
	js := jetStream(t, f.nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	full := jetstream.StreamConfig{
		Name: contract.ResultsStream, Subjects: []string{"certrotation.result.>"}, Retention: jetstream.LimitsPolicy,
		MaxMsgs: 1, Discard: jetstream.DiscardNew, Storage: jetstream.FileStorage, Duplicates: contract.DuplicateWindow,
		MaxAge: contract.ResultsMaxAge,
	}
	if _, err := js.CreateStream(ctx, full); err != nil {
		t.Fatalf("creating a small results stream: %v", err)
	}
	if _, err := js.Publish(ctx, "certrotation.result.filler._", []byte(`{}`)); err != nil {
		t.Fatalf("filling the results stream: %v", err)
	}
	j := job("b2c/full", connectorIDs[0])
	f.start(t, fs.stack, "w-full", j, nil)
	f.publish(t, j.Name, "full-1", `{"job":"contoso-api"}`)
	eventually(t, "the upload", func() bool { return len(fs.uploads(connectorIDs[0])) == 1 })
	eventually(t, "a failed publish", func() bool { return strings.Contains(fs.logs.String(), "publishing outcomes, will retry") })
	if got := storedEvents(t, js, "full-1"); len(got) != 0 {
		t.Fatalf("%d events stored in a full stream", len(got))
	}

	full.MaxMsgs = -1
	if _, err := js.UpdateStream(ctx, full); err != nil {
		t.Fatalf("making room in the results stream: %v", err)
	}
	fin := finalsWithin(t, f.ev, "full-1", 2*contract.LockTTL)
	for _, o := range fin {
		if o.Status != contract.StatusSucceeded {
			t.Errorf("final outcome %s/%s on attempt %d after the stream had room, want succeeded (the true outcome)", o.Status, o.Reason, o.Attempt)
		}
	}
	var stored []contract.Event
	eventually(t, "the stored outcome", func() bool { stored = storedEvents(t, js, "full-1"); return len(stored) > 0 })
	if len(stored) != 1 || stored[0].Data.Status != contract.StatusSucceeded || !stored[0].Data.Final {
		t.Errorf("stored events %+v, want exactly one final succeeded", stored)
	}
	for _, ev := range f.ev.Of("full-1") {
		if ev.Data.Status != contract.StatusSucceeded {
			t.Errorf("an event says %s/%s: the request's outcome changed", ev.Data.Status, ev.Data.Reason)
		}
	}
	if got := fs.uploads(connectorIDs[0]); len(got) != 1 {
		t.Errorf("uploads %v, want one", got)
	}
}
