package statusview

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/statuspage"
)

// TestKeySetStatusIsConfigured: a configured key set's status entry is
// never pruned as a removed connector's.
func TestKeySetStatusIsConfigured(t *testing.T) {
	job := jobs.Job{Name: "api", KeySets: []jobs.KeySetRef{{Tenant: "t", ID: "B2C_1A_One"}}}
	v := New(baseservice.NewArchetype(nil, nil), func() jetstream.KeyValue { return nil }, []jobs.Job{job})
	now := time.Now()
	for id, want := range map[string]bool{"B2C_1A_One": true, "B2C_1A_Gone": false} {
		o := jobs.Outcome{Job: "api", Connector: id, TargetKind: jobs.KindKeySet, Status: contract.StatusSucceeded, Final: true}
		if got := v.configured(&Entry{Entry: statuspage.Entry{Key: contract.StatusKeyOf(o), Record: statuspage.RecordOf(contract.NextStatus(nil, o, now)), Updated: now}}); got != want {
			t.Errorf("configured(%s) = %v, want %v", id, got, want)
		}
	}
}

// statusBucket is the contract's status bucket on a server of the test's
// own.
func statusBucket(t *testing.T) jetstream.KeyValue {
	t.Helper()
	js, err := jetstream.New(testkit.Connect(t, testkit.NATS(t, "")))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: contract.StatusBucket})
	if err != nil {
		t.Fatalf("creating the status bucket: %v", err)
	}
	return kv
}

// TestPruneAtTheJudgedRevision: the delete of an entry no longer
// configured names the revision the view judged, so a write after the
// view's read wins; once the view has read the latest write, it goes.
func TestPruneAtTheJudgedRevision(t *testing.T) {
	t.Parallel()
	kv := statusBucket(t)
	job := jobs.Job{Name: "api", Connectors: []jobs.ConnectorRef{{Tenant: "t", ID: "c1"}}}
	gone := contract.StatusKey("api", "c2")
	body, _ := json.Marshal(contract.StatusRecord{Outcome: jobs.Outcome{Job: "api", Connector: "c2", Status: contract.StatusSucceeded}})
	ctx, cancel := context.WithTimeout(context.Background(), testkit.WaitTimeout)
	defer cancel()
	if _, err := kv.Put(ctx, gone, body); err != nil {
		t.Fatal(err)
	}
	v := New(baseservice.NewArchetype(nil, nil), func() jetstream.KeyValue { return kv }, []jobs.Job{job})
	if err := v.Start(ctx); err != nil { // returns once the view holds every key
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = v.Stop(context.Background()) })

	v.mu.Lock()
	stale := *v.entries[gone] // a copy: snapshots share the entries
	stale.Rev += 1000         // not its revision (never 0: a zero revision would make the delete unconditional)
	v.entries[gone] = &stale
	v.mu.Unlock()
	later := time.Now().Add(PruneAfter + time.Minute)
	if got := v.Prune(ctx, later); len(got) != 0 {
		t.Errorf("pruned %q at a revision the entry does not have", got)
	}
	rev, err := kv.Put(ctx, gone, body)
	if err != nil {
		t.Fatal(err)
	}
	for {
		entries, changed := v.Snapshot()
		if i := slices.IndexFunc(entries, func(e *Entry) bool { return e.Key == gone }); i >= 0 && entries[i].Rev == rev {
			break
		}
		select {
		case <-changed:
		case <-ctx.Done():
			t.Fatal("the view did not read the rewrite")
		}
	}
	if got := v.Prune(ctx, later); !slices.Equal(got, []string{gone}) {
		t.Errorf("prune after the view read the rewrite removed %q, want %s", got, gone)
	}
}
