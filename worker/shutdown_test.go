package worker

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// shutDownMidRun starts a worker answering with rot whose shutdown waits
// 50ms for its runs, requests the test job as id, and stops the worker
// once started fires: a shutdown in the middle of a run. It returns the
// outcome events kept from before the request.
func (r rig) shutDownMidRun(t *testing.T, rot Rotator, started *workertest.Latch, id string) *workertest.Events {
	t.Helper()
	w, events := r.serve(t, testApp(), rot, workertest.RequestBody(), id, func(w *Worker) { w.consumer.shutdownTimeout = 50 * time.Millisecond })
	started.Wait(t, "rotation started")
	if err := w.Stop(context.Background()); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	return events
}

// TestShutdownKeepsWhatFinished: a run cancelled by shutdown after one of
// its connectors was uploaded keeps that connector's outcome (kept and
// published, final) and hands back only the other: the next replica runs
// the unfinished connector alone, and each connector gets one final
// outcome, the uploaded one succeeded rather than already_present.
func TestShutdownKeepsWhatFinished(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	started := workertest.NewLatch()
	rot := workertest.NewRecorder(func(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		started.Fire()
		<-ctx.Done() // conn1 was uploaded; conn2 is cut short by the shutdown
		out := workertest.Succeed(job, req)
		out[1].Status, out[1].Final, out[1].Certificate = contract.StatusFailed, req.Attempt >= job.MaxAttempts, nil
		out[1].Error = &jobs.ErrorInfo{Code: "canceled", Class: jobs.ClassTransient, Message: "context canceled"}
		return out
	})
	events := r.shutDownMidRun(t, rot, started, "shutdown-1")
	ev, _ := events.Next(t)
	if ev.Data.Connector != conn1 || ev.Data.Status != contract.StatusSucceeded || !ev.Data.Final {
		t.Fatalf("event on shutdown = %s %s final=%v, want %s succeeded, final", ev.Data.Connector, ev.Data.Status, ev.Data.Final, conn1)
	}
	if p := events.Pending(); len(p) > 0 {
		t.Fatalf("an event for a connector cut short by the shutdown: %+v", p[0].Data)
	}

	rot2 := workertest.NewRecorder(nil)
	w2 := r.start(t, testApp(), rot2)
	got := rot2.NextCall(t)
	if got.Attempt != 2 || len(got.Connectors) != 1 || !strings.EqualFold(got.Connectors[0], conn2) {
		t.Fatalf("after the shutdown: attempt %d ran %v, want attempt 2 with %s only", got.Attempt, got.Connectors, conn2)
	}
	if d := waitSettled(t, w2, "request acked"); d.Action != actAck {
		t.Errorf("settled with %s, want ack", d.Action)
	}
	ev, _ = events.Next(t)
	if ev.Data.Connector != conn2 || ev.Data.Status != contract.StatusSucceeded || !ev.Data.Final {
		t.Errorf("retry event = %s %s, want %s succeeded", ev.Data.Connector, ev.Data.Status, conn2)
	}
	rot2.NoMoreCalls(t)
}
