package jobs

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

// renewingLease is a lock whose horizon is a few milliseconds ahead at each
// ask, renewed renewals times after the first ask; then it is lost, or,
// with stuck, keeps answering its last horizon (not renewed).
type renewingLease struct {
	renewals int
	stuck    bool

	mu   sync.Mutex
	asks int
	last time.Time
}

func (l *renewingLease) Until() (time.Time, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.asks++
	switch {
	case l.asks <= l.renewals+1:
		l.last = time.Now().Add(5 * time.Millisecond)
		return l.last, nil
	case l.stuck:
		return l.last, nil
	default:
		return time.Time{}, errors.New("lock lost")
	}
}

func (l *renewingLease) asked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.asks
}

// TestUploadContextFollowsTheRenewedLease: an upload's context lasts while
// its lease is renewed, past the Until it had when the upload began, and
// ends (lease_lost) once the lease is lost or not renewed by its horizon.
// Ended at the first Until, a call that waited for its turn under the
// Graph budget inside the upload was cut while its lock was still held.
func TestUploadContextFollowsTheRenewedLease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		l    *renewingLease
	}{
		{"lost after three renewals", &renewingLease{renewals: 3}},
		{"not renewed after three renewals", &renewingLease{renewals: 3, stuck: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			uctx, cancel, err := uploadContext(WithLease(context.Background(), tc.l))
			if err != nil {
				t.Fatal(err)
			}
			defer cancel()
			if _, ok := uctx.Deadline(); ok {
				t.Error("the upload's context has a fixed deadline; its bound is the lease as renewed")
			}
			select {
			case <-uctx.Done():
			case <-time.After(10 * time.Second):
				t.Fatal("the upload's context outlived its lease")
			}
			if got, want := tc.l.asked(), tc.l.renewals+2; got != want {
				t.Errorf("the lease was asked %d times before the context ended, want %d (the first Until and each renewal)", got, want)
			}
			if f := AsFailure(context.Cause(uctx)); f.Code != CodeLeaseLost || f.Class != ClassTransient {
				t.Errorf("cause %v: want a transient %s", context.Cause(uctx), CodeLeaseLost)
			}
		})
	}
	// Done before the lease runs out: the watch stops with the upload.
	l := &renewingLease{renewals: 1000}
	uctx, cancel, err := uploadContext(WithLease(context.Background(), l))
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	if !errors.Is(context.Cause(uctx), context.Canceled) {
		t.Errorf("cause after cancel = %v, want context.Canceled", context.Cause(uctx))
	}
}
