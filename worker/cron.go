package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
)

// startCron publishes a catch-up request for every scheduled job that missed
// its last slot, then schedules the jobs. Cron only enqueues (R11): every
// tick is a request message, deduplicated across replicas by its Msg-Id.
func (w *Worker) startCron(ctx context.Context) error {
	c := cron.New(
		cron.WithLocation(time.UTC),
		cron.WithChain(cron.Recover(cronLogger{w.log})),
		cron.WithLogger(cronLogger{w.log}),
	)
	scheduled := 0
	for _, j := range w.app.Jobs {
		if j.Schedule == "" {
			continue
		}
		parsed, err := config.ParseSchedule(j.Schedule)
		if err != nil {
			return fmt.Errorf("scheduling job %s: %w", j.Name, err)
		}
		sched := onGrid(parsed)
		if err := w.catchUp(ctx, j.Name, sched); err != nil {
			w.log.Warn("catching up missed schedule", "job", j.Name, "error", err)
		}
		cj := &cronJob{w: w, c: c, job: j.Name}
		cj.id = c.Schedule(sched, cj)
		scheduled++
	}
	if scheduled == 0 {
		return nil
	}
	w.cron = c
	c.Start()
	return nil
}

// cronJob is one job's entry. Run derives the slot it fires for from the
// entry's Prev, which robfig/cron sets to the scheduled time before anyone
// can read the entry.
type cronJob struct {
	w   *Worker
	c   *cron.Cron
	id  cron.EntryID
	job string
}

func (j *cronJob) Run() {
	slot := j.c.Entry(j.id).Prev
	if slot.IsZero() {
		slot = j.w.now().Truncate(time.Second)
	}
	if err := j.w.fire(j.job, slot); err != nil {
		j.w.log.Warn("publishing scheduled request", "job", j.job, "slot", slot, "error", err)
	}
}

// fire enqueues the cron request of one slot. Every replica fires it with
// the same Msg-Id, cron-<job>-<unix seconds of the slot>, so the stream
// keeps one.
func (w *Worker) fire(job string, slot time.Time) error {
	id := "cron-" + job + "-" + strconv.FormatInt(slot.Unix(), 10)
	return w.enqueue(job, id)
}

func (w *Worker) enqueue(job, msgID string) error {
	ctx, cancel := context.WithTimeout(w.bgCtx, w.tune.opTimeout)
	defer cancel()
	ack, err := publishRequest(ctx, w.js, w.prefix, jobs.Request{Job: job, Trigger: jobs.TriggerCron}, msgID)
	if err != nil {
		return err
	}
	w.log.Debug("scheduled request enqueued", "job", job, "msg_id", msgID, "duplicate", ack.Duplicate)
	return nil
}

// catchUp enqueues a request when the job's most recent slot passed with no
// outcome recorded since (or none ever): the worker was down then. The
// Msg-Id catchup-<job>-<unix of the slot> lets replicas starting together
// publish it once.
func (w *Worker) catchUp(ctx context.Context, job string, sched cron.Schedule) error {
	slot, since, ok := missedSlot(sched, w.now())
	if !ok {
		return nil
	}
	entries, err := watchAll(ctx, w.status, job+".*")
	if err != nil {
		return fmt.Errorf("reading status of job %s: %w", job, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Key(), "._") {
			continue // a bad request is no rotation
		}
		if !e.Created().Before(since) {
			return nil
		}
	}
	w.log.Info("schedule missed, catching up", "job", job, "slot", slot)
	return w.enqueue(job, "catchup-"+job+"-"+strconv.FormatInt(slot.Unix(), 10))
}

// gridSchedule runs an @every schedule on a fixed grid (the multiples of
// its delay since Go's zero time) rather than relative to when each worker
// started, so that replicas started at different moments fire the same
// slots and the Msg-Id dedupe keeps one request per tick.
type gridSchedule struct{ every time.Duration }

// Next is the first grid point after t.
func (g gridSchedule) Next(t time.Time) time.Time { return t.Truncate(g.every).Add(g.every) }

// onGrid puts an @every schedule on its grid and leaves cron expressions,
// which have one already, as they are.
func onGrid(s cron.Schedule) cron.Schedule {
	if c, ok := s.(cron.ConstantDelaySchedule); ok && c.Delay > 0 {
		return gridSchedule{every: c.Delay}
	}
	return s
}

// missedSlot says which slot a worker starting at now would have missed if
// nothing ran since `since`: the schedule's latest firing at or before now
// (with @every on its grid, see gridSchedule).
func missedSlot(sched cron.Schedule, now time.Time) (slot, since time.Time, ok bool) {
	slot, ok = prevSlot(onGrid(sched), now)
	return slot, slot, ok
}

// prevSlot is the latest firing of sched at or before now. Schedules only
// offer Next, so it looks back in growing steps of the schedule's period.
func prevSlot(sched cron.Schedule, now time.Time) (time.Time, bool) {
	n1 := sched.Next(now)
	period := sched.Next(n1).Sub(n1)
	if n1.IsZero() || period <= 0 {
		return time.Time{}, false
	}
	for back := 2 * period; back <= 4096*period; back *= 2 {
		s := sched.Next(now.Add(-back))
		if s.IsZero() || s.After(now) {
			continue
		}
		for range 100000 {
			n := sched.Next(s)
			if n.IsZero() || n.After(now) {
				return s, true
			}
			s = n
		}
		return time.Time{}, false
	}
	return time.Time{}, false
}

// cronLogger adapts slog to robfig/cron's logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) {
	l.log.Debug("cron: "+msg, kv...)
}

func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "error", err)...)
}
