package client_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"go.uber.org/goleak"

	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

const (
	waitTimeout = testkit.WaitTimeout
	jobName     = workertest.JobName
	conn1       = workertest.Conn1
	conn2       = workertest.Conn2
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// serve runs a worker over a fresh embedded server and returns the
// server's URL and the recorder behind the worker.
func serve(t *testing.T) (string, *workertest.Recorder) {
	t.Helper()
	s := testkit.NATS(t, "")
	rot := workertest.NewRecorder(nil)
	workertest.Start(t, worker.New, worker.Config{Instance: "test-1", Jobs: []jobs.Job{workertest.Job()}, Rotator: rot, Bus: bustest.On(t, testkit.Connect(t, s))})
	return s.ClientURL(), rot
}

func dialTest(t *testing.T, url string) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := client.Dial(ctx, url, client.Options{Jobs: map[string]int{jobName: 2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestClientPublishAndWaitThenStatusAndEvents(t *testing.T) {
	t.Parallel()
	url, rot := serve(t)
	c := dialTest(t, url)
	ctx := context.Background()

	var seen []contract.Event
	err := c.PublishAndWait(ctx, contract.Request{Job: jobName, Reason: "test"}, waitTimeout, func(ev contract.Event) error {
		seen = append(seen, ev)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != 2 || seen[0].Data.RequestID != seen[1].Data.RequestID {
		t.Fatalf("%d events: %+v", len(seen), seen)
	}
	id := seen[0].Data.RequestID
	if !strings.HasPrefix(id, "manual-") {
		t.Fatalf("id %q, %d events", id, len(seen))
	}
	if got := rot.NextCall(t); got.ID != id || got.Trigger != contract.TriggerManual || got.Reason != "test" {
		t.Errorf("Rotate got %+v", got)
	}

	status, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != 2 || status[0].Outcome.Connector != conn1 || status[1].Outcome.Connector != conn2 || status[0].Outcome.RequestID != id {
		t.Errorf("status = %+v", status)
	}

	var past []contract.Event
	if err := c.Events(ctx, time.Hour, false, func(ev contract.Event) error { past = append(past, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(past) != 2 || past[0].Data.RequestID != id {
		t.Errorf("events = %+v", past)
	}

	// Follow: sees a new outcome, and returns nil once ctx ends.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var followed []contract.Event
	done := make(chan error, 1)
	go func() {
		done <- c.Events(fctx, 0, true, func(ev contract.Event) error {
			followed = append(followed, ev)
			if len(followed) == 3 {
				cancel()
			}
			return nil
		})
	}()
	if _, err := c.Publish(ctx, contract.Request{Job: jobName, Connectors: []string{conn1}, ID: "follow-1"}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Events follow: %v", err)
		}
	case <-time.After(waitTimeout):
		t.Fatal("follow did not see the new outcome")
	}
	if followed[2].Data.RequestID != "follow-1" {
		t.Errorf("followed = %+v", followed[2].Data)
	}
}

func TestClientWaitsForBadRequest(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	c := dialTest(t, url)
	var got []contract.Event
	err := c.PublishAndWait(context.Background(), contract.Request{Job: jobName, Connectors: []string{"no-such"}}, waitTimeout,
		func(ev contract.Event) error { got = append(got, ev); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Data.Error == nil || got[0].Data.Error.Code != contract.CodeBadRequest {
		t.Errorf("events = %+v", got)
	}
}

func TestClientWaitTimesOut(t *testing.T) {
	t.Parallel()
	c := dialTest(t, testkit.NATS(t, "").ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Wait(ctx, "nobody", 1, func(contract.Event) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
	if status, err := c.Status(context.Background()); err != nil || len(status) != 0 {
		t.Errorf("Status with no bucket = %v, %v", status, err)
	}
}

func TestNoStreamsSaysSo(t *testing.T) {
	t.Parallel()
	c := dialTest(t, testkit.NATS(t, "").ClientURL())
	ctx := context.Background()
	if _, err := c.Publish(ctx, contract.Request{Job: jobName}); !errors.Is(err, client.ErrNoStreams) {
		t.Errorf("Publish without streams = %v, want ErrNoStreams", err)
	}
	if err := c.Events(ctx, 0, false, func(contract.Event) error { return nil }); !errors.Is(err, client.ErrNoStreams) {
		t.Errorf("Events without streams = %v, want ErrNoStreams", err)
	}
}

// TestClientWithoutJobSizes: a client dialled without Options.Jobs (no
// config) still waits for every connector the status bucket knows, and
// LastSucceeded finds each connector's last upload on the stream.
func TestClientWithoutJobSizes(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	ctx := context.Background()
	if err := dialTest(t, url).PublishAndWait(ctx, contract.Request{Job: jobName}, waitTimeout, func(contract.Event) error { return nil }); err != nil {
		t.Fatal(err)
	}
	// The status entries are written after the events: wait until the
	// bucket knows both connectors, which is what this client relies on.
	waitStatusKeys(t, url, contract.StatusKey(jobName, conn1), contract.StatusKey(jobName, conn2))
	dctx, cancel := context.WithTimeout(ctx, waitTimeout)
	defer cancel()
	c, err := client.Dial(dctx, url, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	var seen []string
	err = c.PublishAndWait(ctx, contract.Request{Job: jobName, ID: "no-sizes"}, waitTimeout, func(ev contract.Event) error {
		seen = append(seen, ev.Data.Connector)
		return nil
	})
	if err != nil || len(seen) != 2 {
		t.Fatalf("waited for %q (%v), want both connectors", seen, err)
	}
	last, err := c.LastSucceeded(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, conn := range []string{conn1, conn2} {
		if ev, ok := last[contract.StatusKey(jobName, conn)]; !ok || ev.Data.RequestID != "no-sizes" {
			t.Errorf("last success of %s = %+v, want request no-sizes", conn, ev.Data)
		}
	}
	bare := dialTest(t, testkit.NATS(t, "").ClientURL())
	if last, err := bare.LastSucceeded(ctx); err != nil || len(last) != 0 {
		t.Errorf("LastSucceeded without streams = %v, %v; want none", last, err)
	}
}

// waitStatusKeys watches the status bucket until every key is in it.
func waitStatusKeys(t *testing.T, url string, keys ...string) {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	js := testkit.JetStream(t, nc)
	kv, err := js.KeyValue(ctx, contract.StatusBucket)
	if err != nil {
		t.Fatal(err)
	}
	w, err := kv.WatchAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Stop() }()
	want := map[string]bool{}
	for _, k := range keys {
		want[k] = true
	}
	for len(want) > 0 {
		select {
		case e := <-w.Updates():
			if e != nil {
				delete(want, e.Key())
			}
		case <-ctx.Done():
			t.Fatalf("status bucket still lacks %v", want)
		}
	}
}
