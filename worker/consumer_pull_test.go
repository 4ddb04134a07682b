package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// TestBusyReplicaHoldsNoRequestItCannotStart: a replica whose every slot
// is busy pulls no more requests. It used to keep a pull open while busy,
// so the server delivered requests into a client buffer that nobody read:
// they aged towards the ack wait unseen while an idle replica could have
// taken them, and the buffer, shared with the server's heartbeats and
// status messages, overflowed (`slow consumer, messages dropped` on the
// pull's _INBOX) and lost deliveries. Here the idle replica must take
// every request the busy one cannot start.
func TestBusyReplicaHoldsNoRequestItCannotStart(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	jj := make([]jobs.Job, 10)
	for i := range jj {
		jj[i] = workertest.Job()
		jj[i].Name = fmt.Sprintf("job-%d", i)
	}
	app := testApp(jj...)
	gate := make(chan struct{})
	defer close(gate)
	busy := workertest.NewRecorder(func(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		select {
		case <-gate:
		case <-ctx.Done():
		}
		return workertest.Succeed(job, req)
	})
	r.start(t, app, busy)
	for _, j := range jj {
		r.Request(t, j.Name, `{"job":"`+j.Name+`"}`, "busy-"+j.Name)
	}
	for range app.Concurrency {
		busy.NextCall(t) // every slot of the first replica is taken
	}
	idle := workertest.NewRecorder(nil)
	r.start(t, app, idle)
	for range len(jj) - app.Concurrency {
		idle.NextCall(t)
	}
	select {
	case r := <-busy.Calls():
		t.Errorf("the busy replica ran %s with no free slot", r.ID)
	default:
	}
}

// TestSlowConsumerIsCountedAndLogged: a subscription on the worker's own
// connection that falls behind is counted in
// certrotator_nats_slow_consumer_total and logged with its subject, not
// only printed by nats.go on stderr.
func TestSlowConsumerIsCountedAndLogged(t *testing.T) {
	t.Parallel()
	app := testApp()
	var logs testkit.LogBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	cfg := configFor(t, app, workertest.NewRecorder(nil), nil)
	// As cmd opens it: an embedded server, and the bus logs with the
	// process logger.
	opts := bustest.Options(app)
	opts.StoreDir, opts.Logger = t.TempDir(), logger
	cfg.Bus, cfg.Logger = bustest.Open(t, opts), logger
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	nc := w.conn.bus.Conn()
	sub, err := nc.ChanSubscribe("probe.slow", make(chan *nats.Msg, 1)) // never read
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	for range 3 {
		if err := nc.Publish("probe.slow", []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Flush(); err != nil {
		t.Fatal(err)
	}
	workertest.Eventually(t, "the slow consumer counted", func() bool {
		return testutilCount(t, w, "certrotator_nats_slow_consumer_total") >= 1
	})
	workertest.Eventually(t, "the slow consumer logged", func() bool {
		return strings.Contains(logs.String(), "messages dropped") && strings.Contains(logs.String(), "probe.slow")
	})
}
