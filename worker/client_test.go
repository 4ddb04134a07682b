package worker

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
)

func dialTest(t *testing.T, url string) *Client {
	t.Helper()
	app := testApp()
	app.NATS.URL = url
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, err := Dial(ctx, app)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestDialNeedsAServer(t *testing.T) {
	t.Parallel()
	if _, err := Dial(context.Background(), &config.Config{}); !errors.Is(err, ErrNoNATS) {
		t.Fatalf("Dial with no url nor listen = %v, want ErrNoNATS", err)
	}
	if got := dialable("0.0.0.0:4222"); got != "127.0.0.1:4222" {
		t.Errorf("dialable = %s", got)
	}
	if got := dialable(":4222"); got != "127.0.0.1:4222" {
		t.Errorf("dialable = %s", got)
	}
}

func TestClientPublishAndWaitThenStatusAndEvents(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	rot := newFake(nil)
	startWorker(t, connect(t, s), testApp(), rot)
	c := dialTest(t, s.ClientURL())
	ctx := context.Background()

	var seen []Event
	err := c.PublishAndWait(ctx, jobs.Request{Job: jobName, Reason: "test"}, waitTimeout, func(ev Event) error {
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
	if got := rot.nextCall(t); got.ID != id || got.Trigger != jobs.TriggerManual || got.Reason != "test" {
		t.Errorf("Rotate got %+v", got)
	}

	status, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(status) != 2 || status[0].Connector != conn1 || status[1].Connector != conn2 || status[0].RequestID != id {
		t.Errorf("status = %+v", status)
	}

	var past []Event
	if err := c.Events(ctx, time.Hour, false, func(ev Event) error { past = append(past, ev); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(past) != 2 || past[0].Data.RequestID != id {
		t.Errorf("events = %+v", past)
	}

	// Follow: sees a new outcome, and returns nil once ctx ends.
	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var followed []Event
	done := make(chan error, 1)
	go func() {
		done <- c.Events(fctx, 0, true, func(ev Event) error {
			followed = append(followed, ev)
			if len(followed) == 3 {
				cancel()
			}
			return nil
		})
	}()
	if _, err := c.Publish(ctx, jobs.Request{Job: jobName, Connectors: []string{conn1}, ID: "follow-1"}); err != nil {
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
	s := runServer(t, "")
	startWorker(t, connect(t, s), testApp(), newFake(nil))
	c := dialTest(t, s.ClientURL())
	var got []Event
	err := c.PublishAndWait(context.Background(), jobs.Request{Job: jobName, Connectors: []string{"no-such"}}, waitTimeout,
		func(ev Event) error { got = append(got, ev); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Data.Error == nil || got[0].Data.Error.Code != jobs.CodeBadRequest {
		t.Errorf("events = %+v", got)
	}
}

func TestClientWaitTimesOut(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	c := dialTest(t, s.ClientURL())
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Wait(ctx, "nobody", 1, func(Event) error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Wait = %v, want DeadlineExceeded", err)
	}
	if status, err := c.Status(context.Background()); err != nil || len(status) != 0 {
		t.Errorf("Status with no bucket = %v, %v", status, err)
	}
}
