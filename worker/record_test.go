package worker

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// TestInterruptedRunKeepsFinishedOnly: a run cut short by shutdown on its
// last attempt publishes and keeps its finished connectors; the cancelled
// ones are neither published nor made final, and the message is nak'd at
// once for another replica.
func TestInterruptedRunKeepsFinishedOnly(t *testing.T) {
	t.Parallel()
	job := workertest.Job()
	req := jobs.Request{ID: "r", Attempt: job.MaxAttempts, Trigger: contract.TriggerEvent}
	out := workertest.Succeed(job, req)
	out[1].Status, out[1].Final, out[1].Certificate = contract.StatusFailed, true, nil
	out[1].Error = &jobs.ErrorInfo{Code: "canceled", Class: jobs.ClassTransient}
	backoff := func(int) time.Duration { return time.Minute }

	rec := conclude("w", time.Now(), job, req, append([]jobs.Outcome(nil), out...), backoff, true)
	if rec.Decision.Action != actNak || rec.Decision.Delay != 0 {
		t.Errorf("decision %+v, want an immediate nak", rec.Decision)
	}
	if len(rec.Events) != 1 || rec.Events[0].Data.Connector != conn1 || !rec.Events[0].Data.Final {
		t.Fatalf("events %+v, want the finished connector's only", rec.Events)
	}
	if keep := rec.kept(record{}); keep == nil || len(keep.Done) != 1 || keep.Done[0] != conn1 {
		t.Errorf("kept %+v, want a partial record of %s", keep, conn1)
	}

	// Not interrupted, the same outcomes end the request: the last attempt's
	// transient failure is final.
	if rec := conclude("w", time.Now(), job, req, append([]jobs.Outcome(nil), out...), backoff, false); rec.Decision.Action != actTerm {
		t.Errorf("uninterrupted decision %+v, want term", rec.Decision)
	}
}
