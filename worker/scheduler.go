package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
)

// scheduler is the service that turns cron schedules into request
// messages. It only enqueues (R11): every tick is a request message,
// deduplicated across replicas by its Msg-Id, and a consumer runs it. At
// start it catches up the slot a job missed while no worker ran. It sleeps
// on the injected clock until the earliest next slot. The start of each
// change window is a slot too (windowNext): a job skipped outside_window
// is requested again when its window opens.
type scheduler struct {
	startstop.Base
	*shared
	next       map[string]time.Time // job → its next cron slot; owned by the loop
	windowNext map[string]time.Time // job → its next window start; owned by the loop
}

// Start catches up missed slots and launches the loop.
func (s *scheduler) Start(ctx context.Context) error {
	runCtx, ok, stopped := s.StartInit(ctx)
	if !ok {
		return nil
	}
	if s.bus() == nil {
		stopped()
		return errNotConnected
	}
	now := s.tune.clock.Now()
	s.next = map[string]time.Time{}
	s.windowNext = map[string]time.Time{}
	for _, j := range s.jobList {
		s.planWindow(j, now)
		if err := s.catchUpWindow(ctx, j, now); err != nil {
			s.log.Warn("catching up an open change window", "job", j.Name, "error", err)
		}
		if j.Next == nil {
			continue
		}
		if err := s.catchUp(ctx, j.Name, j.Next); err != nil {
			s.log.Warn("catching up missed schedule", "job", j.Name, "error", err)
		}
		s.next[j.Name] = j.Next.Next(now)
	}
	go func() {
		defer stopped()
		s.loop(runCtx)
	}()
	return nil
}

func (s *scheduler) loop(ctx context.Context) {
	for {
		wake, ok := s.earliest()
		if !ok {
			<-ctx.Done()
			return
		}
		if err := retry.Sleep(ctx, s.tune.clock, wake.Sub(s.tune.clock.Now())); err != nil {
			return
		}
		s.runOnce(ctx, s.tune.clock.Now())
	}
}

// earliest is the soonest next slot (cron or window start) of any job.
func (s *scheduler) earliest() (time.Time, bool) {
	var first time.Time
	for _, m := range []map[string]time.Time{s.next, s.windowNext} {
		for _, t := range m {
			if first.IsZero() || t.Before(first) {
				first = t
			}
		}
	}
	return first, !first.IsZero()
}

// runOnce fires every job whose next slot is due at now and moves it to the
// slot after now.
func (s *scheduler) runOnce(ctx context.Context, now time.Time) {
	for _, j := range s.jobList {
		slot, ok := s.next[j.Name]
		if !ok || slot.After(now) {
			continue
		}
		if err := s.fire(ctx, j.Name, slot); err != nil {
			s.log.Warn("publishing scheduled request", "job", j.Name, "slot", slot, "error", err)
		}
		s.next[j.Name] = j.Next.Next(now)
	}
	s.runWindows(ctx, now)
}

// fire enqueues the cron request of one slot. Every replica fires it with
// the same Msg-Id, cron-<job>-<unix seconds of the slot>, so the stream
// keeps one.
func (s *scheduler) fire(ctx context.Context, job string, slot time.Time) error {
	return s.enqueue(ctx, job, jobs.TriggerCron, contract.CronMsgID(job, slot))
}

// planWindow sets the job's next window start after now, or forgets the
// job when it has no windows or none opens again.
func (s *scheduler) planWindow(j jobs.Job, now time.Time) {
	if len(j.Windows) == 0 {
		return
	}
	if next := j.WindowAt(now).Next; !next.IsZero() {
		s.windowNext[j.Name] = next
		return
	}
	delete(s.windowNext, j.Name)
}

// runWindows requests every job whose change window opens at or before now,
// and moves it to its next window start.
func (s *scheduler) runWindows(ctx context.Context, now time.Time) {
	for _, j := range s.jobList {
		start, ok := s.windowNext[j.Name]
		if !ok || start.After(now) {
			continue
		}
		if err := s.fireWindow(ctx, j.Name, start); err != nil {
			s.log.Warn("publishing window request", "job", j.Name, "window_start", start, "error", err)
		}
		s.planWindow(j, now)
	}
}

// catchUpWindow requests a job whose change window is open at start while
// a connector of it is still held back (its latest outcome a skip with
// reason outside_window): no worker ran when the window opened. It uses the
// window start's own Msg-Id, so replicas starting together, or one starting
// as another fires the start, publish it once.
func (s *scheduler) catchUpWindow(ctx context.Context, j jobs.Job, now time.Time) error {
	if len(j.Windows) == 0 {
		return nil
	}
	st := j.WindowAt(now)
	if !st.Open {
		return nil
	}
	b := s.bus()
	if b == nil {
		return errNotConnected
	}
	entries, err := client.WatchAll(ctx, b.status, contract.StatusKeysOf(j.Name))
	if err != nil {
		return fmt.Errorf("reading status of job %s: %w", j.Name, err)
	}
	for _, e := range entries {
		var o jobs.Outcome
		if json.Unmarshal(e.Value(), &o) != nil || o.Status != jobs.StatusSkipped || o.Reason != jobs.ReasonOutsideWindow {
			continue
		}
		s.log.Info("change window opened while no worker ran, catching up", "job", j.Name, "window_start", st.Opened)
		return s.fireWindow(ctx, j.Name, st.Opened)
	}
	return nil
}

// fireWindow enqueues the request of a window's start. Every replica fires
// it with the same Msg-Id, window-<job>-<unix seconds of the start>.
func (s *scheduler) fireWindow(ctx context.Context, job string, start time.Time) error {
	return s.enqueue(ctx, job, jobs.TriggerWindow, contract.WindowMsgID(job, start))
}

func (s *scheduler) enqueue(ctx context.Context, job, trigger, msgID string) error {
	b := s.bus()
	if b == nil {
		return errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.tune.opTimeout)
	defer cancel()
	ack, err := client.PublishRequest(ctx, b.js, s.prefix, jobs.Request{Job: job, Trigger: trigger}, msgID)
	if err != nil {
		return err
	}
	s.log.Debug("scheduled request enqueued", "job", job, "msg_id", msgID, "duplicate", ack.Duplicate)
	return nil
}

// catchUp enqueues a request when the job's most recent slot passed with no
// outcome recorded since (or none ever): the worker was down then. It uses
// that slot's own Msg-Id, cron-<job>-<unix of the slot>, so replicas
// starting together, or a replica starting while another fires the tick,
// publish it once.
func (s *scheduler) catchUp(ctx context.Context, job string, sched jobs.Schedule) error {
	slot, ok := prevSlot(sched, s.now())
	if !ok {
		return nil
	}
	b := s.bus()
	if b == nil {
		return errNotConnected
	}
	entries, err := client.WatchAll(ctx, b.status, contract.StatusKeysOf(job))
	if err != nil {
		return fmt.Errorf("reading status of job %s: %w", job, err)
	}
	ran := false
	for _, e := range entries {
		if strings.HasSuffix(e.Key(), "._") {
			continue // a bad request is no rotation
		}
		if !e.Created().Before(slot) {
			return nil
		}
		ran = true
	}
	if ran {
		s.log.Info("schedule missed while no worker ran, catching up", "job", job, "slot", slot)
	} else {
		s.log.Info("first run of the schedule", "job", job)
	}
	return s.fire(ctx, job, slot)
}

// prevSlot is the latest firing of sched at or before now. Schedules only
// offer Next, so it looks back in growing steps of the schedule's period.
func prevSlot(sched jobs.Schedule, now time.Time) (time.Time, bool) {
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
