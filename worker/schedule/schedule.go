// Package schedule owns the worker's cron scheduler: it turns each job's
// cron schedule and the starts of its change windows into request
// messages, and catches up a slot missed while no worker ran. It only
// enqueues; the worker's consumer runs what it enqueued.
package schedule

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
)

// Scheduler is the service that turns cron schedules into request
// messages. It only enqueues (R11): every tick is a request message,
// deduplicated across replicas by its Msg-Id, and a consumer runs it. At
// start it catches up the slot a job missed while no worker ran. It sleeps
// on the injected clock until the earliest next slot. The start of each
// change window is a slot too (windowNext): a job skipped outside_window
// is requested again when its window opens.
type Scheduler struct {
	startstop.Base
	baseservice.BaseService
	prefix  string
	jobList []jobs.Job
	js      jetstream.JetStream
	status  func() jetstream.KeyValue
	// OpTimeout bounds one publish.
	OpTimeout time.Duration

	next       map[string]time.Time // job → its next cron slot; owned by the loop
	windowNext map[string]time.Time // job → its next window start; owned by the loop
}

// Options are what a Scheduler needs.
type Options struct {
	Prefix string     // of the request subjects
	Jobs   []jobs.Job // schedules parsed
	// JetStream publishes the requests; Status finds the status bucket
	// (nil until the worker provisioned it), read to catch up.
	JetStream jetstream.JetStream
	Status    func() jetstream.KeyValue
}

// New returns a Scheduler of o's jobs.
func New(a *baseservice.Archetype, o Options) *Scheduler {
	s := &Scheduler{prefix: o.Prefix, jobList: o.Jobs, js: o.JetStream, status: o.Status, OpTimeout: 10 * time.Second}
	s.Init(a)
	return s
}

// Start catches up missed slots and launches the loop.
func (s *Scheduler) Start(ctx context.Context) error {
	return s.Launch(ctx, func(runCtx context.Context) (func(), error) {
		if s.js == nil || s.status() == nil {
			return nil, baseservice.ErrNotConnected
		}
		now := s.Clock().Now()
		s.next = map[string]time.Time{}
		s.windowNext = map[string]time.Time{}
		for _, j := range s.jobList {
			s.planWindow(j, now)
			if err := s.catchUpWindow(ctx, j, now); err != nil {
				s.Logger().Warn("catching up an open change window", "job", j.Name, "error", err)
			}
			if j.Next == nil {
				continue
			}
			if err := s.CatchUp(ctx, j.Name, j.Next); err != nil {
				s.Logger().Warn("catching up missed schedule", "job", j.Name, "error", err)
			}
			s.next[j.Name] = j.Next.Next(now)
		}
		return func() { s.Repeat(runCtx, s.step) }, nil
	})
}

// step fires what is due and returns how long to sleep until the soonest
// next slot (cron or window start) of any job; with none left it waits
// for Stop.
func (s *Scheduler) step(ctx context.Context) time.Duration {
	s.runOnce(ctx, s.Clock().Now())
	var first time.Time
	for _, m := range []map[string]time.Time{s.next, s.windowNext} {
		for _, t := range m {
			if first.IsZero() || t.Before(first) {
				first = t
			}
		}
	}
	if first.IsZero() {
		<-ctx.Done()
	}
	return first.Sub(s.Clock().Now())
}

// runOnce fires every job whose next cron slot, then every job whose next
// change window start, is due at now, and moves each on to its next one
// after now.
func (s *Scheduler) runOnce(ctx context.Context, now time.Time) {
	for _, k := range []struct {
		due    map[string]time.Time
		fire   func(context.Context, string, time.Time) error
		what   string // the log line's message, and its key for the time
		key    string
		moveOn func(jobs.Job, time.Time)
	}{
		{s.next, s.Fire, "publishing scheduled request", "slot", func(j jobs.Job, now time.Time) { s.next[j.Name] = j.Next.Next(now) }},
		{s.windowNext, s.FireWindow, "publishing window request", "window_start", s.planWindow},
	} {
		for _, j := range s.jobList {
			at, ok := k.due[j.Name]
			if !ok || at.After(now) {
				continue
			}
			if err := k.fire(ctx, j.Name, at); err != nil {
				s.Logger().Warn(k.what, "job", j.Name, k.key, at, "error", err)
			}
			k.moveOn(j, now)
		}
	}
}

// Fire enqueues the cron request of one slot. Every replica fires it with
// the same Msg-Id, cron-<job>-<unix seconds of the slot>, so the stream
// keeps one.
func (s *Scheduler) Fire(ctx context.Context, job string, slot time.Time) error {
	return s.enqueue(ctx, job, contract.TriggerCron, contract.CronMsgID(job, slot))
}

// planWindow sets the job's next window start after now, or forgets the
// job when it has no windows or none opens again.
func (s *Scheduler) planWindow(j jobs.Job, now time.Time) {
	if len(j.Windows) == 0 {
		return
	}
	if next := j.WindowAt(now).Next; !next.IsZero() {
		s.windowNext[j.Name] = next
		return
	}
	delete(s.windowNext, j.Name)
}

// catchUpWindow requests a job whose change window is open at start while
// a connector of it is still held back (its latest outcome a skip with
// reason outside_window): no worker ran when the window opened. It uses the
// window start's own Msg-Id, so replicas starting together, or one starting
// as another fires the start, publish it once.
func (s *Scheduler) catchUpWindow(ctx context.Context, j jobs.Job, now time.Time) error {
	if len(j.Windows) == 0 {
		return nil
	}
	st := j.WindowAt(now)
	if !st.Open {
		return nil
	}
	kv := s.status()
	if kv == nil {
		return baseservice.ErrNotConnected
	}
	entries, err := client.WatchAll(ctx, kv, contract.StatusKeysOf(j.Name))
	if err != nil {
		return fmt.Errorf("reading status of job %s: %w", j.Name, err)
	}
	for _, e := range entries {
		var o jobs.Outcome
		if json.Unmarshal(e.Value(), &o) != nil || o.Status != contract.StatusSkipped || o.Reason != jobs.ReasonOutsideWindow {
			continue
		}
		s.Logger().Info("change window opened while no worker ran, catching up", "job", j.Name, "window_start", st.Opened)
		return s.FireWindow(ctx, j.Name, st.Opened)
	}
	return nil
}

// FireWindow enqueues the request of a window's start. Every replica fires
// it with the same Msg-Id, window-<job>-<unix seconds of the start>.
func (s *Scheduler) FireWindow(ctx context.Context, job string, start time.Time) error {
	return s.enqueue(ctx, job, contract.TriggerWindow, contract.WindowMsgID(job, start))
}

func (s *Scheduler) enqueue(ctx context.Context, job, trigger, msgID string) error {
	if s.js == nil {
		return baseservice.ErrNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, s.OpTimeout)
	defer cancel()
	ack, err := client.PublishRequest(ctx, s.js, s.prefix, jobs.Request{Job: job, Trigger: trigger}, msgID)
	if err != nil {
		return err
	}
	s.Logger().Debug("scheduled request enqueued", "job", job, "msg_id", msgID, "duplicate", ack.Duplicate)
	return nil
}

// CatchUp enqueues a request when the job's most recent slot passed with no
// outcome recorded since (or none ever): the worker was down then. It uses
// that slot's own Msg-Id, cron-<job>-<unix of the slot>, so replicas
// starting together, or a replica starting while another fires the tick,
// publish it once.
func (s *Scheduler) CatchUp(ctx context.Context, job string, sched jobs.Schedule) error {
	slot, ok := PrevSlot(sched, s.Now())
	if !ok {
		return nil
	}
	kv := s.status()
	if kv == nil {
		return baseservice.ErrNotConnected
	}
	since, ran, err := client.RanSince(ctx, kv, job, slot)
	switch {
	case err != nil || since:
		return err
	case ran:
		s.Logger().Info("schedule missed while no worker ran, catching up", "job", job, "slot", slot)
	default:
		s.Logger().Info("first run of the schedule", "job", job)
	}
	return s.Fire(ctx, job, slot)
}

// PrevSlot is the latest firing of sched at or before now. Schedules only
// offer Next, so it looks back in growing steps of the schedule's period.
func PrevSlot(sched jobs.Schedule, now time.Time) (time.Time, bool) {
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
