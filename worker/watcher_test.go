package worker

import (
	"context"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// pollClock is the real time, except that a wait of watchInterval or more
// never ends: the watcher's loop makes its first poll and then waits for
// the test to call runOnce, while the consumer's short waits run as usual.
type pollClock struct{}

const watchInterval = time.Hour

func (pollClock) Now() time.Time { return time.Now() }
func (pollClock) After(d time.Duration) <-chan time.Time {
	if d >= watchInterval*9/10 { // the watcher's interval, jittered
		return nil
	}
	return time.After(d)
}

// startWatching starts a worker whose watcher polls src, on a clock whose
// waits end at once.
func startWatching(tb testing.TB, nc *nats.Conn, app *config.Config, rot Rotator, src VersionLister) *Worker {
	tb.Helper()
	cfg := configFor(tb, app, rot, nc)
	cfg.Versions = src
	return startConfigured(tb, cfg, func(w *Worker) { w.arch.Clock = pollClock{} })
}

// vaultLister is a real Vault dev server and a vaultsrc client on it.
func vaultLister(t testing.TB) (*vaulttest.Server, *vaultsrc.Client) {
	t.Helper()
	srv := vaulttest.Start(t)
	c, err := vaultsrc.New(context.Background(), vaultsrc.Config{
		Address: srv.Addr, Auth: vaultsrc.Auth{Method: vaultsrc.MethodToken, Token: srv.Token}, HTTPClient: &http.Client{},
	})
	if err != nil {
		t.Fatalf("vault client: %v", err)
	}
	t.Cleanup(func() { _ = c.Stop(context.Background()) })
	return srv, c
}

// lastSeq is the requests stream's last sequence: how many requests it
// ever stored (duplicates by Msg-Id are not stored).
func lastSeq(t testing.TB, w *Worker) uint64 {
	t.Helper()
	st, err := w.bus().js.Stream(context.Background(), contract.RequestsStream)
	if err != nil {
		t.Fatalf("opening requests stream: %v", err)
	}
	info, err := st.Info(context.Background())
	if err != nil {
		t.Fatalf("reading requests stream: %v", err)
	}
	return info.State.LastSeq
}

func TestWatchTwoReplicasOneRequestPerVersion(t *testing.T) {
	t.Parallel()
	vault, src := vaultLister(t)
	job := workertest.Job()
	job.Watch = watchInterval
	vault.Put(t, job.Source.Mount, job.Source.Path, map[string]any{"pfx": "AAAA"})

	s := runServer(t, "")
	rot := workertest.NewRecorder(nil)
	watching := func(tb testing.TB, nc *nats.Conn, app *config.Config) *Worker {
		return startWatching(tb, nc, app, rot, src)
	}
	var ww []*Worker
	for i := range 2 {
		app := testApp(job)
		app.Instance = "replica-" + strconv.Itoa(i)
		ww = append(ww, watching(t, connect(t, s), app))
	}
	js := testkit.JetStream(t, connect(t, s))

	// Version 1 was written before any worker watched and has no outcome:
	// the first polls request it, once.
	got := rot.NextCall(t)
	if want := watchMsgID(t, src, job); got.ID != want || got.Version != 1 || got.Trigger != contract.TriggerWatch || got.Force {
		t.Fatalf("first call %+v, want %s pinned to version 1 by watch", got, want)
	}
	workertest.Eventually(t, "version 1 settled", workertest.Settled(js))
	at := time.Now() // the time each round of polls pretends it is
	pollAll := func() {
		at = at.Add(2 * watchInterval) // every job is due again
		var wg sync.WaitGroup
		for _, w := range ww {
			wg.Go(func() { w.watcher.RunOnce(t.Context(), at) })
		}
		wg.Wait()
	}
	pollAll() // both replicas' first polls are done once runOnce returns
	before := lastSeq(t, ww[0])
	rot.NoMoreCalls(t)

	for _, v := range []int{2, 3} {
		if n := vault.Put(t, job.Source.Mount, job.Source.Path, map[string]any{"pfx": "AAAA"}); n != v {
			t.Fatalf("wrote version %d, want %d", n, v)
		}
		pollAll()
		if seq := lastSeq(t, ww[0]); seq != before+1 {
			t.Fatalf("version %d: %d requests stored, want 1", v, seq-before)
		}
		before++
		got := rot.NextCall(t)
		if want := watchMsgID(t, src, job); got.ID != want || got.Version != v || got.Trigger != contract.TriggerWatch {
			t.Fatalf("call %+v, want %s pinned to version %d", got, want, v)
		}
		workertest.Eventually(t, "request settled", workertest.Settled(js))
		rot.NoMoreCalls(t)
	}

	pollAll() // no change, no request
	if seq := lastSeq(t, ww[0]); seq != before {
		t.Fatalf("an unchanged version made %d requests", seq-before)
	}

	// A replica started now finds version 3 already handled: its first poll
	// remembers it and requests nothing.
	app := testApp(job)
	app.Instance = "replica-late"
	late := watching(t, connect(t, s), app)
	late.watcher.RunOnce(t.Context(), at.Add(2*watchInterval))
	if seq := lastSeq(t, late); seq != before {
		t.Fatalf("a restarted watcher requested a handled version (%d requests)", seq-before)
	}
	rot.NoMoreCalls(t)
}

// watchMsgID is the Msg-Id of the job's current version as the design
// spells it: vault-<job>-<version>-<created_time in Unix seconds>.
func watchMsgID(t testing.TB, src *vaultsrc.Client, job jobs.Job) string {
	t.Helper()
	h, err := src.Versions(context.Background(), job.Source)
	if err != nil {
		t.Fatal(err)
	}
	v, ok := h.Version(h.Current)
	if !ok {
		t.Fatalf("no metadata for current version %d", h.Current)
	}
	return "vault-" + job.Name + "-" + strconv.Itoa(h.Current) + "-" + strconv.FormatInt(v.Created.Unix(), 10)
}

// TestWatchRewrittenPath: after `vault kv metadata delete` and a new write,
// versions restart at 1. The new version 1 is another version (its
// created_time differs): it is requested, and its Msg-Id is not dropped as
// a duplicate of the old version 1's within the stream's window.
func TestWatchRewrittenPath(t *testing.T) {
	t.Parallel()
	vault, src := vaultLister(t)
	job := workertest.Job()
	job.Watch = watchInterval
	first := vault.Put(t, job.Source.Mount, job.Source.Path, map[string]any{"pfx": "AAAA"})
	s := runServer(t, "")
	rot := workertest.NewRecorder(nil)
	w := startWatching(t, connect(t, s), testApp(job), rot, src)
	js := testkit.JetStream(t, connect(t, s))
	old := rot.NextCall(t)
	if old.Version != first || old.ID != watchMsgID(t, src, job) {
		t.Fatalf("first call %+v, want version %d", old, first)
	}
	workertest.Eventually(t, "version 1 settled", workertest.Settled(js))
	before := lastSeq(t, w)

	// The Msg-Id carries created_time in seconds: let the clock pass the
	// old version's second before writing the new version 1.
	h, err := src.Versions(t.Context(), job.Source)
	if err != nil {
		t.Fatal(err)
	}
	created, _ := h.Version(h.Current)
	<-time.After(time.Until(created.Created.Truncate(time.Second).Add(time.Second)))
	if err := vault.Client(t).KVv2(job.Source.Mount).DeleteMetadata(t.Context(), job.Source.Path); err != nil {
		t.Fatal(err)
	}
	if n := vault.Put(t, job.Source.Mount, job.Source.Path, map[string]any{"pfx": "BBBB"}); n != 1 {
		t.Fatalf("rewritten path's first version is %d, want 1", n)
	}
	w.watcher.RunOnce(t.Context(), time.Now().Add(2*watchInterval))
	if seq := lastSeq(t, w); seq != before+1 {
		t.Fatalf("the rewritten path's version 1 made %d requests, want 1", seq-before)
	}
	got := rot.NextCall(t)
	if want := watchMsgID(t, src, job); got.ID != want || got.ID == old.ID || got.Version != 1 {
		t.Fatalf("call %+v, want %s (not the old %s) pinned to version 1", got, want, old.ID)
	}
}

func TestWatchOffWithoutListerOrInterval(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	unwatched := workertest.Job()
	watched := workertest.Job()
	watched.Name, watched.Watch = "watched", time.Minute
	watched.Connectors = []jobs.ConnectorRef{{Tenant: "contoso", ID: "7b3a0c1e-aaaa-bbbb-cccc-000000000009"}}
	// No lister: no job is watched, whatever its config says.
	w := startWorker(t, connect(t, s), testApp(unwatched, watched), workertest.NewRecorder(nil))
	if got := w.watcher.Watched(); len(got) != 0 {
		t.Errorf("watched %d jobs without a lister, want none", len(got))
	}
	if w.watcher.Running() {
		t.Error("watcher runs with nothing to watch")
	}
}

// BenchmarkWatchRound is one round of polls of 10 watched jobs whose
// version did not change: 10 metadata reads from a real Vault dev server,
// no request published.
func BenchmarkWatchRound(b *testing.B) {
	vault, src := vaultLister(b)
	var jj []jobs.Job
	for i := range 10 {
		j := workertest.Job()
		j.Name, j.Source.Path, j.Watch = "job-"+strconv.Itoa(i), "b2c/bench-"+strconv.Itoa(i), watchInterval
		j.Connectors = []jobs.ConnectorRef{{Tenant: "contoso", ID: "7b3a0c1e-aaaa-bbbb-cccc-0000000001" + strconv.Itoa(10+i)}}
		vault.Put(b, j.Source.Mount, j.Source.Path, map[string]any{"pfx": "AAAA"})
		jj = append(jj, j)
	}
	s := runServer(b, "")
	w := startWatching(b, connect(b, s), testApp(jj...), workertest.NewRecorder(nil), src)
	at := time.Now()
	w.watcher.RunOnce(context.Background(), at) // the first polls
	seq := lastSeq(b, w)
	b.ResetTimer()
	for b.Loop() {
		at = at.Add(2 * watchInterval)
		w.watcher.RunOnce(context.Background(), at)
	}
	b.StopTimer()
	if got := lastSeq(b, w); got != seq {
		b.Fatalf("unchanged versions made %d requests", got-seq)
	}
}
