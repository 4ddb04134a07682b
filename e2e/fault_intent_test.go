package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// intentKeys is the outcomes bucket's key pattern of upload intents.
const intentKeys = "*.intent.*"

// waitIntent waits until a worker keeps an upload intent in the outcomes
// bucket (provisioned by the worker, so it may not exist yet).
func waitIntent(t *testing.T, nc *nats.Conn) {
	t.Helper()
	js := jetStream(t, nc)
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	var kv jetstream.KeyValue
	var err error
	eventually(t, "the outcomes bucket", func() bool { kv, err = js.KeyValue(ctx, contract.OutcomesBucket); return err == nil })
	w, err := kv.Watch(ctx, intentKeys)
	if err != nil {
		t.Fatalf("watching upload intents: %v", err)
	}
	defer func() { _ = w.Stop() }()
	for {
		select {
		case e := <-w.Updates():
			if e != nil && e.Operation() == jetstream.KeyValuePut {
				return
			}
		case <-ctx.Done():
			t.Fatal("no upload intent kept before the deadline")
		}
	}
}

// TestFaultRecordStoreFailsAfterUpload: the upload succeeds, but keeping its
// outcome (the record kept before publishing) fails, so nothing is
// published and the request is retried. The retry finds the certificate
// active and the first attempt's intent, kept before the upload: one final
// outcome, succeeded/confirmed_on_retry, one upload. Once settled, the
// intent is gone: a confirmation is told once.
func TestFaultRecordStoreFailsAfterUpload(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	b := fs.put(t, "b2c/store", validFor(t, 60*24*time.Hour, "p4ss-store"))
	f := newFleet(t)
	js := jetStream(t, f.nc)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A record (an outcome event) is far larger than an intent: with the
	// bucket's messages capped at 400 bytes the intent is kept, the record
	// is not.
	limit := func(size int32) {
		st, err := js.Stream(ctx, "KV_"+contract.OutcomesBucket)
		if err != nil {
			t.Errorf("reading the outcomes bucket's stream: %v", err)
			return
		}
		cfg := st.CachedInfo().Config
		cfg.MaxMsgSize = size
		if _, err := js.UpdateStream(ctx, cfg); err != nil {
			t.Errorf("capping the outcomes bucket's messages at %d: %v", size, err)
		}
	}
	j := job("b2c/store", connectorIDs[0])
	rot := workertest.Around{Rotator: fs.rotator,
		Before: func(_ context.Context, req jobs.Request) {
			if req.Attempt > 1 {
				limit(-1)
			}
		},
		After: func(_ context.Context, req jobs.Request, out []jobs.Outcome) []jobs.Outcome {
			if req.Attempt == 1 {
				limit(400)
			}
			return out
		}}
	f.start(t, fs.stack, "w-store", j, rot)
	f.publish(t, j.Name, "store-1", `{"job":"contoso-api"}`)
	fin := finals(t, f.ev, "store-1")
	if len(fin) != 1 || fin[0].Status != contract.StatusSucceeded || fin[0].Reason != contract.ReasonConfirmedOnRetry || fin[0].Attempt != 2 {
		t.Fatalf("finals %+v, want one succeeded/%s on attempt 2", fin, contract.ReasonConfirmedOnRetry)
	}
	if !strings.Contains(fs.logs.String(), "keeping the outcome before publishing it, will retry") {
		t.Error("the record store did not fail: the test did not test the fault")
	}
	if got := fs.uploads(connectorIDs[0]); len(got) != 1 || got[0] != b.Thumbprint {
		t.Errorf("uploads %v, want the bundle's once", got)
	}
	kv, err := js.KeyValue(ctx, contract.OutcomesBucket)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the intent dropped once settled", func() bool {
		keys, err := kv.ListKeysFiltered(ctx, intentKeys)
		if err != nil {
			return false
		}
		n := 0
		for range keys.Keys() {
			n++
		}
		return n == 0
	})
}
