package worker

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// TestUnknownJobLeftToAReplicaThatKnowsIt: two replicas on one NATS with
// different job lists, as during a rolling config change. A request for a
// job one replica lacks is handed back to the other, never answered
// bad_request: every request gets one final outcome, from the replica that
// knows its job. A job that no replica knows gets one final unknown_job
// once its deliveries are spent.
func TestUnknownJobLeftToAReplicaThatKnowsIt(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	job := func(name string) jobs.Job {
		j := workertest.Job()
		j.Name, j.Connectors = name, j.Connectors[:1]
		j.MaxAttempts = 24 // the consumer's max deliver: a request meets the wrong replica on every delivery at odds near 2^-24
		return j
	}
	oldApp, newApp := testApp(job("alpha")), testApp(job("alpha"), job("beta"))
	oldApp.Instance, newApp.Instance = "old", "new"
	oldRot, newRot := workertest.NewRecorder(nil), workertest.NewRecorder(nil)
	quick := func(w *Worker) { w.consumer.pullWait = 20 * time.Millisecond } // hand-backs take 2 pulls' wait
	r.start(t, oldApp, oldRot, quick)
	r.start(t, newApp, newRot, quick)
	events := r.Outcomes(t)

	const n = 10
	for i := range n {
		r.Request(t, "beta", `{"job":"beta"}`, fmt.Sprintf("beta-%d", i))
	}
	r.Request(t, "gamma", `{"job":"gamma"}`, "gamma-1")
	finals := map[string]int{}
	for len(finals) < n+1 {
		ev, subj := events.Next(t)
		d := ev.Data
		if !d.Final {
			continue
		}
		finals[d.RequestID]++
		switch {
		case strings.HasPrefix(d.RequestID, "beta-"):
			if d.Status != contract.StatusSucceeded || !strings.HasSuffix(ev.Source, "/new") {
				t.Errorf("%s: final %s from %s on %s (error %+v), want succeeded from the replica that knows beta", d.RequestID, d.Status, ev.Source, subj, d.Error)
			}
		case d.RequestID == "gamma-1":
			if subj != "certrotation.result.gamma._" || d.Error == nil || d.Error.Code != "unknown_job" || d.Attempt != 24 {
				t.Errorf("gamma-1: final on %s = %+v (error %+v), want unknown_job on the last delivery", subj, d, d.Error)
			}
		}
	}
	for id, k := range finals {
		if k != 1 {
			t.Errorf("%s: %d final outcomes, want 1", id, k)
		}
	}
	select {
	case r := <-oldRot.Calls():
		t.Errorf("the replica without beta ran %s", r.ID)
	default:
	}
}
