package vaultwatch

import (
	"context"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
)

// TestWatchedNeedsListerAndInterval: without a lister no job is watched,
// whatever its config says, and the watcher does not run; with one, only
// the jobs that set watch are.
func TestWatchedNeedsListerAndInterval(t *testing.T) {
	t.Parallel()
	jj := []jobs.Job{{Name: "unwatched"}, {Name: "watched", Watch: time.Minute}}
	a := baseservice.NewArchetype(nil, nil)
	without := New(a, Options{Jobs: jj})
	if got := without.Watched(); len(got) != 0 {
		t.Errorf("watched %d jobs without a lister, want none", len(got))
	}
	if err := without.Start(context.Background()); err != nil {
		t.Fatalf("start with nothing to watch: %v", err)
	}
	if without.Running() {
		t.Error("watcher runs with nothing to watch")
	}
	with := New(a, Options{Jobs: jj, Versions: (*vaultsrc.Client)(nil)})
	if got := with.Watched(); len(got) != 1 || got[0].Name != "watched" {
		t.Errorf("watched %v, want only the job with watch", got)
	}
	if err := with.Start(context.Background()); err == nil {
		t.Error("started with jobs to watch but no NATS")
	}
}
