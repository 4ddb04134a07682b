package lease

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/testkit"
)

// steppedClock is a retry.Clock whose wall time (Now) and elapsed time move
// apart, as they do when NTP steps the wall clock.
type steppedClock struct {
	mu      sync.Mutex
	wall    time.Time
	elapsed time.Duration
}

func (c *steppedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wall
}

func (c *steppedClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

func (c *steppedClock) Elapsed() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.elapsed
}

// pass lets d of real time go by while the wall clock is stepped by step.
func (c *steppedClock) pass(d, step time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.elapsed += d
	c.wall = c.wall.Add(d + step)
}

// TestLeaseAgeIgnoresWallSteps: the age of a lease's last confirmation is
// elapsed time, whatever the wall clock does. A backward step of a minute
// does not keep a lease unconfirmed for more than half its TTL fresh, and a
// forward step of an hour does not make a just-confirmed lease stale.
func TestLeaseAgeIgnoresWallSteps(t *testing.T) {
	t.Parallel()
	clock := &steppedClock{wall: time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)}
	arch := baseservice.NewArchetype(nil, nil)
	arch.Clock = clock
	kv := locksBucket(t)
	lk := NewLocker(arch, "test-1", func() jetstream.KeyValue { return kv })
	ctx := context.Background()

	back, err := lk.Acquire(ctx, "stepped-back", 1)
	if err != nil {
		t.Fatal(err)
	}
	clock.pass(contract.LockTTL/2+time.Second, -time.Minute)
	if back.fresh() {
		t.Errorf("lease fresh %s after its confirmation (the wall clock stepped back a minute)", contract.LockTTL/2+time.Second)
	}
	if _, err := back.Until(); err == nil {
		t.Error("Until allowed an upload on a lease not confirmed for more than half its TTL")
	}

	fwd, err := lk.Acquire(ctx, "stepped-forward", 2)
	if err != nil {
		t.Fatal(err)
	}
	clock.pass(time.Second, time.Hour)
	if !fwd.fresh() {
		t.Errorf("lease stale 1s after its confirmation (the wall clock stepped forward an hour): age %s", fwd.age())
	}
	until, err := fwd.Until()
	if err != nil {
		t.Fatalf("Until: %v", err)
	}
	if left := time.Until(until); left <= 0 || left > contract.LockTTL-contract.LockTTL/6 {
		t.Errorf("upload deadline %s from now, want within the TTL less a sixth", left)
	}
}

// locksBucket is the contract's locks bucket on a server of the test's own.
func locksBucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(testkit.Connect(t, testkit.NATS(t, "")))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(context.Background(), jetstream.KeyValueConfig{Bucket: contract.LocksBucket, TTL: contract.LockTTL})
	if err != nil {
		t.Fatalf("creating the locks bucket: %v", err)
	}
	return kv
}
