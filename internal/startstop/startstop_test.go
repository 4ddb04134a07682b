package startstop

import (
	"context"
	"errors"
	"testing"
	"time"
)

// ticker is a minimal service: one goroutine that waits for its context.
type ticker struct {
	Base
	failStart error
	starts    int
}

func (s *ticker) Start(ctx context.Context) error {
	ctx, ok, stopped := s.StartInit(ctx)
	if !ok {
		return nil
	}
	if s.failStart != nil {
		stopped()
		return s.failStart
	}
	s.starts++
	go func() {
		defer stopped()
		<-ctx.Done()
	}()
	return nil
}

func TestStartIsIdempotentAndStopTwice(t *testing.T) {
	t.Parallel()
	s := &ticker{}
	ctx := context.Background()
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop before start: %v", err)
	}
	for range 2 {
		if err := s.Start(ctx); err != nil {
			t.Fatalf("start: %v", err)
		}
	}
	if s.starts != 1 || !s.Running() {
		t.Fatalf("starts = %d running = %v, want one running start", s.starts, s.Running())
	}
	for range 2 {
		if err := s.Stop(ctx); err != nil {
			t.Fatalf("stop: %v", err)
		}
	}
	if s.Running() {
		t.Fatal("still running after stop")
	}
	if err := s.Start(ctx); err != nil || s.starts != 2 {
		t.Fatalf("restart: err %v, starts %d", err, s.starts)
	}
	if err := s.Stop(ctx); err != nil {
		t.Fatalf("stop after restart: %v", err)
	}
}

func TestRunContextOutlivesStartContext(t *testing.T) {
	t.Parallel()
	var b Base
	ctx, cancel := context.WithCancel(context.Background())
	run, ok, stopped := b.StartInit(ctx)
	if !ok {
		t.Fatal("first StartInit refused")
	}
	cancel()
	if run.Err() != nil {
		t.Fatal("cancelling the start context ended the run context")
	}
	go func() { <-run.Done(); stopped() }()
	if err := b.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestFailedStartLeavesItStopped(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	s := &ticker{failStart: boom}
	if err := s.Start(context.Background()); !errors.Is(err, boom) {
		t.Fatalf("start error = %v", err)
	}
	if s.Running() {
		t.Fatal("running after a failed start")
	}
}

func TestStopWaitIsBounded(t *testing.T) {
	t.Parallel()
	var b Base
	_, _, stopped := b.StartInit(context.Background()) // never calls stopped: a stuck goroutine
	defer stopped()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := b.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("stop of a stuck service = %v, want deadline exceeded", err)
	}
}

func TestStartAllUndoesOnFailure(t *testing.T) {
	t.Parallel()
	a, b := &ticker{}, &ticker{}
	bad := &ticker{failStart: errors.New("no")}
	if err := StartAll(context.Background(), a, b, bad); err == nil {
		t.Fatal("StartAll succeeded with a failing service")
	}
	if a.Running() || b.Running() {
		t.Fatal("services started before the failure are still running")
	}
}

// TestLaunch: Launch runs what open returns until Stop, refuses a second
// start, and leaves the service stopped when open fails or has nothing to
// run.
func TestLaunch(t *testing.T) {
	t.Parallel()
	var b Base
	ran := make(chan struct{})
	open := func(ctx context.Context) (func(), error) {
		return func() { close(ran); <-ctx.Done() }, nil
	}
	if err := b.Launch(context.Background(), open); err != nil {
		t.Fatal(err)
	}
	<-ran
	if err := b.Launch(context.Background(), func(context.Context) (func(), error) {
		t.Error("open called while running")
		return nil, nil
	}); err != nil || !b.Running() {
		t.Fatalf("second launch: err %v, running %v", err, b.Running())
	}
	if err := b.Stop(context.Background()); err != nil || b.Running() {
		t.Fatalf("stop: err %v, running %v", err, b.Running())
	}
	boom := errors.New("boom")
	for _, c := range []struct {
		err  error
		want error
	}{{boom, boom}, {nil, nil}} {
		err := b.Launch(context.Background(), func(context.Context) (func(), error) { return nil, c.err })
		if !errors.Is(err, c.want) || (c.want == nil && err != nil) || b.Running() {
			t.Fatalf("open returning (nil, %v): err %v, running %v", c.err, err, b.Running())
		}
	}
}
