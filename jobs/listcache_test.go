package jobs

import (
	"context"
	"sync"
	"testing"

	"github.com/certrotator/certrotator/contract"
)

// TestTickSharesTenantList: scheduled runs of one tick that cover parts of
// one tenant list it once between them, also when they run at once; a run
// with another trigger lists afresh.
func TestTickSharesTenantList(t *testing.T) {
	t.Parallel()
	_, all, r, lc := dueListing(t, 6)
	// Three jobs, two connectors each, in one tenant.
	jobs := make([]Job, 3)
	for i := range jobs {
		jobs[i] = all
		jobs[i].Name = all.Name + string(rune('a'+i))
		jobs[i].Connectors = all.Connectors[2*i : 2*i+2]
	}
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Go(func() {
			for _, o := range r.Rotate(context.Background(), j, Request{ID: "tick", Attempt: 1, Trigger: contract.TriggerCron}) {
				if o.Status != contract.StatusSucceeded {
					t.Errorf("job %d: %s %s %+v", i, o.Status, o.Reason, o.Error)
				}
			}
		})
	}
	wg.Wait()
	if n := lc.lists.Load(); n != 1 {
		t.Errorf("%d list calls for three scheduled runs of one tick in one tenant, want 1", n)
	}
	r.Rotate(context.Background(), jobs[0], Request{ID: "manual", Attempt: 1, Trigger: contract.TriggerManual})
	if n := lc.lists.Load(); n != 2 {
		t.Errorf("%d list calls after a manual run, want 2 (it lists afresh)", n)
	}
}
