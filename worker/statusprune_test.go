package worker

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker/statusview"
)

// TestStatusOfRemovedConnectorsPruned: two replicas during a rolling
// config change, the old one with both connectors of the job, the new one
// with conn1 alone. Entries of conn2 (removed), of a job no replica has
// (key and <job>._) stay while fresh, are shown as not configured, and
// go once StatusPruneAfter has passed since their last update, but only
// by the replica that does not configure them, and only at the revision
// it judged.
func TestStatusOfRemovedConnectorsPruned(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	oldApp := testApp()
	newJob := workertest.Job()
	newJob.Connectors = newJob.Connectors[:1]
	newApp := testApp(newJob)
	oldApp.Instance, newApp.Instance = "old", "new"
	oldW := startWorker(t, connect(t, s), oldApp, workertest.NewRecorder(nil))
	newW := startWorker(t, connect(t, s), newApp, workertest.NewRecorder(nil))

	const goneConn = "7b3a0c1e-aaaa-bbbb-cccc-0000000000ee"
	keys := map[string]jobs.Outcome{
		contract.StatusKey(jobName, conn1):   {Job: jobName, Connector: conn1, Status: contract.StatusSucceeded},
		contract.StatusKey(jobName, conn2):   {Job: jobName, Connector: conn2, Status: contract.StatusSucceeded},
		contract.StatusKey(jobName, ""):      {Job: jobName, Status: contract.StatusFailed},
		contract.StatusKey("gone", goneConn): {Job: "gone", Connector: goneConn, Status: contract.StatusSucceeded},
		contract.StatusKey("gone", ""):       {Job: "gone", Status: contract.StatusFailed},
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	kv := newW.bus().status
	for k, o := range keys {
		body, _ := json.Marshal(contract.StatusRecord{Outcome: o})
		if _, err := kv.Put(ctx, k, body); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range []*Worker{oldW, newW} {
		viewHas(t, w, "every entry", func(m map[string]statusview.Entry) bool { return len(m) == len(keys) })
	}

	// Fresh: nothing goes, and the page says what will happen.
	now := time.Now()
	if got := newW.view.Prune(ctx, now); len(got) != 0 {
		t.Errorf("fresh entries pruned: %q", got)
	}
	rows := pageRows(t, newW)
	if len(rows) != 3 {
		t.Errorf("page rows %q, want conn1's, conn2's and gone's", rows)
	}
	for key, row := range rows {
		notConfigured := strings.HasSuffix(key, conn2) || strings.HasSuffix(key, goneConn)
		if notConfigured != strings.Contains(row, "not in this replica's config") || notConfigured != strings.Contains(row, "removed after") {
			t.Errorf("page row %s (not configured: %v):\n%s", key, notConfigured, row)
		}
	}

	// Later, each replica removes what it does not configure: the old
	// one, which still has conn2, gone's entries only; the new one conn2's.
	// (That a delete names the revision the view judged is statusview's
	// TestPruneAtTheJudgedRevision.)
	later := now.Add(StatusPruneAfter + time.Minute)
	got := oldW.view.Prune(ctx, later)
	slices.Sort(got)
	want := []string{contract.StatusKey("gone", goneConn), contract.StatusKey("gone", "")}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the replica that configures conn2 pruned %q, want %q", got, want)
	}
	viewHas(t, newW, "gone's entries removed", func(m map[string]statusview.Entry) bool { return len(m) == len(keys)-2 })
	if got := newW.view.Prune(ctx, later); !slices.Equal(got, []string{contract.StatusKey(jobName, conn2)}) {
		t.Errorf("the new replica removed %q, want conn2's entry", got)
	}
	left, err := kv.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var remaining []string
	for k := range left.Keys() {
		remaining = append(remaining, k)
	}
	slices.Sort(remaining)
	if wantLeft := []string{contract.StatusKey(jobName, conn1), contract.StatusKey(jobName, "")}; !slices.Equal(remaining, wantLeft) {
		t.Errorf("bucket keeps %q, want %q", remaining, wantLeft)
	}
}

// onceLaterClock is a day and more ahead of the wall clock; its first wait
// ends at once, the others never: the prune loop runs exactly once.
type onceLaterClock struct{ fired chan time.Time }

func (c onceLaterClock) Now() time.Time                       { return time.Now().Add(StatusPruneAfter + time.Hour) }
func (c onceLaterClock) After(time.Duration) <-chan time.Time { return c.fired }

// TestStatusPruneLoop: the worker's own loop removes, after its wait, the
// entry of a connector it does not configure.
func TestStatusPruneLoop(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	first := startWorker(t, connect(t, s), testApp(), workertest.NewRecorder(nil)) // provisions the bucket
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	gone := contract.StatusKey("gone", conn1)
	body, _ := json.Marshal(contract.StatusRecord{Outcome: jobs.Outcome{Job: "gone", Connector: conn1, Status: contract.StatusSucceeded}})
	if _, err := first.bus().status.Put(ctx, gone, body); err != nil {
		t.Fatal(err)
	}
	clock := onceLaterClock{fired: make(chan time.Time, 1)}
	clock.fired <- time.Time{}
	w := startWorker(t, connect(t, s), testApp(), workertest.NewRecorder(nil), func(w *Worker) { w.view.PruneClock = clock })
	viewHas(t, w, "the entry removed by the loop", func(m map[string]statusview.Entry) bool { _, ok := m[gone]; return !ok })
	if _, err := first.bus().status.Get(ctx, gone); err == nil {
		t.Errorf("%s still in the bucket", gone)
	}
}
