package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/faultproxy"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
	"github.com/certrotator/certrotator/worker"
)

// Soak settings. SOAK_REQUESTS sets the count (make soak: 10000; 500 is the
// quick mode); SOAK_SEED replays a run's fault schedule.
const (
	// soakJobs have one connector each, and requests go to them in turn, so
	// that two requests in flight rarely wait for the same job lease (a
	// request waiting for a lease polls it every second).
	soakJobs     = 128
	soakWindow   = 96               // requests in flight at once
	soakDeadline = 15 * time.Minute // the whole run; 10,000 requests take 8-10 min on two shared cores
	soakStall    = 3 * time.Minute  // one request: past it the run dumps NATS's state and fails
	// Flatness: goroutines from the first sample to the last; RSS and the
	// heap from the sample after the second batch (the warm-up: caches,
	// connections and the code paths of faults are in use by then) to every
	// later one. Samples are taken quiescent, after a GC that returns freed
	// memory to the OS.
	soakGoroutineSlack = 25
	soakFlatBase       = 1    // the sample after the second batch
	soakFlatSlack      = 0.10 // RSS and heap at most 10 % above it
	// soakHeapFloor is the least heap growth the check allows: with NATS
	// apart the live heap is about 3.6 MiB, and from one quiescent sample to
	// the next it moves by up to 0.5 MiB either way (10,000 requests: 3.6,
	// 3.7, 4.1, 4.1, 3.7, 4.1 MiB), more than 10 % of it.
	soakHeapFloor = 1 << 20
)

// soakSample is the process's state after a batch of requests was answered.
type soakSample struct {
	answered   int
	goroutines int
	rss        int64 // resident, anonymous and file-backed
	anon, file int64 // RssAnon and RssFile of /proc/self/status: the process's own memory, and the pages of its binary and libraries it has touched
	heap       uint64
	heapInuse  uint64 // the heap's spans in use: heap plus fragmentation
	offHeap    uint64 // the runtime's memory outside the heap: stacks, GC metadata, profiling buckets (Sys − HeapSys)
	elapsed    time.Duration
}

// soak is the run: real Vault, graphsim, an embedded-in-test NATS server
// reached by the worker through a faultproxy, a worker restarted now and
// then, and a client counting final outcome events.
type soak struct {
	t        *testing.T
	rng      *rand.Rand
	vault    *vaulttest.Server
	graph    *graphsim.Server
	link     *faultproxy.Proxy
	rot      *jobs.Rotator
	app      *config.Config
	w        *worker.Worker
	nc       *nats.Conn
	js       nats.JetStreamContext
	newest   map[string]string // job -> thumbprint of its newest bundle
	cuts     int               // NATS link cuts injected
	restarts int               // worker restarts
	log      *slog.Logger      // the worker's and rotator's, to SOAK_LOG when set
	js2      jetstream.JetStream
	wnc      *nats.Conn // the worker's connection, dialed by the soak to count its drops
	src      *vaultsrc.Client
	kv       *api.KVv2
	pki      *vaulttest.PKI
	kinds    []soakJobKind // per job of app.Jobs: hot, PKI, watched
	soakCounters

	rollbackDone chan struct{}
	dumpOnce     sync.Once
	mu           sync.Mutex
	finals       soakFinals // each request's final events, each event id once
	answered     map[string]chan struct{}
	statuses     map[string]int
}

// TestSoak is the soak of issue 8. It is not part of make test: it runs
// only when SOAK_REQUESTS is set (make soak, make soak-short). Its jobs
// spread over 24 tenants plus one kept saturated on purpose; some issue
// from Vault PKI, some are watched, one is rolled back and rewritten while
// requests run (soakmix_test.go). It asserts that every request is
// answered exactly once (one final outcome event id per request, watch
// requests included), that no connector ends on an older certificate than
// its job's newest bundle nor on a revoked one, that the rollback holds
// until the path is rewritten, that no NATS subscription of the worker or
// of the soak dropped a message as a slow consumer, that goroutines are flat
// from the first batch to the last, and that RSS and the heap after every
// later batch stay within 10 % of their figures after the second (the heap
// within 1 MiB while 10 % of it is less). It
// reports throughput. SOAK_HEAPPROFILE=PREFIX writes a heap profile after
// each batch (PREFIX.<batch>.heap).
func TestSoak(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SOAK_REQUESTS"))
	if n <= 0 {
		t.Skip("set SOAK_REQUESTS (make soak) to run the soak")
	}
	if os.Getenv("SOAK_HEAPPROFILE") != "" {
		runtime.MemProfileRate = 4 << 10 // fine enough to tell a few MiB of growth apart
	}
	seed := uint64(time.Now().UnixNano())
	if v, err := strconv.ParseUint(os.Getenv("SOAK_SEED"), 10, 64); err == nil {
		seed = v
	}
	t.Logf("soak: %d requests, SOAK_SEED=%d", n, seed)
	s := startSoak(t, seed)
	s.mu.Lock()
	s.finals.reserve(n)
	s.mu.Unlock()
	batch := 1000
	if n < 2*batch {
		batch = max(n/5, 1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), soakDeadline)
	defer cancel()
	start := time.Now()
	var samples []soakSample
	var busy, spreadBusy time.Duration // time spent answering the batches' requests, and their spread share
	for sent := 0; sent < n; sent += batch {
		size := min(batch, n-sent)
		b := sent / batch
		s.newBundles(t, b)
		if b > 0 && b%3 == 0 {
			s.restartWorker(ctx)
		}
		var rollback func(*sync.WaitGroup)
		if b == 1 {
			// Rolled back halfway through the batch, while its requests
			// run, and checked once answered; the next batch rewrites it.
			rollback = s.rollbackMidBatch(ctx)
		}
		began := time.Now()
		spreadBusy += s.runBatch(ctx, sent, size, rollback)
		busy += time.Since(began)
		x := sample(sent+size, time.Since(start))
		soakHeapProfile(t, b)
		t.Logf("sample: %d answered, %s, %d goroutines, RSS %.1f MiB (anon %.1f, file %.1f), heap %.1f MiB (in use %.1f, runtime off-heap %.1f)", x.answered, x.elapsed.Round(time.Second), x.goroutines,
			mib(x.rss), mib(x.anon), mib(x.file), mib(x.heap), mib(x.heapInuse), mib(x.offHeap))
		samples = append(samples, x)
	}
	// A last, fault-free request per job: the connector must end on the
	// newest bundle whatever the faults did.
	s.runFinal(ctx)
	elapsed := time.Since(start)
	s.report(samples, elapsed)
	t.Logf("throughput: %d requests answered in %s of batches: %.1f requests/s; the %d of the spread tenants in %s: %.1f requests/s; %d in the saturated tenant",
		n, busy.Round(time.Second), float64(n)/busy.Seconds(), n-s.hotSent, spreadBusy.Round(time.Second), float64(n-s.hotSent)/spreadBusy.Seconds(), s.hotSent)
	s.check(samples, n)
}

// rollbackMidBatch returns what runBatch calls halfway through batch 1:
// roll soakRollbackJob back to version 1 and check the connector follows;
// the next batch's newBundles rewrites the path.
func (s *soak) rollbackMidBatch(ctx context.Context) func(*sync.WaitGroup) {
	return func(wg *sync.WaitGroup) {
		for _, j := range s.app.Jobs {
			if j.Name == soakRollbackJob {
				id, thumb := s.rollback(s.t, j)
				wg.Go(func() { s.checkRollback(ctx, j, id, thumb) })
				return
			}
		}
		s.t.Fatalf("no job %s", soakRollbackJob)
	}
}

func startSoak(t *testing.T, seed uint64) *soak {
	s := &soak{t: t, rng: rand.New(rand.NewPCG(seed, seed^0x50a4)), newest: map[string]string{},
		answered: map[string]chan struct{}{}, statuses: map[string]int{}}
	s.log = slog.New(slog.DiscardHandler)
	if path := os.Getenv("SOAK_LOG"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = f.Close() })
		s.log = slog.New(slog.NewJSONHandler(f, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	s.vault = vaulttest.Start(t)
	s.pki = s.vault.EnablePKI(t, vaulttest.PKIOptions{MaxTTL: "2160h"})
	s.kv = s.vault.Client(t).KVv2("secret")
	s.graph = graphsim.NewTest(t)
	soakNATSApart(t)
	ns := testkit.NATS(t, "")
	var err error
	if s.link, err = faultproxy.New(strings.TrimPrefix(ns.ClientURL(), "nats://")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.link.Close() })
	s.app = soakApp(s.link.URL("nats"))
	s.soakJobs(s.pki)
	s.graph.Start()
	tenants := s.soakTenants()
	if s.src, err = vaultsrc.New(context.Background(), vaultsrc.Config{Address: s.vault.Addr, Auth: vaultsrc.Auth{Token: s.vault.Token}}); err != nil {
		t.Fatal(err)
	}
	conn, err := connector.New(connector.Config{Tenants: tenants, Transport: s.graph.Client().Transport})
	if err != nil {
		t.Fatal(err)
	}
	if s.rot, err = jobs.New(jobs.Config{Source: s.src, Connector: conn, Logger: s.log, Issuer: s.src, Writer: s.src, Versions: s.src}); err != nil {
		t.Fatal(err)
	}
	if s.nc, err = nats.Connect(ns.ClientURL(), nats.ErrorHandler(s.onNATSError("soak client"))); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.nc.Close)
	s.js, _ = s.nc.JetStream()
	// Operators cap the results stream; the soak does too, so that NATS's
	// own store does not grow with the run.
	js, _ := jetstream.New(s.nc)
	s.js2 = js
	if _, err := js.CreateStream(context.Background(), jetstream.StreamConfig{
		Name: contract.ResultsStream, Subjects: []string{"certrotation.result.>"}, Retention: jetstream.LimitsPolicy,
		MaxMsgs: 2000, Discard: jetstream.DiscardOld, Storage: jetstream.FileStorage, Duplicates: contract.DuplicateWindow, MaxAge: contract.ResultsMaxAge,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.nc.Subscribe("certrotation.result.>", s.onEvent); err != nil {
		t.Fatal(err)
	}
	s.startWorker(context.Background())
	t.Cleanup(func() { _ = s.w.Stop(context.Background()); s.wnc.Close() })
	return s
}

func (s *soak) startWorker(ctx context.Context) {
	s.wnc = s.dialWorker()
	wc := workerconfig.From(s.app)
	b, err := bus.Open(ctx, bus.Options{Conn: s.wnc})
	if err != nil {
		s.t.Fatal(err)
	}
	wc.Rotator, wc.ShutdownTimeout, wc.Logger, wc.Bus, wc.Versions = s.rot, 2*time.Second, s.log, b, s.src
	w, err := worker.New(wc)
	if err != nil {
		s.t.Fatal(err)
	}
	if err := w.Start(ctx); err != nil {
		s.t.Fatal(err)
	}
	s.w = w
}

// restartWorker stops the worker mid-run (in-flight requests are handed
// back) and starts a new one, as a rolling update does.
func (s *soak) restartWorker(ctx context.Context) {
	_ = s.w.Stop(ctx)
	s.wnc.Close() // a process restart closes its connection too
	s.startWorker(ctx)
	s.restarts++
}

// newBundles writes a newer bundle for some KV jobs (all in the first
// batch; the rolled-back one before and after its rollback) and has every
// PKI job issue anew.
func (s *soak) newBundles(t *testing.T, batch int) {
	now := time.Now()
	if batch > 0 {
		s.reissue(t)
	}
	for i, j := range s.app.Jobs {
		if s.kinds[i].pki {
			continue
		}
		// The rolled-back job gets a version 2 before its rollback (batch 1)
		// and is rewritten after it (batch 2).
		rewrite := (batch == 1 || batch == 2) && j.Name == soakRollbackJob
		if batch > 0 && s.rng.IntN(3) != 0 && !rewrite {
			continue
		}
		b := testkit.NewBundle(t, testkit.BundleSpec{CN: "soak.example", NotBefore: now.Add(-time.Hour),
			NotAfter: now.Add(60*24*time.Hour + time.Duration(batch)*time.Hour), Password: "soak-password"})
		s.vault.PutBundle(t, "secret", j.Source.Path, b.PFX, b.Password)
		s.newest[j.Name] = b.Thumbprint
	}
}

func (s *soak) onEvent(m *nats.Msg) {
	var ev contract.Event
	if json.Unmarshal(m.Data, &ev) != nil || !ev.Data.Final || ev.Data.Status == contract.StatusExpiring {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.finals.set(ev.Data.RequestID, true); !slices.ContainsFunc(f.events(), func(e finalEvent) bool { return e.id == eventHash(ev.ID) }) {
		f.add(finalEvent{id: eventHash(ev.ID), outcome: s.outcomeName(ev.Data.Status, ev.Data.Reason)})
	}
	if ch := s.answered[ev.Data.RequestID]; ch != nil {
		close(ch)
		delete(s.answered, ev.Data.RequestID)
	}
}

// outcomeName counts the outcome and returns its name, one string per
// distinct name. The caller holds s.mu.
func (s *soak) outcomeName(status, reason string) string {
	name := status + "/" + reason
	for k := range s.statuses {
		if k == name {
			name = k
			break
		}
	}
	s.statuses[name]++
	return name
}

// send publishes one request and returns a channel closed on its first
// final outcome.
func (s *soak) send(job, id string) <-chan struct{} {
	ch := make(chan struct{})
	s.mu.Lock()
	s.answered[id] = ch
	s.mu.Unlock()
	if _, err := s.js.Publish("certrotation.request."+job, []byte(`{"job":"`+job+`"}`), nats.MsgId(id)); err != nil {
		s.t.Fatalf("publishing %s: %v", id, err)
	}
	return ch
}

// runBatch sends size requests and waits until every one is answered:
// every soakHotShare-th goes to the saturated tenant's jobs, at most
// soakHotWindow of those unanswered at once (sent by a goroutine of their
// own, so that their waits do not hold back the rest); the others go to the
// spread jobs in turn, at most soakWindow unanswered at once, with faults.
// mid, when set, runs once half the batch is sent; the batch waits for
// what it adds to wg. It returns how long the spread requests took to be
// answered: the worker's own pace, which the saturated tenant's does not
// bound.
func (s *soak) runBatch(ctx context.Context, first, size int, mid func(*sync.WaitGroup)) time.Duration {
	began := time.Now()
	var wg, hotWG sync.WaitGroup
	var hot, spread []int
	for i := first; i < first+size; i++ {
		if i%soakHotShare == soakHotShare-1 {
			hot = append(hot, i)
		} else {
			spread = append(spread, i)
		}
	}
	s.hotSent += len(hot)
	hotWG.Go(func() {
		s.sendAll(ctx, &hotWG, hot, soakHotWindow, func(i int) string { return s.app.Jobs[i%soakHotJobs].Name }, nil)
	})
	spreadJobs := len(s.app.Jobs) - soakHotJobs
	s.sendAll(ctx, &wg, spread, soakWindow, func(i int) string { return s.app.Jobs[soakHotJobs+i%spreadJobs].Name }, func(k int) {
		s.maybeFault()
		if mid != nil && k == len(spread)/2 {
			mid(&wg)
		}
	})
	s.calm()
	wg.Wait()
	spreadTook := time.Since(began)
	hotWG.Wait()
	if s.t.Failed() {
		s.t.FailNow()
	}
	return spreadTook
}

// sendAll sends request ids[k] (soak-<id>) to jobOf(id), at most window
// unanswered at once, calling before(k) before each.
func (s *soak) sendAll(ctx context.Context, wg *sync.WaitGroup, ids []int, window int, jobOf func(int) string, before func(k int)) {
	slots := make(chan struct{}, window)
	for k, n := range ids {
		select {
		case slots <- struct{}{}:
		case <-ctx.Done():
			s.t.Errorf("soak deadline passed at request %d", n)
			return
		}
		if before != nil {
			before(k)
		}
		job := jobOf(n)
		id := fmt.Sprintf("soak-%06d", n)
		ch := s.send(job, id)
		wg.Go(func() {
			defer func() { <-slots }()
			stall := time.NewTimer(soakStall)
			defer stall.Stop()
			select {
			case <-ch:
			case <-stall.C:
				s.t.Errorf("request %s (job %s) not answered in %s", id, job, soakStall)
				s.dumpOnce.Do(s.dump)
			case <-ctx.Done():
				s.t.Errorf("request %s (job %s) never answered", id, job)
			}
		})
	}
}

func (s *soak) runFinal(ctx context.Context) {
	var chans []<-chan struct{}
	for _, j := range s.app.Jobs {
		chans = append(chans, s.send(j.Name, "soak-final-"+j.Name))
	}
	for i, ch := range chans {
		select {
		case <-ch:
		case <-ctx.Done():
			s.t.Fatalf("final request of %s never answered", s.app.Jobs[i].Name)
		}
	}
}

// maybeFault injects, before a request is sent, a fault at random: Graph
// 429 or 503 for the next one to three calls, Graph latency up to 80ms, or
// every NATS connection of the worker cut (it reconnects). Faults follow
// the request rate, not the clock, so that a request left alone at the end
// of a batch is not the only target of every fault.
func (s *soak) maybeFault() {
	switch k := s.rng.IntN(100); {
	case k < 3:
		s.graph.FailNext(1+s.rng.IntN(3), graphsim.Fault{Status: 503})
	case k < 4:
		s.graph.FailNext(1, graphsim.Fault{Status: 429, RetryAfter: "1"})
	case k < 7:
		s.graph.SetLatency(time.Duration(s.rng.IntN(80)) * time.Millisecond)
	case k < 8:
		s.link.Cut()
		s.cuts++
	}
}

// calm clears the faults at the end of a batch, so that the stragglers
// finish and the sample is taken quiescent; it also drops graphsim's
// request log, which would otherwise grow with the run.
func (s *soak) calm() {
	s.graph.FailNext(0, graphsim.Fault{})
	s.graph.SetLatency(0)
	s.graph.ForgetRequests()
}

// sample reads goroutines, RSS (from /proc/self/statm) and the live heap
// after a GC that returns freed memory to the OS.
func sample(answered int, elapsed time.Duration) soakSample {
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	x := soakSample{answered: answered, goroutines: runtime.NumGoroutine(), rss: rss(), heap: ms.HeapAlloc, heapInuse: ms.HeapInuse,
		offHeap: ms.Sys - ms.HeapSys, elapsed: elapsed}
	x.anon, x.file = rssParts()
	return x
}

// soakNATSApart makes testkit.NATS start the soak's NATS server as a
// process of its own: the module's nats-server (the embedded one's
// version), built into the test's temp dir, unless CERTROTATOR_NATS_SERVER
// already names a binary. The flatness check reads this process's RSS and
// heap; with the server embedded they held its state by design too (a
// message block cache of up to 8 MiB per stream being written, which
// doubled from one batch to another, and the 10-minute duplicate windows,
// longer than a soak of 10,000 requests), so they measured NATS, not the
// worker. SOAK_NATS=embedded keeps the embedded server.
func soakNATSApart(t *testing.T) {
	if testkit.External() || os.Getenv("SOAK_NATS") == "embedded" {
		return
	}
	bin := filepath.Join(t.TempDir(), "nats-server")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/nats-io/nats-server/v2")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building nats-server for the soak: %v\n%s", err, out)
	}
	t.Setenv(testkit.ExternalServerEnv, bin)
}

// soakHeapProfile writes the heap profile after batch b (taken after
// sample's GC) to SOAK_HEAPPROFILE.<b>.heap when that prefix is set, so
// that growth between batches can be attributed with
// `go tool pprof -base PREFIX.1.heap PREFIX.N.heap`.
func soakHeapProfile(t *testing.T, b int) {
	prefix := os.Getenv("SOAK_HEAPPROFILE")
	if prefix == "" {
		return
	}
	path := fmt.Sprintf("%s.%d.heap", prefix, b)
	f, err := os.Create(path)
	if err != nil {
		t.Errorf("creating heap profile: %v", err)
		return
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		t.Errorf("writing heap profile %s: %v", path, err)
	}
}

// rssParts reads RssAnon and RssFile from /proc/self/status; -1 when absent.
func rssParts() (anon, file int64) {
	anon, file = -1, -1
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return anon, file
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "RssAnon:":
			anon = kb << 10
		case "RssFile:":
			file = kb << 10
		}
	}
	return anon, file
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return -1
	}
	pages, _ := strconv.ParseInt(f[1], 10, 64)
	return pages * int64(os.Getpagesize())
}

func mib[T int64 | uint64](v T) float64 { return float64(v) / (1 << 20) }

func (s *soak) report(samples []soakSample, elapsed time.Duration) {
	s.t.Logf("%10s %10s %10s %10s %10s %10s %10s %10s", "answered", "elapsed", "goroutines", "rss_MiB", "anon_MiB", "file_MiB", "heap_MiB", "inuse_MiB")
	for _, x := range samples {
		s.t.Logf("%10d %10s %10d %10.1f %10.1f %10.1f %10.1f %10.1f", x.answered, x.elapsed.Round(time.Second), x.goroutines,
			mib(x.rss), mib(x.anon), mib(x.file), mib(uint64(x.heap)), mib(x.heapInuse))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.logStreams()
	s.t.Logf("outcomes: %v; %d NATS link cuts, %d worker restarts, %d rollbacks, %d watch requests, %d slow-consumer reports; total %s",
		s.statuses, s.cuts, s.restarts, s.rollbacks, s.watchRequests(), s.slowDrops.Load(), elapsed.Round(time.Second))
}

func (s *soak) check(samples []soakSample, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range n {
		id := fmt.Sprintf("soak-%06d", i)
		if events := s.finals.set(id, false).events(); len(events) != 1 {
			s.t.Errorf("request %s has %d final outcomes (%v), want exactly 1", id, len(events), events)
		}
	}
	for id, set := range s.finals.named {
		events := set.events()
		if strings.HasPrefix(id, "vault-") && len(events) != 1 {
			s.t.Errorf("watch request %s has %d final outcomes (%v), want exactly 1", id, len(events), events)
		}
	}
	if s.watchRequests() == 0 {
		s.t.Error("no watch request was answered: watch is not in the mix")
	}
	if s.rollbacks != 1 {
		s.t.Errorf("%d rollbacks checked, want 1", s.rollbacks)
	}
	if n := s.slowDrops.Load(); n > 0 {
		s.t.Errorf("%d slow-consumer reports: messages were dropped (see the log for which subscriptions)", n)
	}
	for i, j := range s.app.Jobs {
		id := j.Connectors[0].ID
		want := s.newest[j.Name]
		if s.kinds[i].pki {
			var serial string
			want, serial = s.latestPKI(j)
			if s.vault.Revoked(s.t, s.pki.Mount, serial) {
				s.t.Errorf("%s's latest issued certificate %s is revoked", j.Name, serial)
			}
		}
		if active := s.active(j); active != want {
			s.t.Errorf("connector %s of %s is on %s, want its newest bundle %s (rolled back)", id, j.Name, active, want)
		}
	}
	first, last := samples[0], samples[len(samples)-1]
	if last.goroutines > first.goroutines+soakGoroutineSlack {
		s.t.Errorf("goroutines grew from %d (after %d) to %d (after %d)", first.goroutines, first.answered, last.goroutines, last.answered)
	}
	if len(samples) <= soakFlatBase {
		return
	}
	base := samples[soakFlatBase]
	for _, x := range samples[soakFlatBase+1:] {
		if float64(x.rss) > float64(base.rss)*(1+soakFlatSlack) {
			s.t.Errorf("RSS grew from %.1f MiB (after %d) to %.1f MiB (after %d): more than %.0f %%", mib(base.rss), base.answered, mib(x.rss), x.answered, soakFlatSlack*100)
		}
		if float64(x.heap) > float64(base.heap)+max(float64(base.heap)*soakFlatSlack, soakHeapFloor) {
			s.t.Errorf("heap grew from %.1f MiB (after %d) to %.1f MiB (after %d): more than %.0f %% and more than %.0f MiB", mib(base.heap), base.answered, mib(x.heap), x.answered, soakFlatSlack*100, mib(uint64(soakHeapFloor)))
		}
	}
}

// dump logs what NATS holds when a request is stuck: the requests stream,
// the consumer and the job locks.
func (s *soak) dump() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if st, err := s.js2.Stream(ctx, contract.RequestsStream); err == nil {
		info, _ := st.Info(ctx)
		s.t.Logf("requests stream: %+v", info.State)
		if c, err := st.Consumer(ctx, "certrotator"); err == nil {
			ci, _ := c.Info(ctx)
			s.t.Logf("consumer: pending %d, ack pending %d, redelivered %d, waiting %d", ci.NumPending, ci.NumAckPending, ci.NumRedelivered, ci.NumWaiting)
		}
	}
	if kv, err := s.js2.KeyValue(ctx, contract.LocksBucket); err == nil {
		keys, _ := kv.Keys(ctx)
		for _, k := range keys {
			if e, err := kv.Get(ctx, k); err == nil {
				s.t.Logf("lock %s = %s (rev %d, %s old)", k, e.Value(), e.Revision(), time.Since(e.Created()).Round(time.Second))
			}
		}
	}
}

// logStreams logs what each stream (buckets included) holds at the end, to
// tell the worker's own memory from what NATS keeps by design.
func (s *soak) logStreams() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	names := s.js2.StreamNames(ctx)
	for name := range names.Name() {
		st, err := s.js2.Stream(ctx, name)
		if err != nil {
			continue
		}
		info, err := st.Info(ctx)
		if err != nil {
			continue
		}
		s.t.Logf("stream %s: %d msgs, %d bytes, %d subjects, %d deleted", name, info.State.Msgs, info.State.Bytes, info.State.NumSubjects, info.State.NumDeleted)
	}
}
