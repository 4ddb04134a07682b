package budget

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// entry is the schedules of one key as kept in the bucket: for each limit
// name, the theoretical arrival time of its next call (GCRA) in the NATS
// server's time, and the key's revision (0: no key yet).
type entry struct {
	tats map[string]time.Time
	rev  uint64
	// shared: the last grant lost a race, so other replicas write this
	// key too; the next grant reads before it writes rather than paying
	// for a compare-and-set that is likely to fail.
	shared bool
	// legacy: the value was written by a replica of a version before
	// LateMax, whose slots may be used (1−Margin)/2×Per late: while such
	// a replica shares the key, a grant keeps the burst those versions
	// had, so that the two versions together stay under the limit during
	// a rolling upgrade.
	legacy bool
}

// stored is the JSON value under a key.
type stored struct {
	TATs map[string]int64 `json:"tats"` // unix nanoseconds, server time
	// V is 2 from the version that bounds a slot's lateness by LateMax;
	// absent (0) from earlier versions.
	V int `json:"v,omitempty"`
}

// storedVersion is the V this version writes.
const storedVersion = 2

// pace is one limit's schedule: a slot per interval, a burst of
// tolerance/interval + 1, a slot usable until late after its time.
// legacyTolerance is the burst's tolerance of the versions before LateMax
// ((1−Margin)/2×Count), kept while one of them shares the key; per is the
// limit's window.
type pace struct {
	name                      string
	interval, tolerance, late time.Duration
	legacyTolerance, per      time.Duration
}

// schedule is the limits every call of a lane counts against, reserved
// together so that a call's slot fits all of them, and how far ahead a
// grant reaches.
type schedule struct {
	paces   []pace
	horizon time.Duration
}

// slots returns up to want slots that fit every limit after tats, as of
// now: the first one always, the others only within the horizon; and the
// schedules that follow them. legacy asks for the bursts of the versions
// before LateMax.
func (sc schedule) slots(tats map[string]time.Time, now time.Time, want int, legacy bool) ([]time.Time, map[string]time.Time) {
	next := make(map[string]time.Time, len(tats)+len(sc.paces))
	for k, v := range tats {
		next[k] = v
	}
	var out []time.Time
	for len(out) < want {
		at := now
		for _, p := range sc.paces {
			tolerance := p.tolerance
			if legacy {
				tolerance = p.legacyTolerance
			}
			if c := laterOf(next[p.name], now).Add(-tolerance); c.After(at) {
				at = c
			}
		}
		if len(out) > 0 && at.After(now.Add(sc.horizon)) {
			break
		}
		out = append(out, at)
		for _, p := range sc.paces {
			next[p.name] = laterOf(next[p.name], at).Add(p.interval)
		}
	}
	return out, next
}

// window is the longest window of the schedule's limits.
func (sc schedule) window() time.Duration {
	var w time.Duration
	for _, p := range sc.paces {
		w = max(w, p.per)
	}
	return w
}

func laterOf(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// grant reserves up to want slots of key's schedules with compare-and-set,
// starting from the entry this replica last saw (no read when it is still
// current and no other replica seemed to write it). A value that does not decode is replaced at its revision. It
// gives up after casAttempts lost races. ops counts round trips. The
// bursts are the former versions' when legacy says one shared the key
// lately or the value read was written by one; the entry returned says
// whether it was.
func grant(ctx context.Context, kv jetstream.KeyValue, key string, sc schedule, cache entry, now time.Time, want int, legacy bool, ops *atomic.Int64) ([]time.Time, entry, error) {
	known := cache.rev != 0 && !cache.shared
	mine, others := cache.rev, false
	for range casAttempts {
		if !known {
			var err error
			if cache, err = read(ctx, kv, key, ops); err != nil {
				return nil, entry{}, err
			}
			others = others || (mine != 0 && cache.rev != mine)
		}
		slots, tats := sc.slots(cache.tats, now, want, legacy || cache.legacy)
		rev, ok, err := write(ctx, kv, key, tats, cache.rev, ops)
		if err != nil {
			return nil, entry{}, err
		}
		if ok {
			return slots, entry{tats: tats, rev: rev, shared: others, legacy: cache.legacy}, nil
		}
		known, others = false, true // another replica wrote in between: read again
	}
	return nil, entry{}, wrapKV("reserving slots of", key, errContention)
}

// read returns key's entry. A value that does not decode comes back as an
// empty schedule at its revision, so that the next write replaces it
// instead of failing to create a key that exists.
func read(ctx context.Context, kv jetstream.KeyValue, key string, ops *atomic.Int64) (entry, error) {
	ops.Add(1)
	e, err := kv.Get(ctx, key)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return entry{}, nil
	}
	if err != nil {
		return entry{}, wrapKV("reading", key, err)
	}
	var v stored
	if err := json.Unmarshal(e.Value(), &v); err != nil {
		return entry{rev: e.Revision()}, nil
	}
	tats := make(map[string]time.Time, len(v.TATs))
	for k, ns := range v.TATs {
		tats[k] = time.Unix(0, ns)
	}
	return entry{tats: tats, rev: e.Revision(), legacy: v.V == 0 && len(v.TATs) > 0}, nil
}

// write stores tats if the key is still at rev (absent for rev 0); ok is
// false when another writer came first.
func write(ctx context.Context, kv jetstream.KeyValue, key string, tats map[string]time.Time, rev uint64, ops *atomic.Int64) (uint64, bool, error) {
	v := stored{TATs: make(map[string]int64, len(tats)), V: storedVersion}
	for k, t := range tats {
		v.TATs[k] = t.UnixNano()
	}
	data, err := json.Marshal(v)
	if err != nil {
		return 0, false, wrapKV("encoding", key, err)
	}
	ops.Add(1)
	var next uint64
	if rev == 0 {
		next, err = kv.Create(ctx, key, data)
	} else {
		next, err = kv.Update(ctx, key, data, rev)
	}
	switch {
	case err == nil:
		return next, true, nil
	case errors.Is(err, jetstream.ErrKeyExists), errors.Is(err, jetstream.ErrKeyRevisionMismatch):
		return 0, false, nil
	default:
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence {
			return 0, false, nil
		}
		return 0, false, wrapKV("writing", key, err)
	}
}
