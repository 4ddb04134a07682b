package worker

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
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/statuspage"
)

// statusView is the service that keeps an in-memory copy of the status
// bucket, fed by the bucket's watch. The status page (package statuspage,
// through pageSource), its live updates and the expiry and last-success
// gauges all read this copy, so that every replica shows and exports the
// same values whichever replica did the rotation.
type statusView struct {
	startstop.Base
	*shared

	mu      sync.Mutex
	entries map[string]*statusEntry // never changed once stored: replaced
	changed chan struct{}           // closed and replaced on every change
	watcher jetstream.KeyWatcher
	stopped chan struct{} // closed by Stop: live page streams end
	stopOne sync.Once
	// pruneClock times the removal of entries no longer configured
	// (statusprune.go); nil is the wall clock. Apart from tune.clock, so
	// that tests which jump the scheduler's time do not prune.
	pruneClock retry.Clock
}

// statusEntry is one key of the status bucket as the view holds it: its
// record in brief (what the page and the gauges show), not the stored JSON.
type statusEntry struct {
	statuspage.Entry
	rev uint64 // the KV revision, for a delete that loses to a newer write
}

func newStatusView(sh *shared) *statusView {
	return &statusView{shared: sh, entries: map[string]*statusEntry{}, changed: make(chan struct{}), stopped: make(chan struct{})}
}

// Start watches the bucket and returns once the view holds every key that
// existed at start, so that the first scrape after a start already exports
// the shared values.
func (v *statusView) Start(ctx context.Context) error {
	runCtx, ok, stopped := v.StartInit(ctx)
	if !ok {
		return nil
	}
	b := v.bus()
	if b == nil {
		stopped()
		return errNotConnected
	}
	w, err := b.status.WatchAll(runCtx)
	if err != nil {
		stopped()
		return fmt.Errorf("watching bucket %s: %w", contract.StatusBucket, err)
	}
	v.watcher = w
	synced := make(chan struct{})
	// The prune loop (statusprune.go) ends with the watch: a failed start
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
	go func() {
		defer stopped()
		wg.Wait()
	}()
	timeout := time.NewTimer(v.tune.opTimeout)
	defer timeout.Stop()
	select {
	case <-synced:
		return nil
	case <-ctx.Done():
		_ = w.Stop()
		return fmt.Errorf("reading bucket %s: %w", contract.StatusBucket, ctx.Err())
	case <-timeout.C:
		_ = w.Stop()
		return fmt.Errorf("reading bucket %s: not read after %s", contract.StatusBucket, v.tune.opTimeout)
	}
}

// follow applies the watch's updates until ctx ends or the watch closes;
// it closes synced at the watch's end-of-initial-values marker.
func (v *statusView) follow(ctx context.Context, updates <-chan jetstream.KeyValueEntry, synced chan struct{}) {
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
func (v *statusView) apply(e jetstream.KeyValueEntry) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if e.Operation() != jetstream.KeyValuePut {
		delete(v.entries, e.Key())
	} else {
		var rec contract.StatusRecord
		if err := json.Unmarshal(e.Value(), &rec); err != nil {
			v.log.Warn("decoding status entry", "key", e.Key(), "error", err)
			return
		}
		v.entries[e.Key()] = &statusEntry{Entry: statuspage.Entry{Key: e.Key(), Record: statuspage.RecordOf(rec), Updated: e.Created()},
			rev: e.Revision()}
	}
	close(v.changed)
	v.changed = make(chan struct{})
}

// Stop ends the watch.
func (v *statusView) Stop(ctx context.Context) error {
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

// snapshot returns the entries sorted by key, and a channel closed at the
// next change. The entries are shared with the view, not copied (a scrape
// of 10,000 connectors copied them all): callers must not change them.
func (v *statusView) snapshot() ([]*statusEntry, <-chan struct{}) {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := slices.Collect(maps.Values(v.entries))
	slices.SortFunc(out, func(a, b *statusEntry) int { return strings.Compare(a.Key, b.Key) })
	return out, v.changed
}
