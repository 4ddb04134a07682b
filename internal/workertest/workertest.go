// Package workertest is the one test kit of the worker's tests, e2e's and
// bench's, and of the tests of what reads the worker's records (the status
// page, the client): Rotators for tests (a recorder, a func, a wrapper
// around a real one), outcome builders, a sink of outcome events, a test's
// own client of its NATS server, the test job and its fixtures, and the
// lifecycle of a worker for a test's life. It imports no worker package, so
// that the worker's own in-package tests can use it too; it is imported
// only from tests (.golangci.yaml's workertest-only-in-tests).
package workertest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// WaitTimeout bounds every wait of the kit.
const WaitTimeout = testkit.WaitTimeout

// Service is what the kit starts and stops: a worker, or one service.
type Service interface {
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// Build builds a service with build and stops it when the test ends (a
// Stop error fails the test). It does not start it.
func Build[C any, S Service](tb testing.TB, build func(C) (S, error), cfg C) S {
	tb.Helper()
	return built(tb, build, cfg, tb.Errorf)
}

// BuildTolerant is Build for tests whose faults may leave Stop an error
// to give (a cut link, a killed node, a worker stopped before): the error
// is logged, not failed.
func BuildTolerant[C any, S Service](tb testing.TB, build func(C) (S, error), cfg C) S {
	tb.Helper()
	return built(tb, build, cfg, tb.Logf)
}

func built[C any, S Service](tb testing.TB, build func(C) (S, error), cfg C, report func(string, ...any)) S {
	tb.Helper()
	s, err := build(cfg)
	if err != nil {
		tb.Fatalf("building: %v", err)
	}
	tb.Cleanup(func() {
		if err := s.Stop(context.Background()); err != nil {
			report("stopping: %v", err)
		}
	})
	return s
}

// Run starts s, failing the test when it does not start.
func Run(tb testing.TB, s Service) {
	tb.Helper()
	if err := s.Start(context.Background()); err != nil {
		tb.Fatalf("starting: %v", err)
	}
}

// Start is Build, then Run.
func Start[C any, S Service](tb testing.TB, build func(C) (S, error), cfg C) S {
	tb.Helper()
	s := Build(tb, build, cfg)
	Run(tb, s)
	return s
}

// Parsed returns the jobs with their schedules parsed, as config.Load
// parses them.
func Parsed(tb testing.TB, jj []jobs.Job) []jobs.Job {
	tb.Helper()
	jj = slices.Clone(jj)
	for i, j := range jj {
		if j.Schedule != "" && j.Next == nil {
			sched, err := config.ParseSchedule(j.Schedule)
			if err != nil {
				tb.Fatalf("parsing schedule of %s: %v", j.Name, err)
			}
			jj[i].Next = sched
		}
	}
	return jj
}

// Eventually polls cond until it holds, failing after WaitTimeout. It is
// for state the server reaches on its own (a stream emptied after an ack).
func Eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	EventuallyWithin(tb, WaitTimeout, what, cond)
}

// EventuallyWithin is Eventually with its own deadline, for suites whose
// waits outlast faults (e2e's restarts and partitions).
func EventuallyWithin(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s", what, d)
		}
		<-tick.C
	}
}

// Settled reports whether the request stream is empty and the consumer has
// nothing pending or unacknowledged.
func Settled(js jetstream.JetStream) func() bool {
	return func() bool {
		ctx := context.Background()
		st, err := js.Stream(ctx, contract.RequestsStream)
		if err != nil {
			return false
		}
		info, err := st.Info(ctx)
		if err != nil {
			return false
		}
		ci, err := st.Consumer(ctx, contract.ConsumerName)
		if err != nil {
			return false
		}
		cinfo, err := ci.Info(ctx)
		if err != nil {
			return false
		}
		return info.State.Msgs == 0 && cinfo.NumAckPending == 0 && cinfo.NumPending == 0
	}
}
