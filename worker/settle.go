package worker

import (
	"cmp"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// action is what happens to a request message once its run is over.
type action int

const (
	actAck  action = iota // done: every outcome is final and none failed
	actNak                // retry: redeliver after Delay
	actTerm               // give up: a final failure, never redelivered
)

func (a action) String() string {
	switch a {
	case actAck:
		return "ack"
	case actNak:
		return "nak"
	default:
		return "term"
	}
}

// decision is the settling of one request message: the action, the nak
// delay, and the failure code for a term's reason.
type decision struct {
	Action action
	Delay  time.Duration
	Code   string
}

// finalize fills what the worker knows into the outcomes and marks every
// outcome that will not be retried as final: the job's last attempt turns a
// transient failure final.
func finalize(outcomes []jobs.Outcome, job jobs.Job, req jobs.Request) {
	last := req.Attempt >= maxAttempts(job)
	for i := range outcomes {
		o := &outcomes[i]
		o.Job = cmp.Or(o.Job, job.Name)
		o.RequestID = cmp.Or(o.RequestID, req.ID)
		req.Stamp(o) // trigger, reason and requester: the audit trail
		if o.Attempt == 0 {
			o.Attempt = req.Attempt
		}
		if !o.Retryable() || last {
			o.Final = true
		}
	}
}

// settle decides what to do with a message from its finalized outcomes
// (R7): any retryable failure naks with the attempt's backoff, or the
// longest Retry-After a remote asked for when longer; a final failure
// terminates; anything else is acked. It is pure: backoff is the delay
// policy for the attempt.
func settle(outcomes []jobs.Outcome, attempt int, backoff func(attempt int) time.Duration) decision {
	var retry bool
	var wait time.Duration
	code, failed := "", false
	for _, o := range outcomes {
		switch {
		case o.Retryable():
			retry = true
			wait = max(wait, o.RetryAfter)
		case o.Status == contract.StatusFailed && !failed:
			failed = true
			if o.Error != nil {
				code = o.Error.Code
			}
		}
	}
	switch {
	case retry:
		return decision{Action: actNak, Delay: max(backoff(attempt), wait)}
	case failed:
		return decision{Action: actTerm, Code: code}
	default:
		return decision{Action: actAck}
	}
}

// maxAttempts is the job's max_attempts, defaulted.
func maxAttempts(j jobs.Job) int {
	if j.MaxAttempts > 0 {
		return j.MaxAttempts
	}
	return jobs.MaxAttemptsDefault
}
