package worker

import (
	"context"
	"testing"

	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/internal/workertest"
)

// TestServicesStartStop: every service starts, stops twice, and stops
// without having started, over a real server.
func TestServicesStartStop(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	app := listening()
	app.Jobs[0].Schedule = "0 3 * * *"
	ctx := context.Background()
	build := func() *Worker { return newWorker(t, connect(t, s), app, workertest.NewRecorder(nil)) }
	for name, pick := range map[string]func(*Worker) startstop.Service{
		"http":      func(w *Worker) startstop.Service { return w.http },
		"nats":      func(w *Worker) startstop.Service { return w.conn },
		"keeper":    func(w *Worker) startstop.Service { return w.keeper },
		"view":      func(w *Worker) startstop.Service { return w.view },
		"advisory":  func(w *Worker) startstop.Service { return w.advisory },
		"consumer":  func(w *Worker) startstop.Service { return w.consumer },
		"scheduler": func(w *Worker) startstop.Service { return w.scheduler },
	} {
		t.Run(name, func(t *testing.T) {
			w := build()
			svc := pick(w)
			if err := svc.Stop(ctx); err != nil {
				t.Fatalf("stop before start: %v", err)
			}
			if name != "http" && name != "nats" && name != "keeper" {
				// These need the bus: without it they refuse to start.
				if err := svc.Start(ctx); err == nil {
					t.Fatal("started without a NATS connection")
				}
				if err := w.conn.Start(ctx); err != nil {
					t.Fatal(err)
				}
				defer func() { _ = w.conn.Stop(ctx) }()
			}
			for range 2 {
				if err := svc.Start(ctx); err != nil {
					t.Fatalf("start: %v", err)
				}
			}
			for range 2 {
				if err := svc.Stop(ctx); err != nil {
					t.Fatalf("stop: %v", err)
				}
			}
		})
	}
}

func TestHTTPBusyPortFailsAtOnce(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	app := listening()
	first := r.start(t, app, workertest.NewRecorder(nil))
	app.HTTP.Listen = first.http.srv.Addr
	if app.HTTP.Listen == "" {
		t.Skip("no address recorded")
	}
	second := newWorker(t, connect(t, r.Server), app, workertest.NewRecorder(nil))
	err := second.Start(context.Background())
	if err == nil {
		t.Fatal("second worker on a busy port started")
	}
	if second.conn.Running() {
		t.Error("the connection service ran although HTTP, started first, failed")
	}
}
