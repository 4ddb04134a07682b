package worker

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/worker/schedule"
)

// scheduledApp is the test app with a daily schedule, which never fires
// during a test: ticks are driven through fire.
func scheduledApp(instance string) *config.Config {
	j := workertest.Job()
	j.Schedule = "0 3 * * *"
	app := testApp(j)
	app.Instance = instance
	return app
}

func TestThreeReplicasOneRequestPerTick(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	var ww []*Worker
	for i := range 3 {
		ww = append(ww, r.start(t, scheduledApp("replica-"+strconv.Itoa(i)), rot))
	}
	// Start published one catch-up request (no status yet); let it run.
	if got := rot.NextCall(t); !strings.HasPrefix(got.ID, "cron-"+jobName+"-") || got.Trigger != contract.TriggerCron {
		t.Fatalf("first call %+v, want the catch-up", got)
	}
	workertest.Eventually(t, "catch-up settled", workertest.Settled(r.JS))
	rot.NoMoreCalls(t)

	slot := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	fireAll(t, ww, func(w *Worker) error { return w.scheduler.Fire(context.Background(), jobName, slot) })
	want := "cron-" + jobName + "-" + strconv.FormatInt(slot.Unix(), 10)
	if got := rot.NextCall(t); got.ID != want || got.Trigger != contract.TriggerCron {
		t.Fatalf("Rotate got %q (%s), want %q (cron)", got.ID, got.Trigger, want)
	}
	workertest.Eventually(t, "tick settled", workertest.Settled(r.JS))
	rot.NoMoreCalls(t)
}

// TestCronEveryPublishes drives the scheduler on a clock that jumps to
// each wake-up at once: an @every 10m schedule fires cron requests whose
// Msg-Id holds the grid slot.
func TestCronEveryPublishes(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	j := workertest.Job()
	j.Schedule = "@every 10m"
	rot := workertest.NewRecorder(nil)
	start := time.Date(2026, 11, 25, 10, 3, 0, 0, time.UTC)
	startWorker(t, connect(t, s), testApp(j), rot, func(w *Worker) { w.arch.Clock = jumpClock{testkit.NewClock(start)} })
	deadline := time.After(waitTimeout)
	for {
		select {
		case got := <-rot.Calls():
			if id, ok := strings.CutPrefix(got.ID, "cron-"+jobName+"-"); ok {
				sec, err := strconv.ParseInt(id, 10, 64)
				if err != nil || sec%600 != 0 || time.Unix(sec, 0).Before(start) {
					t.Errorf("cron id %q does not hold a 10-minute grid slot after the start", got.ID)
				}
				return
			}
		case <-deadline:
			t.Fatal("no cron request before the deadline")
		}
	}
}

// fireAll has every replica fire at once, as replicas whose schedules
// wake together do.
func fireAll(t *testing.T, ww []*Worker, fire func(*Worker) error) {
	t.Helper()
	var wg sync.WaitGroup
	for _, w := range ww {
		wg.Go(func() {
			if err := fire(w); err != nil {
				t.Errorf("firing on %s: %v", w.instance, err)
			}
		})
	}
	wg.Wait()
}

// jumpClock is a retry.Clock whose After fires at once and moves the clock
// to the end of the wait.
type jumpClock struct{ *testkit.Clock }

func (c jumpClock) After(d time.Duration) <-chan time.Time {
	c.Add(max(d, 0))
	ch := make(chan time.Time, 1)
	ch <- c.Now()
	return ch
}

// caughtUp starts the scheduled worker "a" where no status is stored
// yet, so that it catches up, and waits for the catch-up's run.
func caughtUp(t *testing.T) (rig, *workertest.Recorder, *Worker) {
	t.Helper()
	r := newRig(t)
	rot := workertest.NewRecorder(nil)
	a := r.start(t, scheduledApp("a"), rot)
	rot.NextCall(t)
	return r, rot, a
}

func TestCatchUpAfterMissedSlot(t *testing.T) {
	t.Parallel()
	// First start: no status at all, so it catches up; the run stores status.
	r, rot, a := caughtUp(t)
	workertest.Eventually(t, "status stored", func() bool {
		e, err := a.bus().status.Get(context.Background(), jobName+"."+conn2)
		return err == nil && e != nil
	})
	if err := a.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Two days later the worker was down over two 03:00 slots.
	later := time.Now().Add(48 * time.Hour)
	b := newWorker(t, connect(t, r.Server), scheduledApp("b"), rot)
	b.arch.Now = func() time.Time { return later }
	if err := b.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	slot, _ := schedule.PrevSlot(workertest.Schedule(t, "0 3 * * *"), later)
	want := "cron-" + jobName + "-" + strconv.FormatInt(slot.Unix(), 10) // the tick's own id: one request per slot
	if got := rot.NextCall(t); got.ID != want {
		t.Fatalf("catch-up id %q, want %q", got.ID, want)
	}
}

func TestNoCatchUpWhenRecent(t *testing.T) {
	t.Parallel()
	_, _, a := caughtUp(t)
	waitSettled(t, a, "catch-up settled")
	// Status is fresh: a second worker has nothing to catch up. catchUp is
	// called directly so that its answer is observed, not raced.
	if err := a.scheduler.CatchUp(context.Background(), jobName, workertest.Schedule(t, "0 3 * * *")); err != nil {
		t.Fatal(err)
	}
	info, err := a.bus().requests.Info(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if info.State.Msgs != 0 || info.State.LastSeq != 1 {
		t.Errorf("catch-up published with fresh status: %+v", info.State)
	}
}
