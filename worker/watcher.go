package worker

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
)

// VersionLister reads a KV path's metadata (current_version and the
// versions), never its data, so that watching needs no read on the secret.
// A path never written returns a zero History and no error.
// *vaultsrc.Client implements it.
type VersionLister interface {
	Versions(ctx context.Context, ref jobs.SourceRef) (jobs.History, error)
}

// watchJitter spreads each job's polls over ±10% of its interval, so that
// replicas started together do not hit Vault in step.
const watchJitter = 0.1

// watcher is the service that notices a new KV version of a job whose
// config sets watch, so that a bundle written by a person or a pipeline
// rolls out within the interval without anyone publishing an event. Like
// the scheduler it only enqueues (R11): a change of the current version to
// N created at C is a request pinned to N with the Msg-Id
// vault-<job>-<N>-<C as Unix seconds>, which every replica sends and the
// stream keeps once. A version is known by its number and its created_time:
// after `vault kv metadata delete` and a new write, versions restart at 1,
// and the new version 1 is another version than the old one.
//
// The first poll of a job only remembers current_version, unless no
// outcome of the job was recorded since that version was created (or none
// ever): then the version was written while no worker watched, and it is
// requested. A version already rolled out, or rolled back from since, is
// left alone after a restart.
type watcher struct {
	startstop.Base
	*shared
	versions VersionLister

	mu   sync.Mutex           // serialises runOnce between the loop and tests
	seen map[string]versionID // job → current version last seen
	next map[string]time.Time // job → its next poll
	rnd  func() float64       // jitter source; nil: math/rand/v2
}

// versionID tells one KV version from another: its number, and its
// created_time, which tells a rewritten path's version 1 from the old one.
type versionID struct {
	n       int
	created time.Time
}

// currentID is h's current version.
func currentID(h jobs.History) versionID {
	id := versionID{n: h.Current}
	if v, ok := h.Version(h.Current); ok {
		id.created = v.Created
	}
	return id
}

// msgID is the request's Msg-Id for version id of job.
func (id versionID) msgID(job string) string { return contract.WatchMsgID(job, id.n, id.created) }

// watched is the jobs that set watch, or none when there is no lister.
func (w *watcher) watched() []jobs.Job {
	if w.versions == nil {
		return nil
	}
	var out []jobs.Job
	for _, j := range w.jobList {
		if j.Watch > 0 {
			out = append(out, j)
		}
	}
	return out
}

// Start launches the loop; the first poll of every watched job happens at
// once in it, so that a slow Vault does not hold up the worker's start.
func (w *watcher) Start(ctx context.Context) error {
	runCtx, ok, stopped := w.StartInit(ctx)
	if !ok {
		return nil
	}
	watched := w.watched()
	if len(watched) == 0 {
		stopped()
		return nil
	}
	if w.bus() == nil {
		stopped()
		return errNotConnected
	}
	w.mu.Lock()
	now := w.tune.clock.Now()
	w.seen, w.next = map[string]versionID{}, map[string]time.Time{}
	for _, j := range watched {
		w.next[j.Name] = now
	}
	w.mu.Unlock()
	go func() {
		defer stopped()
		w.loop(runCtx)
	}()
	return nil
}

func (w *watcher) loop(ctx context.Context) {
	for {
		w.mu.Lock()
		wake := w.earliest()
		w.mu.Unlock()
		if err := retry.Sleep(ctx, w.tune.clock, wake.Sub(w.tune.clock.Now())); err != nil {
			return
		}
		w.runOnce(ctx, w.tune.clock.Now())
	}
}

// earliest is the soonest next poll of any job. Called with mu held.
func (w *watcher) earliest() time.Time {
	var first time.Time
	for _, t := range w.next {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first
}

// runOnce polls every watched job whose next poll is due at now, requests
// the new versions, and moves each polled job to its next poll. A failed
// poll is logged and retried at the next one, remembering what it knew.
func (w *watcher) runOnce(ctx context.Context, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range w.watched() {
		due, ok := w.next[j.Name]
		if !ok || due.After(now) {
			continue
		}
		w.next[j.Name] = now.Add(retry.Spread(j.Watch, watchJitter, w.rnd))
		if err := w.poll(ctx, j); err != nil && ctx.Err() == nil {
			w.log.Warn("watching vault versions", "job", j.Name, "error", err)
		}
	}
}

// poll reads one job's current_version and requests it when it changed.
func (w *watcher) poll(ctx context.Context, j jobs.Job) error {
	ctx, cancel := context.WithTimeout(ctx, w.tune.opTimeout)
	defer cancel()
	h, err := w.versions.Versions(ctx, j.Source)
	if err != nil {
		return err
	}
	cur := currentID(h)
	last, known := w.seen[j.Name]
	if h.Current == 0 || (known && cur.n == last.n && cur.created.Equal(last.created)) {
		w.seen[j.Name] = cur
		return nil
	}
	if !known {
		handled, err := w.handledSince(ctx, j.Name, h)
		if err != nil {
			return err
		}
		if handled {
			w.seen[j.Name] = cur
			return nil
		}
	}
	if err := w.request(ctx, j.Name, cur); err != nil {
		return err
	}
	w.seen[j.Name] = cur
	return nil
}

// handledSince reports whether an outcome of job was recorded at or after
// the creation of h's current version: then a worker already saw it.
func (w *watcher) handledSince(ctx context.Context, job string, h jobs.History) (bool, error) {
	b := w.bus()
	if b == nil {
		return false, errNotConnected
	}
	var created time.Time
	if v, ok := h.Version(h.Current); ok {
		created = v.Created
	}
	entries, err := client.WatchAll(ctx, b.status, contract.StatusKeysOf(job))
	if err != nil {
		return false, fmt.Errorf("reading status of job %s: %w", job, err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Key(), "._") {
			continue // a bad request is no rotation
		}
		if !e.Created().Before(created) {
			return true, nil
		}
	}
	return false, nil
}

// request enqueues the request for version id of job. Every replica sends
// it with the same Msg-Id, vault-<job>-<n>-<created>, so the stream keeps one.
func (w *watcher) request(ctx context.Context, job string, id versionID) error {
	b := w.bus()
	if b == nil {
		return errNotConnected
	}
	msgID, n := id.msgID(job), id.n
	req := jobs.Request{Job: job, Version: n, Trigger: jobs.TriggerWatch}
	ack, err := client.PublishRequest(ctx, b.js, w.prefix, req, msgID)
	if err != nil {
		return err
	}
	w.log.Info("new vault version, rotation requested", "job", job, "version", n, "msg_id", msgID, "duplicate", ack.Duplicate)
	return nil
}
