package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker/lease"
)

func TestRequestBecomesOutcomesAndStatus(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	w, events := r.watch(t, testApp(), rot)

	// A plain NATS client: core publish with a Msg-Id header.
	msg := nats.NewMsg("certrotation.request." + jobName)
	msg.Header.Set(nats.MsgIdHdr, "plain-1")
	msg.Data = []byte(`{"job":"contoso-api","reason":"new bundle written","requested_by":"ci"}`)
	if err := r.NC.PublishMsg(msg); err != nil {
		t.Fatal(err)
	}
	req := rot.NextCall(t)
	if req.ID != "plain-1" || req.Attempt != 1 || req.Trigger != contract.TriggerEvent || req.RequestedBy != "ci" {
		t.Errorf("Rotate got %+v", req)
	}
	subjects := map[string]bool{}
	for range 2 {
		ev, subj := events.Next(t)
		subjects[subj] = true
		d := ev.Data
		if ev.SpecVersion != "1.0" || ev.Source != "certrotator/test-1" || ev.Type != "certrotator.rotation.succeeded" ||
			ev.DataContentType != "application/json" || ev.ID == "" || ev.Time.IsZero() ||
			ev.Subject != jobName+"/"+d.Connector || d.RequestID != "plain-1" || !d.Final {
			t.Errorf("event = %+v", ev)
		}
	}
	for _, c := range []string{conn1, conn2} {
		if !subjects["certrotation.result."+jobName+"."+c] {
			t.Errorf("no event on the subject of %s; got %v", c, subjects)
		}
	}
	waitSettled(t, w, "request acked")
	kv, err := r.JS.KeyValue(context.Background(), contract.StatusBucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), jobName+"."+conn1)
	if err != nil {
		t.Fatalf("status entry: %v", err)
	}
	var o jobs.Outcome
	if err := json.Unmarshal(e.Value(), &o); err != nil || o.Status != contract.StatusSucceeded || o.Certificate.Thumbprint != thumb {
		t.Errorf("status entry = %s (%v)", e.Value(), err)
	}
}

func TestDuplicateMsgIDRotatesOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	w := r.start(t, testApp(), rot)
	first := r.Request(t, jobName, workertest.RequestBody(), "dup-1")
	second := r.Request(t, jobName, workertest.RequestBody(), "dup-1")
	if first.Duplicate || !second.Duplicate {
		t.Errorf("duplicate flags = %v, %v; want false, true", first.Duplicate, second.Duplicate)
	}
	if got := rot.NextCall(t); got.ID != "dup-1" {
		t.Fatalf("Rotate got %q", got.ID)
	}
	waitSettled(t, w, "request acked")
	rot.NoMoreCalls(t)
}

func TestBadRequestsGetOneOutcome(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	w, events := r.watch(t, testApp(), rot)
	tests := []struct {
		name, subject, body, wantSubject string
	}{
		{"malformed JSON", "certrotation.request." + jobName, `{"job":`, "certrotation.result.contoso-api._"},
		{"unknown field", "certrotation.request." + jobName, `{"job":"contoso-api","password":"x"}`, "certrotation.result.contoso-api._"},
		{"trailing data", "certrotation.request." + jobName, `{"job":"contoso-api"} {}`, "certrotation.result.contoso-api._"},
		{"no job", "certrotation.request." + jobName, `{}`, "certrotation.result.contoso-api._"},
		{"job mismatch", "certrotation.request." + jobName, `{"job":"other"}`, "certrotation.result.contoso-api._"},
		{"unknown job", "certrotation.request.nope", `{"job":"nope"}`, "certrotation.result.nope._"},
		{"unknown connector", "certrotation.request." + jobName, `{"job":"contoso-api","connectors":["x"]}`, "certrotation.result.contoso-api._"},
		{"unreadable subject", "certrotation.request.a.b", `{"job":"a"}`, "certrotation.result._unknown._"},
	}
	for i, tt := range tests {
		id := "bad-" + string(rune('a'+i))
		testkit.Publish(t, r.JS, tt.subject, tt.body, id)
		ev, subj := events.Next(t)
		d := ev.Data
		wantCode := contract.CodeBadRequest
		if tt.name == "unknown job" {
			wantCode = codeUnknownJob // after its deliveries: see TestUnknownJobLeftToAReplicaThatKnowsIt
		}
		if subj != tt.wantSubject || d.RequestID != id || d.Status != contract.StatusFailed || d.Connector != "" ||
			d.Error == nil || d.Error.Code != wantCode || d.Error.Class != jobs.ClassPermanent || !d.Final {
			t.Errorf("%s: event on %s = %+v", tt.name, subj, d)
		}
		if strings.Contains(d.Error.Message, `"x"`) && tt.name == "unknown field" {
			t.Errorf("%s: message echoes the value: %q", tt.name, d.Error.Message)
		}
	}
	// The worker keeps serving.
	r.Request(t, jobName, workertest.RequestBody(), "good-1")
	if got := rot.NextCall(t); got.ID != "good-1" {
		t.Fatalf("Rotate got %q, want good-1", got.ID)
	}
	waitSettled(t, w, "every request settled")
	rot.NoMoreCalls(t)
	for range 2 {
		if ev, _ := events.Next(t); ev.Data.RequestID != "good-1" {
			t.Errorf("extra event for %s", ev.Data.RequestID)
		}
	}
	if n := testutilCount(t, w, "certrotator_bad_requests_total"); n != float64(len(tests)) {
		t.Errorf("bad request counter = %v, want %d", n, len(tests))
	}
}

func TestTransientFailureIsRetried(t *testing.T) {
	t.Parallel()
	transient := workertest.Fail(jobs.ClassTransient, "TooManyRequests")
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		if req.Attempt < 3 {
			return transient(job, req)
		}
		return workertest.Succeed(job, req)
	})
	w, events := newRig(t).serve(t, attempts(5), rot, workertest.RequestBody(conn1), "retry-1")
	for want := 1; want <= 3; want++ {
		if got := rot.NextCall(t); got.Attempt != want || got.ID != "retry-1" {
			t.Fatalf("call %d: attempt %d id %q", want, got.Attempt, got.ID)
		}
		ev, _ := events.Next(t)
		wantStatus, wantFinal := contract.StatusFailed, false
		if want == 3 {
			wantStatus, wantFinal = contract.StatusSucceeded, true
		}
		if ev.Data.Status != wantStatus || ev.Data.Final != wantFinal || ev.Data.Attempt != want {
			t.Errorf("attempt %d: event %+v", want, ev.Data)
		}
	}
	waitSettled(t, w, "request acked")
	rot.NoMoreCalls(t)
}

func TestLastAttemptIsFinalAndTerminated(t *testing.T) {
	t.Parallel()
	transient := workertest.Fail(jobs.ClassTransient, "ServiceUnavailable")
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		return transient(job, req) // never final by itself
	})
	w, events := newRig(t).serve(t, attempts(2), rot, workertest.RequestBody(conn2), "last-1")
	rot.NextCall(t)
	rot.NextCall(t)
	first, _ := events.Next(t)
	last, _ := events.Next(t)
	if first.Data.Final || !last.Data.Final || last.Data.Attempt != 2 {
		t.Errorf("finals = %v, %v (attempt %d); want false, true (2)", first.Data.Final, last.Data.Final, last.Data.Attempt)
	}
	waitSettled(t, w, "request terminated")
	rot.NoMoreCalls(t)
}

func TestPermanentFailureIsTerminated(t *testing.T) {
	t.Parallel()
	permanent := workertest.Fail(jobs.ClassPermanent, "bundle_expired")
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome { return permanent(job, req) })
	w, events := newRig(t).serve(t, testApp(), rot, workertest.RequestBody(), "perm-1")
	rot.NextCall(t)
	for range 2 {
		if ev, _ := events.Next(t); !ev.Data.Final || ev.Data.Error.Code != "bundle_expired" {
			t.Errorf("event = %+v", ev.Data)
		}
	}
	waitSettled(t, w, "request terminated")
	rot.NoMoreCalls(t)
}

func TestPanicBecomesFailedOutcome(t *testing.T) {
	t.Parallel()
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		if req.Attempt == 1 {
			panic("boom")
		}
		return workertest.Succeed(job, req)
	})
	w, events := newRig(t).serve(t, testApp(), rot, workertest.RequestBody(conn1), "panic-1")
	ev, _ := events.Next(t)
	if d := ev.Data; d.Status != contract.StatusFailed || d.Error.Code != "internal" || d.Error.Class != jobs.ClassTransient || d.Final {
		t.Errorf("panic outcome = %+v", d)
	}
	if ev, _ := events.Next(t); ev.Data.Status != contract.StatusSucceeded || ev.Data.Attempt != 2 {
		t.Errorf("retry outcome = %+v", ev.Data)
	}
	waitSettled(t, w, "request acked")
}

func TestEmptyAnswerIsInternalFailure(t *testing.T) {
	t.Parallel()
	rot := workertest.NewRecorder(func(context.Context, jobs.Job, jobs.Request) []jobs.Outcome { return nil })
	_, events := newRig(t).serve(t, attempts(1), rot, workertest.RequestBody(), "empty-1")
	for range 2 {
		if ev, _ := events.Next(t); ev.Data.Error == nil || ev.Data.Error.Code != "internal" || !ev.Data.Final {
			t.Errorf("outcome = %+v", ev.Data)
		}
	}
}

func TestLockHeldElsewhereWaits(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	w := r.start(t, testApp(), rot, func(w *Worker) { w.locker.TestSignals.Busy.Init(t); w.locker.TestSignals.Released.Init(t) })
	ctx := context.Background()
	rev, err := w.bus().locks.Create(ctx, jobName, []byte("other-replica seq=1"))
	if err != nil {
		t.Fatal(err)
	}
	r.Request(t, jobName, workertest.RequestBody(), "locked-1")
	if job := w.locker.TestSignals.Busy.WaitOrTimeout(t); job != jobName {
		t.Fatalf("lock busy for %q, want %s", job, jobName)
	}
	rot.NoMoreCalls(t)
	if err := w.bus().locks.Delete(ctx, jobName); err != nil {
		t.Fatal(err)
	}
	got := rot.NextCall(t)
	if got.ID != "locked-1" || got.Attempt != 1 {
		t.Errorf("Rotate got %q attempt %d; want locked-1 attempt 1 (waiting spends no delivery)", got.ID, got.Attempt)
	}
	waitSettled(t, w, "request acked")
	w.locker.TestSignals.Released.WaitOrTimeout(t)
	// Released after the run: the lock key is deleted, not ours any more.
	if e, err := w.bus().locks.Get(ctx, jobName); err == nil {
		t.Errorf("lock still held after the run: %s (rev %d, was %d)", e.Value(), e.Revision(), rev)
	}
}

func TestLockBusyTooLongNaks(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	w := r.start(t, attempts(50), rot, func(w *Worker) { w.locker.Wait = 20 * time.Millisecond })
	ctx := context.Background()
	if _, err := w.bus().locks.Create(ctx, jobName, []byte("other-replica seq=1")); err != nil {
		t.Fatal(err)
	}
	r.Request(t, jobName, workertest.RequestBody(), "locked-2")
	workertest.Eventually(t, "request redelivered", func() bool {
		c, err := r.JS.Consumer(ctx, contract.RequestsStream, contract.ConsumerName)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumRedelivered > 0
	})
	rot.NoMoreCalls(t)
	if err := w.bus().locks.Delete(ctx, jobName); err != nil {
		t.Fatal(err)
	}
	if got := rot.NextCall(t); got.ID != "locked-2" || got.Attempt < 2 {
		t.Errorf("Rotate got %q attempt %d; want a redelivery", got.ID, got.Attempt)
	}
}

func TestLostLockCancelsTheRun(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	started := workertest.NewLatch()
	causes := make(chan error, 1)
	transient := workertest.Fail(jobs.ClassTransient, "canceled")
	rot := workertest.NewRecorder(func(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		if req.Attempt > 1 {
			return workertest.Succeed(job, req)
		}
		started.Fire()
		<-ctx.Done()
		causes <- context.Cause(ctx)
		return transient(job, req)
	})
	w := r.start(t, testApp(), rot, func(w *Worker) { w.keeper.Every = 10 * time.Millisecond })
	r.Request(t, jobName, workertest.RequestBody(), "lost-1")
	started.Wait(t, "rotation started")
	// Another replica's view: the lock expired and someone took it.
	if err := w.bus().locks.Purge(context.Background(), jobName); err != nil {
		t.Fatal(err)
	}
	select {
	case cause := <-causes:
		if !errors.Is(cause, lease.ErrLost) {
			t.Fatalf("run cancelled with %v, want lease.ErrLost", cause)
		}
	case <-time.After(waitTimeout):
		t.Fatal("run not cancelled after losing its lock")
	}
	rot.NextCall(t) // the cancelled attempt
	if got := rot.NextCall(t); got.Attempt != 2 {
		t.Errorf("retry attempt %d, want 2", got.Attempt)
	}
	waitSettled(t, w, "request done")
}

func TestRetryAfterDelaysTheRetry(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	const wait = 300 * time.Millisecond
	transient := workertest.Fail(jobs.ClassTransient, "TooManyRequests")
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		if req.Attempt > 1 {
			return workertest.Succeed(job, req)
		}
		out := transient(job, req)
		out[0].RetryAfter = wait
		return out
	})
	r.start(t, testApp(), rot)
	r.Request(t, jobName, workertest.RequestBody(conn1), "ra-1")
	rot.NextCall(t)
	first := time.Now()
	rot.NextCall(t)
	if gap := time.Since(first); gap < wait*9/10 {
		t.Errorf("retried after %s, want at least the Retry-After %s (backoff alone is 10ms)", gap, wait)
	}
}

// TestRetryRunsOnlyUnfinishedConnectors: when one connector of a request is
// done and another fails transiently, the retry runs the other one only,
// so each connector gets exactly one final outcome.
func TestRetryRunsOnlyUnfinishedConnectors(t *testing.T) {
	t.Parallel()
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		if req.Attempt == 1 {
			out := workertest.Succeed(job, req)
			out[1].Status, out[1].Final, out[1].Certificate = contract.StatusFailed, false, nil
			out[1].Error = &jobs.ErrorInfo{Code: "graph_budget", Class: jobs.ClassTransient}
			return out
		}
		return workertest.Succeed(job, req)
	})
	w, events := newRig(t).serve(t, testApp(), rot, workertest.RequestBody(), "partial-1")
	if first := rot.NextCall(t); len(first.Connectors) != 0 {
		t.Fatalf("first attempt named %v, want every connector", first.Connectors)
	}
	second := rot.NextCall(t)
	if second.Attempt != 2 || len(second.Connectors) != 1 || !strings.EqualFold(second.Connectors[0], conn2) {
		t.Fatalf("retry attempt %d ran %v, want only %s", second.Attempt, second.Connectors, conn2)
	}
	waitSettled(t, w, "request acked")
	finals := map[string]int{}
	for _, ev := range events.Pending() {
		if ev.Data.Final {
			finals[ev.Data.Connector]++
		}
	}
	if finals[conn1] != 1 || finals[conn2] != 1 {
		t.Errorf("final outcomes per connector = %v, want one each", finals)
	}
}

// TestOwnLockLeftBehindIsAdopted: a lock holding this request's own value
// (its create's reply was lost) is taken over at once, not waited out.
func TestOwnLockLeftBehindIsAdopted(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	w := r.start(t, testApp(), rot, func(w *Worker) { w.locker.Wait = time.Hour; w.locker.TestSignals.Released.Init(t) })
	ack := r.Request(t, "other-job-none", `{}`, "warmup") // keeps sequence 1 busy
	seq := ack.Sequence + 1
	if _, err := w.bus().locks.Create(context.Background(), jobName, fmt.Appendf(nil, "%s seq=%d", w.instance, seq)); err != nil {
		t.Fatal(err)
	}
	r.Request(t, jobName, workertest.RequestBody(), "adopt-1")
	if got := rot.NextCall(t); got.ID != "adopt-1" {
		t.Fatalf("Rotate got %q, want adopt-1", got.ID)
	}
	waitSettled(t, w, "request acked")
	w.locker.TestSignals.Released.WaitOrTimeout(t)
	if _, err := w.bus().locks.Get(context.Background(), jobName); err == nil {
		t.Error("the adopted lock was not released")
	}
}
