package jobs

import (
	"context"
	"crypto/subtle"
	"sync"
	"time"

	"github.com/certrotator/certrotator/bundle"
)

// bundleCacheTTL is how long a bundle read for a scheduled run is shared
// with the other runs of the same tick. A tick's requests reach the
// workers within seconds; a bundle written after that is read afresh.
const bundleCacheTTL = 15 * time.Second

// bundleCacheMax bounds the entries: past it, the oldest are dropped.
const bundleCacheMax = 64

// sourced is one bundle as read and decoded, shared by the runs of a tick.
// Its bytes and password are never changed once stored.
type sourced struct {
	m   Material
	b   *bundle.Bundle
	err error // a failed read or decode, shared as well: one read per tick

	encOnce sync.Once
	enc     []byte // the SHA1/3DES re-encoding, made once for every reencode job
	encErr  error
}

// encoded re-encodes the bundle once for all the runs that share it.
func (s *sourced) encoded() ([]byte, error) {
	s.encOnce.Do(func() { s.enc, s.encErr = s.b.Encode(s.m.Password) })
	return s.enc, s.encErr
}

// bundleCache shares a bundle between the scheduled runs of one tick: jobs
// that read the same Vault path and version read and decode it once.
// Concurrent loads of one key wait for the first. Entries live
// bundleCacheTTL, so a password is held no longer than the tick needs it.
// Only cron runs use it: a request made by a person, an event or a watch
// reads Vault afresh, so a version written a second ago is never missed;
// the decode of a version already read is reused by every trigger (see
// decodeCache).
type bundleCache struct {
	mu      sync.Mutex
	entries map[SourceRef]*cacheEntry
}

type cacheEntry struct {
	ready  chan struct{} // closed once val is set
	val    *sourced
	loaded time.Time
}

// get returns the bundle at ref, loading it with load unless a fresh entry
// exists or is being loaded.
func (c *bundleCache) get(ctx context.Context, ref SourceRef, now time.Time, load func(context.Context) *sourced) *sourced {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[SourceRef]*cacheEntry{}
	}
	c.expire(now)
	e, ok := c.entries[ref]
	if !ok {
		e = &cacheEntry{ready: make(chan struct{}), loaded: now}
		c.entries[ref] = e
		c.mu.Unlock()
		e.val = load(ctx)
		close(e.ready)
		if e.val.err != nil && ctx.Err() != nil {
			c.drop(ref, e) // a cancelled load is no answer for the next run
		}
		return e.val
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.val
	case <-ctx.Done():
		return &sourced{err: ctx.Err()}
	}
}

// expire drops entries older than the TTL, and the oldest past the bound.
// Called with c.mu held.
func (c *bundleCache) expire(now time.Time) {
	expireEntries(c.entries, now, bundleCacheTTL, func(e *cacheEntry) time.Time { return e.loaded })
}

// expireEntries drops from entries those loaded more than ttl before now
// (or after it: the clock went back), and the oldest one left when the
// map is at bundleCacheMax, making room for one more.
func expireEntries[K comparable, E any](entries map[K]E, now time.Time, ttl time.Duration, loaded func(E) time.Time) {
	var oldest K
	var oldestAt time.Time
	for k, e := range entries {
		at := loaded(e)
		if now.Sub(at) > ttl || now.Before(at) {
			delete(entries, k)
			continue
		}
		if oldestAt.IsZero() || at.Before(oldestAt) {
			oldest, oldestAt = k, at
		}
	}
	if len(entries) >= bundleCacheMax {
		delete(entries, oldest)
	}
}

func (c *bundleCache) drop(ref SourceRef, e *cacheEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.entries[ref] == e {
		delete(c.entries, ref)
	}
}

// decodeCacheTTL is how long a decoded bundle is reused. Decoding costs key
// derivations (up to bundle.KDFWorkMax iterations, about a second of CPU
// for a hostile file), while the Vault read that precedes it is cheap: every
// run still reads Vault, and only a version already decoded, with the very
// same bytes and password, skips the decode. Ten minutes covers a request's
// retries and the watch, event and cron runs that follow one write.
const decodeCacheTTL = 10 * time.Minute

// decodeKey names one version of one bundle. A path deleted and written
// again restarts its versions at 1, so an entry is also checked against
// the bytes and password read (see decodeCache.get).
type decodeKey struct {
	mount, path, pfxField, passwordField string
	version                              int
}

func decodeKeyOf(ref SourceRef, version int) decodeKey {
	return decodeKey{mount: ref.Mount, path: ref.Path, pfxField: ref.PFXField, passwordField: ref.PasswordField, version: version}
}

// decodeCache reuses a decode by (path, version) for every trigger: cron,
// watch, events, people, retries. Concurrent decodes of one version wait
// for the first. A decode that failed for the bundle's own sake is kept too
// (the same bytes fail the same way); one cut short by its context is not.
type decodeCache struct {
	mu      sync.Mutex
	entries map[decodeKey]*decodeEntry
}

type decodeEntry struct {
	ready    chan struct{} // closed once val is set
	pfx      []byte
	password string
	val      *sourced
	loaded   time.Time
}

// same reports whether e was decoded from exactly m's bytes and password.
func (e *decodeEntry) same(m Material) bool {
	return subtle.ConstantTimeCompare(e.pfx, m.PFX) == 1 && subtle.ConstantTimeCompare([]byte(e.password), []byte(m.Password)) == 1
}

// get returns m decoded, by decode unless an entry for key holds the same
// bytes and password.
func (c *decodeCache) get(ctx context.Context, key decodeKey, m Material, now time.Time, decode func(context.Context) *sourced) *sourced {
	c.mu.Lock()
	if c.entries == nil {
		c.entries = map[decodeKey]*decodeEntry{}
	}
	c.expire(now)
	if e, ok := c.entries[key]; ok && e.same(m) {
		c.mu.Unlock()
		select {
		case <-e.ready:
			if e.val != nil {
				return e.val
			}
			return decode(ctx) // the first decode was cut short
		case <-ctx.Done():
			return &sourced{err: ctx.Err()}
		}
	}
	e := &decodeEntry{ready: make(chan struct{}), pfx: m.PFX, password: m.Password, loaded: now}
	c.entries[key] = e // a rewritten path's version replaces the old one
	c.mu.Unlock()
	val := decode(ctx)
	if val.err != nil && ctx.Err() != nil {
		c.mu.Lock()
		if c.entries[key] == e {
			delete(c.entries, key)
		}
		c.mu.Unlock()
		close(e.ready) // waiters see a nil val and decode themselves
		return val
	}
	e.val = val
	close(e.ready)
	return val
}

// expire drops entries older than the TTL, and the oldest past the bound.
// Called with c.mu held.
func (c *decodeCache) expire(now time.Time) {
	expireEntries(c.entries, now, decodeCacheTTL, func(e *decodeEntry) time.Time { return e.loaded })
}
