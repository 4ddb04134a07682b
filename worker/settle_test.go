package worker

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// TestSettleTable: what happens to a message is a function of its
// finalized outcomes, the attempt and the job's max_attempts.
func TestSettleTable(t *testing.T) {
	t.Parallel()
	ok := jobs.Outcome{Connector: "a", Status: contract.StatusSucceeded}
	skipped := jobs.Outcome{Connector: "a", Status: contract.StatusSkipped}
	transient := func(retryAfter time.Duration) jobs.Outcome {
		return jobs.Outcome{Connector: "b", Status: contract.StatusFailed, RetryAfter: retryAfter,
			Error: &jobs.ErrorInfo{Code: "graph_throttled", Class: jobs.ClassTransient}}
	}
	permanent := jobs.Outcome{Connector: "c", Status: contract.StatusFailed,
		Error: &jobs.ErrorInfo{Code: "bundle_expired", Class: jobs.ClassPermanent}}
	backoff := func(attempt int) time.Duration { return time.Duration(attempt) * time.Second }
	for _, tt := range []struct {
		name        string
		outcomes    []jobs.Outcome
		attempt     int
		maxAttempts int
		want        decision
	}{
		{"all succeeded", []jobs.Outcome{ok, ok}, 1, 8, decision{Action: actAck}},
		{"skipped is done", []jobs.Outcome{skipped}, 1, 8, decision{Action: actAck}},
		{"transient retries with backoff", []jobs.Outcome{ok, transient(0)}, 3, 8, decision{Action: actNak, Delay: 3 * time.Second}},
		{"a longer Retry-After wins", []jobs.Outcome{transient(30 * time.Second)}, 1, 8, decision{Action: actNak, Delay: 30 * time.Second}},
		{"a shorter Retry-After loses", []jobs.Outcome{transient(time.Millisecond)}, 2, 8, decision{Action: actNak, Delay: 2 * time.Second}},
		{"permanent terminates", []jobs.Outcome{ok, permanent}, 1, 8, decision{Action: actTerm, Code: "bundle_expired"}},
		{"transient beats permanent", []jobs.Outcome{permanent, transient(0)}, 1, 8, decision{Action: actNak, Delay: time.Second}},
		{"last attempt makes transient final", []jobs.Outcome{transient(0)}, 8, 8, decision{Action: actTerm, Code: "graph_throttled"}},
		{"max_attempts 1 never retries", []jobs.Outcome{transient(0)}, 1, 1, decision{Action: actTerm, Code: "graph_throttled"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			outcomes := append([]jobs.Outcome(nil), tt.outcomes...)
			job := jobs.Job{Name: "j", MaxAttempts: tt.maxAttempts}
			finalize(outcomes, job, jobs.Request{ID: "r", Attempt: tt.attempt})
			if got := settle(outcomes, tt.attempt, backoff); got != tt.want {
				t.Errorf("settle = %+v, want %+v", got, tt.want)
			}
			for _, o := range outcomes {
				if o.Job != "j" || o.RequestID != "r" || o.Attempt != tt.attempt {
					t.Errorf("finalize left %+v unstamped", o)
				}
			}
		})
	}
}
