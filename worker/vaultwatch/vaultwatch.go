// Package vaultwatch owns the worker's watch of Vault versions: it polls
// the KV metadata of the jobs that set watch and turns a new version into
// a request message. Like the scheduler it only enqueues; the worker's
// consumer runs what it enqueued.
package vaultwatch

import (
	"context"
	"sync"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
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

// Watcher is the service that notices a new KV version of a job whose
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
type Watcher struct {
	startstop.Base
	baseservice.BaseService
	prefix   string
	jobList  []jobs.Job
	js       jetstream.JetStream
	status   func() jetstream.KeyValue
	versions VersionLister
	// OpTimeout bounds one poll.
	OpTimeout time.Duration

	mu   sync.Mutex           // serialises runOnce between the loop and tests
	seen map[string]versionID // job → current version last seen
	next map[string]time.Time // job → its next poll
	rnd  func() float64       // jitter source; nil: math/rand/v2
}

// Options are what a Watcher needs.
type Options struct {
	Prefix string     // of the request subjects
	Jobs   []jobs.Job // those that set watch are watched
	// Versions reads the KV versions; nil disables watching.
	Versions VersionLister
	// JetStream publishes the requests; Status finds the status bucket
	// (nil until the worker provisioned it), read at a job's first poll.
	JetStream jetstream.JetStream
	Status    func() jetstream.KeyValue
}

// New returns a Watcher of o's jobs.
func New(a *baseservice.Archetype, o Options) *Watcher {
	w := &Watcher{prefix: o.Prefix, jobList: o.Jobs, js: o.JetStream, status: o.Status, versions: o.Versions, OpTimeout: 10 * time.Second}
	w.Init(a)
	return w
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

// Watched is the jobs that set watch, or none when there is no lister.
func (w *Watcher) Watched() []jobs.Job {
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
func (w *Watcher) Start(ctx context.Context) error {
	return w.Launch(ctx, func(runCtx context.Context) (func(), error) {
		watched := w.Watched()
		switch {
		case len(watched) == 0:
			return nil, nil
		case w.js == nil || w.status() == nil:
			return nil, baseservice.ErrNotConnected
		}
		w.mu.Lock()
		defer w.mu.Unlock()
		now := w.Clock().Now()
		w.seen, w.next = map[string]versionID{}, map[string]time.Time{}
		for _, j := range watched {
			w.next[j.Name] = now
		}
		return func() { w.Repeat(runCtx, w.step) }, nil
	})
}

// step polls the jobs due and returns how long to sleep until the soonest
// next poll of any job.
func (w *Watcher) step(ctx context.Context) time.Duration {
	w.RunOnce(ctx, w.Clock().Now())
	w.mu.Lock()
	defer w.mu.Unlock()
	var first time.Time
	for _, t := range w.next {
		if first.IsZero() || t.Before(first) {
			first = t
		}
	}
	return first.Sub(w.Clock().Now())
}

// RunOnce polls every watched job whose next poll is due at now, requests
// the new versions, and moves each polled job to its next poll. A failed
// poll is logged and retried at the next one, remembering what it knew.
func (w *Watcher) RunOnce(ctx context.Context, now time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, j := range w.Watched() {
		due, ok := w.next[j.Name]
		if !ok || due.After(now) {
			continue
		}
		w.next[j.Name] = now.Add(retry.Spread(j.Watch, watchJitter, w.rnd))
		if err := w.poll(ctx, j); err != nil && ctx.Err() == nil {
			w.Logger().Warn("watching vault versions", "job", j.Name, "error", err)
		}
	}
}

// poll reads one job's current_version and requests it when it changed.
func (w *Watcher) poll(ctx context.Context, j jobs.Job) error {
	ctx, cancel := context.WithTimeout(ctx, w.OpTimeout)
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
func (w *Watcher) handledSince(ctx context.Context, job string, h jobs.History) (bool, error) {
	kv := w.status()
	if kv == nil {
		return false, baseservice.ErrNotConnected
	}
	var created time.Time
	if v, ok := h.Version(h.Current); ok {
		created = v.Created
	}
	since, _, err := client.RanSince(ctx, kv, job, created)
	return since, err
}

// request enqueues the request for version id of job. Every replica sends
// it with the same Msg-Id, vault-<job>-<n>-<created>, so the stream keeps one.
func (w *Watcher) request(ctx context.Context, job string, id versionID) error {
	msgID, n := id.msgID(job), id.n
	req := jobs.Request{Job: job, Version: n, Trigger: contract.TriggerWatch}
	ack, err := client.PublishRequest(ctx, w.js, w.prefix, req, msgID)
	if err != nil {
		return err
	}
	w.Logger().Info("new vault version, rotation requested", "job", job, "version", n, "msg_id", msgID, "duplicate", ack.Duplicate)
	return nil
}
