package jobs

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/certrotator/certrotator/contract"
)

// listingConnector is the fake graph with the list call.
type listingConnector struct {
	fakeConnector
	g     *graph
	lists atomic.Int32
}

func (l *listingConnector) List(_ context.Context, _ string) ([]ConnectorState, error) {
	l.lists.Add(1)
	l.g.mu.Lock()
	defer l.g.mu.Unlock()
	var out []ConnectorState
	for id := range l.g.lists {
		out = append(out, l.g.stateLocked(id))
	}
	return out, nil
}

// newListingRotator is a Rotator that reads g through a listing connector
// and rotates to a valid bundle (version 1); lc counts the list calls.
func newListingRotator(t *testing.T, g *graph) (r *Rotator, lc *listingConnector) {
	t.Helper()
	lc = &listingConnector{fakeConnector: g.connector(), g: g}
	return newTestRotator(t, sourceOf(materialOf(validBundle(t), 1)), lc, nil), lc
}

// dueListing is a graph where every connector of testJob(n) holds a
// certificate ten days from expiry (due for rotation), and a Rotator that
// reads it through a listing connector.
func dueListing(t *testing.T, n int) (*graph, Job, *Rotator, *listingConnector) {
	t.Helper()
	g := newGraph()
	job := testJob(n)
	for _, ref := range job.Connectors {
		g.seed(ref.ID, cert("old-"+ref.ID, testNow.Add(-30*day), testNow.Add(10*day)))
	}
	r, lc := newListingRotator(t, g)
	return g, job, r, lc
}

// TestRunReadsCheaply: a run over several connectors of a tenant lists them
// once; nothing due costs no GET, and each upload costs exactly one GET and
// one POST.
func TestRunReadsCheaply(t *testing.T) {
	t.Parallel()
	g, job, r, lc := dueListing(t, 3)

	for _, o := range r.Rotate(context.Background(), job, Request{ID: "r1", Attempt: 1}) {
		if o.Status != contract.StatusSucceeded {
			t.Fatalf("first run: %s %s %+v", o.Status, o.Reason, o.Error)
		}
	}
	for _, ref := range job.Connectors {
		if gets, uploads := g.counts(ref.ID); gets != 1 || uploads != 1 {
			t.Errorf("%s: %d GETs and %d uploads for one upload, want 1 and 1", ref.ID, gets, uploads)
		}
	}
	for _, o := range r.Rotate(context.Background(), job, Request{ID: "r2", Attempt: 1}) {
		if o.Reason != contract.ReasonAlreadyPresent {
			t.Fatalf("second run: %s %s", o.Status, o.Reason)
		}
	}
	for _, ref := range job.Connectors {
		if gets, _ := g.counts(ref.ID); gets != 1 {
			t.Errorf("%s: %d GETs after a run where nothing was due, want still 1", ref.ID, gets)
		}
	}
	if n := lc.lists.Load(); n != 2 {
		t.Errorf("%d list calls for two runs, want 2", n)
	}
}
