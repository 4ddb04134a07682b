// Package statusview owns the worker's copy of the status bucket: a View
// fed by the bucket's watch, the removal of entries no replica configures
// any more (prune.go), and the gauges every replica must agree on
// (collector.go). The status page, its live updates and /metrics read the
// copy, so that every replica shows and exports the same values whichever
// replica did the rotation.
package statusview

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/statuspage"
)

// View is the service that keeps an in-memory copy of the status bucket,
// fed by the bucket's watch.
type View struct {
	startstop.Base
	baseservice.BaseService
	status func() jetstream.KeyValue
	jobs   map[string]jobs.Job
	// OpTimeout bounds the first read of the bucket and each delete.
	OpTimeout time.Duration
	// PruneClock times the removal of entries no longer configured
	// (prune.go); nil is the wall clock. Apart from the archetype's clock,
	// so that tests which jump the scheduler's time do not prune.
	PruneClock retry.Clock

	mu      sync.Mutex
	entries map[string]*Entry // never changed once stored: replaced
	changed chan struct{}     // closed and replaced on every change
	watcher jetstream.KeyWatcher
	stopped chan struct{} // closed by Stop: live page streams end
	stopOne sync.Once
}

// Entry is one key of the status bucket as the view holds it: its
// record in brief (what the page and the gauges show), not the stored JSON.
type Entry struct {
	statuspage.Entry
	Rev uint64 // the KV revision, for a delete that loses to a newer write
}

// New returns the view of the status bucket that status finds (nil until
// the worker provisioned it), judged against the configured jobs jj.
func New(a *baseservice.Archetype, status func() jetstream.KeyValue, jj []jobs.Job) *View {
	byName := make(map[string]jobs.Job, len(jj))
	for _, j := range jj {
		byName[j.Name] = j
	}
	v := &View{status: status, jobs: byName, OpTimeout: 10 * time.Second,
		entries: map[string]*Entry{}, changed: make(chan struct{}), stopped: make(chan struct{})}
	v.Init(a)
	return v
}

// Start watches the bucket and returns once the view holds every key that
// existed at start, so that the first scrape after a start already exports
// the shared values.
func (v *View) Start(ctx context.Context) error {
	var (
		w      jetstream.KeyWatcher
		synced chan struct{}
	)
	err := v.Launch(ctx, func(runCtx context.Context) (func(), error) {
		kv := v.status()
		if kv == nil {
			return nil, baseservice.ErrNotConnected
		}
		var err error
		if w, err = kv.WatchAll(runCtx); err != nil {
			return nil, fmt.Errorf("watching bucket %s: %w", contract.StatusBucket, err)
		}
		v.watcher, synced = w, make(chan struct{})
		// The prune loop (prune.go) ends with the watch: a failed start
		// stops the watch and must not wait for an hour's sleep.
		pruneCtx, endPrune := context.WithCancel(runCtx)
		var wg sync.WaitGroup
		wg.Go(func() {
			defer endPrune()
			v.follow(runCtx, w.Updates(), synced)
		})
		wg.Go(func() {
			select {
			case <-synced: // judge only a complete view
				v.pruneLoop(pruneCtx)
			case <-pruneCtx.Done():
			}
		})
		return wg.Wait, nil
	})
	if err != nil || synced == nil {
		return err
	}
	timeout := time.NewTimer(v.OpTimeout)
	defer timeout.Stop()
	select {
	case <-synced:
		return nil
	case <-ctx.Done():
		_ = w.Stop()
		return fmt.Errorf("reading bucket %s: %w", contract.StatusBucket, ctx.Err())
	case <-timeout.C:
		_ = w.Stop()
		return fmt.Errorf("reading bucket %s: not read after %s", contract.StatusBucket, v.OpTimeout)
	}
}

// follow applies the watch's updates until ctx ends or the watch closes;
// it closes synced at the watch's end-of-initial-values marker.
func (v *View) follow(ctx context.Context, updates <-chan jetstream.KeyValueEntry, synced chan struct{}) {
	for {
		select {
		case <-ctx.Done():
			return
		case e, open := <-updates:
			if !open {
				return
			}
			if e == nil {
				if synced != nil {
					close(synced)
					synced = nil
				}
				continue
			}
			v.apply(e)
		}
	}
}

// apply records one update and wakes whoever waits for a change.
func (v *View) apply(e jetstream.KeyValueEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(v.entries, e.Key())
	} else {
		var rec contract.StatusRecord
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			v.Logger().Warn("decoding status entry", "key", e.Key(), "error", err)
			return
		}
		v.entries[e.Key()] = &Entry{Entry: statuspage.Entry{Key: e.Key(), Record: statuspage.RecordOf(rec), Updated: e.Created()},
			Rev: e.Revision()}
	}
	close(v.changed)
	v.changed = make(chan struct{})
}

// Stop ends the watch.
func (v *View) Stop(ctx context.Context) error {
	v.stopOne.Do(func() { close(v.stopped) })
	ok, cancel, done := v.StopInit()
	if !ok {
		return nil
	}
	if v.watcher != nil {
		_ = v.watcher.Stop()
	}
	cancel()
	return startstop.Wait(ctx, done, "the status watch")
}

// Snapshot returns the entries sorted by key, and a channel closed at the
// next change. The entries are shared with the view, not copied (a scrape
// of 10,000 connectors copied them all): callers must not change them.
func (v *View) Snapshot() ([]*Entry, <-chan struct{}) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := slices.Collect(maps.Values(v.entries))
	slices.SortFunc(out, func(a, b *Entry) int { return strings.Compare(a.Key, b.Key) })
	return out, v.changed
}

// Done is closed when the view stops: live page streams end.
func (v *View) Done() <-chan struct{} { return v.stopped }
