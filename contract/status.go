package contract

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/jobs"
)

// StatusEntry is one connector's latest outcome from the status bucket.
type StatusEntry struct {
	Key     string       // <job>.<connector>
	Outcome jobs.Outcome // the latest outcome's data
	Updated time.Time    // when it was stored
}

// ReadStatus decodes the status entries matching filter, sorted by key.
func ReadStatus(ctx context.Context, kv jetstream.KeyValue, filter string) ([]StatusEntry, error) {
	entries, err := WatchAll(ctx, kv, filter)
	if err != nil {
		return nil, err
	}
	out := make([]StatusEntry, 0, len(entries))
	for _, e := range entries {
		var o jobs.Outcome
		if err := json.Unmarshal(e.Value(), &o); err != nil {
			continue // never fail a listing on one key
		}
		out = append(out, StatusEntry{Key: e.Key(), Outcome: o, Updated: e.Created()})
	}
	slices.SortFunc(out, func(a, b StatusEntry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// WatchAll reads the current entries of a bucket matching filter, without
// deleted ones.
func WatchAll(ctx context.Context, kv jetstream.KeyValue, filter string) ([]jetstream.KeyValueEntry, error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	watcher, err := kv.Watch(wctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", filter, err)
	}
	defer func() { _ = watcher.Stop() }()
	var out []jetstream.KeyValueEntry
	for {
		select {
		case e := <-watcher.Updates():
			if e == nil {
				return out, nil
			}
			out = append(out, e)
		case <-wctx.Done():
			return nil, fmt.Errorf("watching %s: %w", filter, wctx.Err())
		}
	}
}

// StatusPruneAfter is how long a status entry of a job or connector absent
// from the config stays, counted from its last update; the worker prunes
// it then, and the status page and `status` say when.
const StatusPruneAfter = 24 * time.Hour
