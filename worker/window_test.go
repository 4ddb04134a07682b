package worker

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// TestWindowStartPublishes drives the scheduler on a clock that jumps to
// each wake-up at once: the next window's start makes a request with
// trigger window and Msg-Id window-<job>-<unix of the start>.
func TestWindowStartPublishes(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	rot := workertest.NewRecorder(nil)
	start := time.Date(2026, 11, 25, 10, 3, 0, 0, time.UTC) // after today's window
	startWorker(t, connect(t, s), testApp(workertest.WindowJob(t)), rot, func(w *Worker) { w.arch.Clock = jumpClock{testkit.NewClock(start)} })
	if id := contract.WindowMsgID(jobName, time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)); id != "window-"+jobName+"-1795680000" {
		t.Fatalf("WindowMsgID = %q", id)
	}
	// The clock jumps from start to start, so several requests may be in
	// flight: each must be a window's start, 08:00 UTC on a later day.
	got := rot.NextCall(t)
	sec, err := strconv.ParseInt(strings.TrimPrefix(got.ID, "window-"+jobName+"-"), 10, 64)
	at := time.Unix(sec, 0).UTC()
	if err != nil || got.Trigger != contract.TriggerWindow || at.Hour() != 8 || at.Minute() != 0 || !at.After(start) {
		t.Fatalf("first call %q (%s), want window-%s-<unix of an 08:00 UTC start after %s> (window)", got.ID, got.Trigger, jobName, start)
	}
}

// TestThreeReplicasOneRequestPerWindow: every replica fires a window's
// start; the stream keeps one request.
func TestThreeReplicasOneRequestPerWindow(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	var ww []*Worker
	for range 3 {
		// A clock far before any window: the loops sleep through the test.
		clock := &stillClock{now: time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)}
		ww = append(ww, r.start(t, testApp(workertest.WindowJob(t)), rot, func(w *Worker) { w.arch.Clock = clock }))
	}
	start := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	fireAll(t, ww, func(w *Worker) error { return w.scheduler.FireWindow(context.Background(), jobName, start) })
	if got := rot.NextCall(t); got.ID != contract.WindowMsgID(jobName, start) || got.Trigger != contract.TriggerWindow {
		t.Fatalf("Rotate got %q (%s), want the window request", got.ID, got.Trigger)
	}
	workertest.Eventually(t, "window request settled", workertest.Settled(r.JS))
	rot.NoMoreCalls(t)
}

// stillClock is a retry.Clock that never moves and whose After never
// fires.
type stillClock struct{ now time.Time }

func (c *stillClock) Now() time.Time                       { return c.now }
func (c *stillClock) After(time.Duration) <-chan time.Time { return nil }

// TestWindowCatchUp: a worker that starts inside an open window while a
// connector is still held back outside_window requests the job under the
// window start's Msg-Id; one that finds nothing held back requests nothing.
func TestWindowCatchUp(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	before := &stillClock{now: time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)}
	r.start(t, testApp(workertest.WindowJob(t)), rot, func(w *Worker) { w.arch.Clock = before })

	kv, err := r.JS.KeyValue(context.Background(), contract.StatusBucket)
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	held := jobs.Outcome{Job: jobName, Connector: conn1, Status: contract.StatusSkipped, Reason: jobs.ReasonOutsideWindow, NextWindow: &opened, Final: true}
	body, err := json.Marshal(contract.NextStatus(nil, held, before.now))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Put(context.Background(), contract.StatusKey(jobName, conn1), body); err != nil {
		t.Fatal(err)
	}
	inside := &stillClock{now: opened.Add(30 * time.Minute)}
	r.start(t, testApp(workertest.WindowJob(t)), rot, func(w *Worker) { w.arch.Clock = inside })
	if got := rot.NextCall(t); got.ID != contract.WindowMsgID(jobName, opened) || got.Trigger != contract.TriggerWindow {
		t.Fatalf("Rotate got %q (%s), want the window's catch-up", got.ID, got.Trigger)
	}
	workertest.Eventually(t, "catch-up settled", workertest.Settled(r.JS))

	// The run replaced the skip: a third replica starting now finds nothing held back.
	r.start(t, testApp(workertest.WindowJob(t)), rot, func(w *Worker) { w.arch.Clock = inside })
	rot.NoMoreCalls(t)
}
