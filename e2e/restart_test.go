package e2e

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// TestEmbeddedRestartKeepsPendingRequests: a request taken by a worker that
// stops before finishing survives the embedded server's restart on the same
// store and is rotated by the next worker. The hand-back nak is not part of
// the consumer's stored state, so after a restart the request comes back
// when its 30s ack wait runs out: this test takes about 30 s.
func TestEmbeddedRestartKeepsPendingRequests(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	s.put(t, "b2c/restart", validFor(t, 90*24*time.Hour, "p4ss-restart"))
	j := job("b2c/restart", connectorIDs[0])
	app := appConfig("embedded", "", j)
	app.NATS.StoreDir = t.TempDir()
	app.NATS.Listen = testkit.FreeAddr(t)
	dial := func(what string) *client.Conn {
		t.Helper()
		c, err := client.Dial(context.Background(), "nats://"+app.NATS.Listen, client.Options{Jobs: map[string]int{j.Name: len(j.Connectors)}})
		if err != nil {
			t.Fatalf("dialing the %s server: %v", what, err)
		}
		return c
	}

	// The first worker takes the request and holds it until it stops.
	took := make(chan string, 1)
	h := workertest.Func(func(ctx context.Context, _ jobs.Job, req jobs.Request) []jobs.Outcome {
		took <- req.ID
		<-ctx.Done()
		return nil
	})
	// cmd opens the embedded server first and closes it after the worker.
	firstBus, err := bus.Open(context.Background(), bustest.Options(app))
	if err != nil {
		t.Fatalf("opening the embedded server: %v", err)
	}
	first := startWorkerOn(t, s, app, firstBus, h, 200*time.Millisecond)
	c := dial("embedded")
	id, err := c.Publish(context.Background(), jobs.Request{Job: j.Name, Reason: "restart test"})
	c.Close()
	if err != nil {
		t.Fatalf("publishing: %v", err)
	}
	await(t, took, "the first worker never took the request")
	stopFirst(t, first)
	if err := firstBus.Close(context.Background()); err != nil {
		t.Logf("closing the first embedded server: %v", err)
	}

	startWorker(t, s, app, nil, 0)
	c = dial("restarted")
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	found := errors.New("found")
	var got contract.Event
	err = c.Events(ctx, time.Hour, true, func(ev contract.Event) error {
		if ev.Data.RequestID == id {
			got = ev
			return found
		}
		return nil
	})
	if !errors.Is(err, found) {
		t.Fatalf("no outcome for the pending request %s after the restart: %v", id, err)
	}
	if got.Data.Status != contract.StatusSucceeded || len(s.uploads(connectorIDs[0])) != 1 {
		t.Errorf("outcome %s, uploads %v; want succeeded and one upload", got.Data.Status, s.uploads(connectorIDs[0]))
	}
}
