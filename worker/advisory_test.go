package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// TestMaxDeliveriesGetsFinalOutcome plays a worker that crashed on the last
// delivery: a plain client takes the request and naks it with MaxDeliver 1.
// The next worker to pull triggers the advisory and answers it.
func TestMaxDeliveriesGetsFinalOutcome(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	app := testApp()
	app.Jobs[0].MaxAttempts = 1
	first := r.start(t, app, workertest.NewRecorder(nil))
	if err := first.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	r.Request(t, jobName, workertest.RequestBody(conn1), "crash-1")
	ctx := context.Background()
	cons, err := r.JS.Consumer(ctx, contract.RequestsStream, contract.ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.Fetch(1, jetstream.FetchMaxWait(waitTimeout))
	if err != nil {
		t.Fatal(err)
	}
	for m := range batch.Messages() {
		if err := m.Nak(); err != nil {
			t.Fatal(err)
		}
	}
	events := r.Outcomes(t)
	rot := workertest.NewRecorder(nil)
	second := r.start(t, app, rot, func(w *Worker) { w.advisory.signals.answered.Init(t) })
	ev, subj := events.Next(t)
	d := ev.Data
	if subj != "certrotation.result."+jobName+"."+conn1 || d.RequestID != "crash-1" || d.Status != contract.StatusFailed ||
		d.Error == nil || d.Error.Code != CodeMaxDeliveries || !d.Final || d.Tenant != "contoso" {
		t.Errorf("event on %s = %+v", subj, d)
	}
	second.advisory.signals.answered.WaitOrTimeout(t)
	if info, err := second.bus().requests.Info(ctx); err != nil || info.State.Msgs != 0 {
		t.Errorf("request not deleted after the answer: %v", err)
	}
	rot.NoMoreCalls(t)
}

// TestMaxDeliveriesAnsweredOnce hands the same advisory to two replicas at
// once (as a redelivery after a slow answer would): the results stream keeps
// one outcome per connector, and the request is gone.
func TestMaxDeliveriesAnsweredOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	a := provisioned(t, connect(t, r.Server))
	b := provisioned(t, connect(t, r.Server))
	ack := r.Request(t, jobName, workertest.RequestBody(), "twice-1")
	events := r.Outcomes(t)
	body := []byte(`{"stream_seq":` + strconv.FormatUint(ack.Sequence, 10) + `,"deliveries":8}`)
	var wg sync.WaitGroup
	for _, w := range []*Worker{a, b} {
		wg.Go(func() {
			if err := w.advisory.runOnce(context.Background(), body); err != nil {
				t.Errorf("answering advisory: %v", err)
			}
		})
	}
	wg.Wait()
	res, err := r.JS.Stream(context.Background(), contract.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := res.Info(context.Background()); err != nil || info.State.Msgs != 2 {
		t.Fatalf("results stream holds %+v (%v), want one outcome per connector (2)", info.State, err)
	}
	for range 2 {
		if ev, _ := events.Next(t); ev.Data.Error.Code != CodeMaxDeliveries || ev.Data.Attempt != 8 || !ev.Data.Final {
			t.Errorf("event = %+v", ev.Data)
		}
	}
	if _, err := a.bus().requests.GetMsg(context.Background(), ack.Sequence); !errors.Is(err, jetstream.ErrMsgNotFound) {
		t.Errorf("request still in the stream: %v", err)
	}
}

// provisioned is a worker whose connection service runs (streams and
// buckets bound) and no other: enough to drive its services directly.
func provisioned(t *testing.T, nc *nats.Conn) *Worker {
	t.Helper()
	w := newWorker(t, nc, testApp(), workertest.NewRecorder(nil))
	if err := w.conn.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.conn.Stop(context.Background()) })
	return w
}

// TestMaxDeliveriesKeepsFinishedOutcomes: the first delivery finished one
// connector (its succeeded outcome kept and published) and the other failed
// transiently; the last delivery crashed. The max-deliveries answer tells
// the kept outcome again with its own event id and fails only the other
// connector: the finished one's status stays succeeded.
func TestMaxDeliveriesKeepsFinishedOutcomes(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	app := testApp()
	app.Jobs[0].MaxAttempts = 2 // MaxDeliver 2
	first := newWorker(t, connect(t, r.Server), app, workertest.NewRecorder(nil))
	if err := first.conn.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = first.conn.Stop(context.Background()) })
	ack := r.Request(t, jobName, workertest.RequestBody(), "crash-2")
	ctx := context.Background()
	cons, err := r.JS.Consumer(ctx, contract.RequestsStream, contract.ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	fetchNak := func(ran func()) {
		t.Helper()
		batch, err := cons.Fetch(1, jetstream.FetchMaxWait(waitTimeout))
		if err != nil {
			t.Fatal(err)
		}
		for m := range batch.Messages() {
			ran()
			if err := m.Nak(); err != nil {
				t.Fatal(err)
			}
		}
	}
	var keptID string
	fetchNak(func() { // delivery 1, as the worker ends it: conn1 done, conn2 retried
		job := app.Jobs[0]
		req := jobs.Request{ID: "crash-2", Attempt: 1, Trigger: contract.TriggerEvent}
		out := workertest.Succeed(job, req)
		out[1].Status, out[1].Final, out[1].Certificate = contract.StatusFailed, false, nil
		out[1].Error = &jobs.ErrorInfo{Code: "graph_budget", Class: jobs.ClassTransient}
		rec := conclude(first.instance, first.arch.Now(), job, req, out, first.consumer.backoff.Delay, false)
		keep := rec.kept(record{})
		if keep == nil || len(keep.Done) != 1 {
			t.Fatalf("kept %+v, want a partial record of one connector", keep)
		}
		if err := first.consumer.storeRecord(ctx, ack.Sequence, *keep); err != nil {
			t.Fatal(err)
		}
		if err := first.consumer.publishEvents(ctx, keep.Events); err != nil {
			t.Fatal(err)
		}
		keptID = keep.Events[0].ID
	})
	fetchNak(func() {}) // delivery 2: the worker died
	events := r.Outcomes(t)
	rot := workertest.NewRecorder(nil)
	second := r.start(t, app, rot, func(w *Worker) { w.advisory.signals.answered.Init(t) })
	second.advisory.signals.answered.WaitOrTimeout(t)
	got := map[string]contract.Event{}
	for range 2 {
		ev, _ := events.Next(t)
		got[ev.Data.Connector] = ev
	}
	if ev := got[conn1]; ev.ID != keptID || ev.Data.Status != contract.StatusSucceeded {
		t.Errorf("%s: event %s %s, want the kept succeeded outcome %s again", conn1, ev.ID, ev.Data.Status, keptID)
	}
	if ev := got[conn2]; ev.Data.Status != contract.StatusFailed || ev.Data.Error == nil || ev.Data.Error.Code != CodeMaxDeliveries || !ev.Data.Final {
		t.Errorf("%s: event %+v, want a final max_deliveries failure", conn2, ev.Data)
	}
	e, err := second.bus().status.Get(ctx, contract.StatusKey(jobName, conn1))
	if err != nil {
		t.Fatal(err)
	}
	var st contract.StatusRecord
	if err := json.Unmarshal(e.Value(), &st); err != nil || st.Status != contract.StatusSucceeded {
		t.Errorf("status of %s = %q (%v), want succeeded", conn1, st.Status, err)
	}
	if _, err := second.bus().outcomes.Get(ctx, recordKey(ack.Sequence)); !errors.Is(err, jetstream.ErrKeyNotFound) {
		t.Errorf("kept record not dropped after the answer: %v", err)
	}
	rot.NoMoreCalls(t)
}
