package workertest

import (
	"context"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// Rotator is the worker's port a test stands in for.
type Rotator interface {
	Rotate(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome
}

var (
	_ Rotator = (*Recorder)(nil)
	_ Rotator = Func(nil)
	_ Rotator = Around{}
)

// Func is a Rotator of one function.
type Func func(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome

// Rotate calls f.
func (f Func) Rotate(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
	return f(ctx, job, req)
}

// Succeeding answers every request with Succeed: for tests about NATS
// (users, permissions, notifications) that need outcomes and status but
// no Vault or Graph.
var Succeeding Rotator = Func(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
	return Succeed(job, req)
})

// Around runs Rotator between Before and After. After may change the
// outcomes (a test that loses them, as a crash would).
type Around struct {
	Rotator Rotator
	Before  func(ctx context.Context, req jobs.Request)
	After   func(ctx context.Context, req jobs.Request, out []jobs.Outcome) []jobs.Outcome
}

// Rotate runs the wrapped Rotator between the hooks.
func (a Around) Rotate(ctx context.Context, j jobs.Job, req jobs.Request) []jobs.Outcome {
	if a.Before != nil {
		a.Before(ctx, req)
	}
	out := a.Rotator.Rotate(ctx, j, req)
	if a.After != nil {
		out = a.After(ctx, req, out)
	}
	return out
}

// Recorder records every call and answers with its func, or with one
// succeeded outcome per connector in play.
type Recorder struct {
	fn    Func
	calls chan jobs.Request
}

// NewRecorder returns a Recorder answering with fn (nil: Succeed).
func NewRecorder(fn Func) *Recorder {
	return &Recorder{fn: fn, calls: make(chan jobs.Request, 1000)}
}

// Rotate records the request and answers.
func (r *Recorder) Rotate(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
	r.calls <- req
	if r.fn != nil {
		return r.fn(ctx, job, req)
	}
	return Succeed(job, req)
}

// Calls are the requests Rotate was called with, in order.
func (r *Recorder) Calls() <-chan jobs.Request { return r.calls }

// NextCall returns the next Rotate call, failing after WaitTimeout.
func (r *Recorder) NextCall(tb testing.TB) jobs.Request {
	tb.Helper()
	return testkit.Receive(tb, r.calls, "Rotate not called before the deadline")
}

// NoMoreCalls checks that nothing else called Rotate; call it once the
// request stream has settled.
func (r *Recorder) NoMoreCalls(tb testing.TB) {
	tb.Helper()
	select {
	case req := <-r.calls:
		tb.Fatalf("unexpected Rotate call: %+v", req)
	default:
	}
}

// Thumbprint is the certificate of Succeed's outcomes.
const Thumbprint = "8E71C7B4D7A7F4A1D4C1A0C1B1C2D3E4F5A6B7C8"

// Succeed is one succeeded, final outcome per connector in play.
func Succeed(job jobs.Job, req jobs.Request) []jobs.Outcome {
	return Each(job, req, func(o *jobs.Outcome) {
		o.Status = contract.StatusSucceeded
		o.Final = true
		o.Certificate = &jobs.CertInfo{Thumbprint: Thumbprint, Subject: "CN=api.contoso.example",
			NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), SourceVersion: 3}
	})
}

// Fail answers one failed outcome of class and code per connector in
// play, final when the class is permanent.
func Fail(class jobs.Class, code string) func(jobs.Job, jobs.Request) []jobs.Outcome {
	return func(job jobs.Job, req jobs.Request) []jobs.Outcome {
		return Each(job, req, func(o *jobs.Outcome) {
			o.Status = contract.StatusFailed
			o.Error = &jobs.ErrorInfo{Code: code, Class: class, Message: code}
			o.Final = class == jobs.ClassPermanent
		})
	}
}

// Each is one outcome per connector in play (those the request names,
// else all the job's), set by set.
func Each(job jobs.Job, req jobs.Request, set func(*jobs.Outcome)) []jobs.Outcome {
	var out []jobs.Outcome
	for _, c := range inPlay(job, req) {
		o := jobs.Outcome{Job: job.Name, Tenant: c.Tenant, Connector: c.ID, RequestID: req.ID,
			Trigger: req.Trigger, Attempt: req.Attempt}
		set(&o)
		out = append(out, o)
	}
	return out
}

// inPlay is the connectors a request runs: those it names, else all.
func inPlay(job jobs.Job, req jobs.Request) []jobs.ConnectorRef {
	if len(req.Connectors) == 0 {
		return job.Connectors
	}
	var refs []jobs.ConnectorRef
	for _, id := range req.Connectors {
		if c, ok := job.Connector(id); ok {
			refs = append(refs, c)
		}
	}
	return refs
}
