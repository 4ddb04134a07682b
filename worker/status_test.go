package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker/statusview"
)

// statusRecord reads the stored status record of key.
func statusRecord(t *testing.T, w *Worker, key string) contract.StatusRecord {
	t.Helper()
	e, err := w.bus().status.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("reading status %s: %v", key, err)
	}
	var rec contract.StatusRecord
	if err := json.Unmarshal(e.Value(), &rec); err != nil {
		t.Fatalf("decoding status %s: %v", key, err)
	}
	return rec
}

// viewHas waits until the worker's status view satisfies cond.
func viewHas(t *testing.T, w *Worker, what string, cond func(map[string]statusview.Entry) bool) {
	t.Helper()
	deadline := time.After(waitTimeout)
	for {
		entries, changed := w.view.Snapshot()
		byKey := map[string]statusview.Entry{}
		for _, e := range entries {
			byKey[e.Key] = *e
		}
		if cond(byKey) {
			return
		}
		select {
		case <-changed:
		case <-deadline:
			t.Fatalf("status view: %s: not before the deadline", what)
		}
	}
}

// A skipped run after a success keeps the success: the record carries it,
// the page shows it, the gauge exports it.
func TestStatusKeepsLastSuccess(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	uploaded := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	var now atomic.Pointer[time.Time]
	now.Store(&uploaded)
	calls := 0
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		calls++
		out := workertest.Succeed(job, req)
		if calls > 1 {
			for i := range out {
				out[i].Status, out[i].Reason = contract.StatusSkipped, contract.ReasonAlreadyPresent
			}
		}
		return out
	})
	w := startWorker(t, r.NC, testApp(), rot, func(w *Worker) { w.arch.Now = func() time.Time { return *now.Load() } })
	r.Request(t, jobName, workertest.RequestBody(), "ls-1")
	rot.NextCall(t)
	waitSettled(t, w, "first request settled")
	later := uploaded.Add(6 * time.Hour)
	now.Store(&later)
	r.Request(t, jobName, workertest.RequestBody(), "ls-2")
	rot.NextCall(t)
	waitSettled(t, w, "second request settled")

	rec := statusRecord(t, w, contract.StatusKey(jobName, conn1))
	if rec.Status != contract.StatusSkipped {
		t.Fatalf("latest outcome = %s, want skipped", rec.Status)
	}
	if rec.LastSuccess == nil || !rec.LastSuccess.At.Equal(uploaded) || rec.LastSuccess.RequestID != "ls-1" ||
		rec.LastSuccess.Certificate == nil || rec.LastSuccess.Certificate.Thumbprint != thumb {
		t.Errorf("last success = %+v, want the upload of ls-1 at %s", rec.LastSuccess, uploaded)
	}
	if rec.Active == nil || rec.Active.Thumbprint != thumb {
		t.Errorf("active = %+v", rec.Active)
	}
	viewHas(t, w, "skipped seen", func(m map[string]statusview.Entry) bool {
		return m[contract.StatusKey(jobName, conn1)].Record.Status == contract.StatusSkipped
	})
	srv := newHTTPTestServer(t, w)
	_, page := testkit.Get(t, srv, "/")
	if !strings.Contains(page, "2026-11-30 10:00 UTC") || !strings.Contains(page, "already_present") {
		t.Errorf("page lacks the last upload time or the skip reason:\n%s", page)
	}
	_, metrics := testkit.Get(t, srv, "/metrics")
	want := `certrotator_last_success_timestamp_seconds{connector="` + conn1 + `",rotation_job="contoso-api"} 1.7960328e+09`
	if !strings.Contains(metrics, want) {
		t.Errorf("/metrics lacks %s", want)
	}
}

// Two replicas on one NATS: whichever rotates, both export the same expiry
// and last success, because both read the shared bucket.
func TestReplicasExportTheSameExpiry(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	rotA, rotB := workertest.NewRecorder(nil), workertest.NewRecorder(nil)
	a := startWorker(t, connect(t, s), testApp(), rotA)
	b := startWorker(t, connect(t, s), testApp(), rotB)
	testkit.Publish(t, testkit.JetStream(t, connect(t, s)), "certrotation.request."+jobName, `{"job":"contoso-api"}`, "rep-1")
	select {
	case <-rotA.Calls():
	case <-rotB.Calls():
	case <-time.After(waitTimeout):
		t.Fatal("no replica rotated")
	}
	for _, w := range []*Worker{a, b} {
		viewHas(t, w, "both connectors stored", func(m map[string]statusview.Entry) bool {
			return m[contract.StatusKey(jobName, conn1)].Record.Status == contract.StatusSucceeded &&
				m[contract.StatusKey(jobName, conn2)].Record.Status == contract.StatusSucceeded
		})
	}
	expiry := float64(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	for name, w := range map[string]*Worker{"a": a, "b": b} {
		if got := testutilCount(t, w, "certrotator_certificate_expiry_timestamp_seconds"); got != 2*expiry {
			t.Errorf("replica %s: expiry gauges sum to %v, want 2 × %v", name, got, expiry)
		}
		if got := testutilCount(t, w, "certrotator_last_success_timestamp_seconds"); got == 0 {
			t.Errorf("replica %s: no last success exported", name)
		}
		if got := testutilCount(t, w, "certrotator_connector_failing"); got != 0 {
			t.Errorf("replica %s: connector_failing = %v, want 0", name, got)
		}
	}
}

// A request that failed before any connector is listed apart and leaves
// the connector rows as they were.
func TestStatusPageShowsBadRequestsApart(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	w := startWorker(t, r.NC, testApp(), workertest.NewRecorder(nil))
	r.Request(t, jobName, workertest.RequestBody(), "ok-1")
	waitSettled(t, w, "good request settled")
	r.Request(t, jobName, `{"job":"contoso-api","bogus":true}`, "bad-1")
	waitSettled(t, w, "bad request settled")
	viewHas(t, w, "bad request stored", func(m map[string]statusview.Entry) bool {
		_, ok := m[jobName+"._"]
		return ok
	})
	srv := newHTTPTestServer(t, w)
	_, page := testkit.Get(t, srv, "/")
	workertest.BadRequestApart(t, page)
	_, metrics := testkit.Get(t, srv, "/metrics")
	if strings.Contains(metrics, `connector="_"`) {
		t.Errorf("a bad request became a connector series:\n%s", metrics)
	}
}

// /readyz lists each check and is 503 while any fails. It names what is
// missing, never an error's own text (the probe is unauthenticated), and
// runs the configured checks at most once per checkCacheTTL.
func TestReadyzSaysWhatIsMissing(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	vaultErr := jobs.Permanent("source_denied", errors.New("vault token lookup at https://10.1.2.3:8200: permission denied"))
	var (
		mu    sync.Mutex
		vault = vaultErr
		calls int
		now   = time.Date(2026, 12, 7, 20, 0, 0, 0, time.UTC)
	)
	cfg := configFor(t, testApp(), workertest.NewRecorder(nil), connect(t, s))
	cfg.NowFunc = func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	cfg.Checks = map[string]func(context.Context) error{"vault": func(context.Context) error {
		mu.Lock()
		defer mu.Unlock()
		calls++
		return vault
	}}
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Stop(context.Background()) })
	srv := newHTTPTestServer(t, w)
	code, body := testkit.Get(t, srv, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "nats: not connected") ||
		!strings.Contains(body, "consumer: not bound") {
		t.Errorf("/readyz before start = %d\n%s", code, body)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		code, body = testkit.Get(t, srv, "/readyz")
	}
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "nats: ok") || !strings.Contains(body, "consumer: ok") ||
		!strings.Contains(body, "vault: refused (source_denied)") || strings.Contains(body, "10.1.2.3") || strings.Contains(body, "permission denied") {
		t.Errorf("/readyz with Vault refusing = %d\n%s", code, body)
	}
	mu.Lock()
	if calls != 1 {
		t.Errorf("21 probes within the cache TTL ran the vault check %d times, want 1", calls)
	}
	vault = nil
	mu.Unlock()
	if code, _ = testkit.Get(t, srv, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz within the cache TTL = %d, want the cached 503", code)
	}
	mu.Lock()
	now = now.Add(checkCacheTTL)
	mu.Unlock()
	if code, body = testkit.Get(t, srv, "/readyz"); code != http.StatusOK || !strings.Contains(body, "vault: ok") {
		t.Errorf("/readyz with everything up, after the cache TTL = %d\n%s", code, body)
	}
}

// The history page lists a connector's events newest first.
func TestHistoryNewestFirst(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	w := startWorker(t, r.NC, testApp(), workertest.NewRecorder(nil))
	for _, id := range []string{"hist-1", "hist-2"} {
		r.Request(t, jobName, workertest.RequestBody(conn1), id)
		waitSettled(t, w, id+" settled")
	}
	srv := newHTTPTestServer(t, w)
	code, page := testkit.Get(t, srv, "/history?job="+jobName+"&connector="+conn1)
	first, second := strings.Index(page, "hist-2"), strings.Index(page, "hist-1")
	if code != http.StatusOK || first < 0 || second < 0 || first > second {
		t.Errorf("history (%d) not newest first:\n%s", code, page)
	}
	if code, _ := testkit.Get(t, srv, "/history?job="+jobName+"&connector=*"); code != http.StatusBadRequest {
		t.Errorf("a wildcard connector = %d, want 400", code)
	}
}

// offline is a worker of the test config on no bus: built, not started,
// and not stopped by the test.
func offline(t *testing.T) *Worker {
	t.Helper()
	w, err := New(configFor(t, testApp(), workertest.NewRecorder(nil), nil))
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// newHTTPTestServer serves w's handler until the test ends.
func newHTTPTestServer(t *testing.T, w *Worker) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(w.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// Stopping the worker ends open event streams, so that the HTTP server's
// shutdown does not wait on them.
func TestStatusEventsEndAtStop(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	w := startWorker(t, connect(t, s), testApp(), workertest.NewRecorder(nil))
	srv := newHTTPTestServer(t, w)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body := bufio.NewReader(resp.Body)
	if line, err := body.ReadString('\n'); err != nil || line != "event: status\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// The body ends (EOF) when the stream does; the deadline fails it.
	if _, err := io.Copy(io.Discard, body); err != nil {
		t.Fatalf("the event stream outlived the worker: %v", err)
	}
}

// A job that is not in this replica's config (removed, or another
// deployment's) is shown on the page but exports no series, so that a
// removed job stops alerting.
func TestUnconfiguredJobsExportNothing(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	a := startWorker(t, connect(t, s), testApp(), workertest.NewRecorder(nil))
	other := workertest.Job()
	other.Name = "other-api"
	other.Connectors = []jobs.ConnectorRef{{Tenant: "contoso", ID: "7b3a0c1e-aaaa-bbbb-cccc-0000000000ff"}}
	testkit.Publish(t, testkit.JetStream(t, connect(t, s)), "certrotation.request."+jobName, `{"job":"contoso-api"}`, "other-1")
	waitSettled(t, a, "request settled")
	// b starts after: the replicas share one consumer, and b would answer
	// contoso-api's request as naming an unknown job.
	b := startWorker(t, connect(t, s), testApp(other), workertest.NewRecorder(nil))
	viewHas(t, b, "b sees a's job", func(m map[string]statusview.Entry) bool {
		return m[contract.StatusKey(jobName, conn2)].Record.Status == contract.StatusSucceeded
	})
	if got := testutilCount(t, b, "certrotator_certificate_expiry_timestamp_seconds"); got != 0 {
		t.Errorf("replica without the job exports expiry %v", got)
	}
	if got := testutilCount(t, a, "certrotator_certificate_expiry_timestamp_seconds"); got == 0 {
		t.Error("replica with the job exports no expiry")
	}
	_, page := testkit.Get(t, newHTTPTestServer(t, b), "/")
	if !strings.Contains(page, conn2) || !strings.Contains(page, "not in this replica") {
		t.Errorf("page of the replica without the job:\n%s", page)
	}
}

// TestKeySetSeriesExported: a key set's status exports the expiry series
// under its id, as a connector's does.
func TestKeySetSeriesExported(t *testing.T) {
	t.Parallel()
	s := runServer(t, "")
	j := workertest.Job()
	j.KeySets = []jobs.KeySetRef{{Tenant: "contoso", ID: "B2C_1A_RestApiClientCertificate"}}
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		out := workertest.Succeed(job, req)
		ks := out[0]
		ks.Connector, ks.TargetKind = "B2C_1A_RestApiClientCertificate", jobs.KindKeySet
		return append(out, ks)
	})
	w := startWorker(t, connect(t, s), testApp(j), rot)
	testkit.Publish(t, testkit.JetStream(t, connect(t, s)), "certrotation.request."+jobName, `{"job":"contoso-api"}`, "ks-metrics-1")
	key := contract.KeySetStatusKey(jobName, "B2C_1A_RestApiClientCertificate")
	viewHas(t, w, "key set stored", func(m map[string]statusview.Entry) bool {
		return m[key].Record.Status == contract.StatusSucceeded && m[contract.StatusKey(jobName, conn2)].Record.Status == contract.StatusSucceeded
	})
	expiry := float64(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Unix())
	if got := testutilCount(t, w, "certrotator_certificate_expiry_timestamp_seconds"); got != 3*expiry {
		t.Errorf("expiry gauges sum to %v, want 3 × %v (two connectors and the key set)", got, expiry)
	}
	// The key set's row links to its own results (<job>.keyset-<id>).
	row := pageRows(t, w)[key]
	link := "/history?job=" + jobName + "&amp;connector=keyset-B2C_1A_RestApiClientCertificate"
	if !strings.Contains(row, link) {
		t.Fatalf("key set row lacks %s:\n%s", link, row)
	}
	srv := newHTTPTestServer(t, w)
	workertest.Eventually(t, "the key set's outcome in the results stream", func() bool {
		_, hist := testkit.Get(t, srv, strings.ReplaceAll(link, "&amp;", "&"))
		return strings.Contains(hist, "ks-metrics-1")
	})
}

// pageRows reads the worker's status page and returns each target row by
// its key (the row's data-key).
func pageRows(t *testing.T, w *Worker) map[string]string {
	t.Helper()
	_, page := testkit.Get(t, newHTTPTestServer(t, w), "/")
	rows := map[string]string{}
	for _, part := range strings.Split(page, `<tr id="row-`)[1:] {
		key, _, _ := strings.Cut(part, `"`)
		row, _, _ := strings.Cut(part, "</tr>")
		rows[key] = row
	}
	return rows
}
