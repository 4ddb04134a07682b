package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/budget"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
	"github.com/certrotator/certrotator/worker"
)

// fleetTimeout bounds one worker run; a run that needs longer has failed
// the harness's purpose anyway.
const fleetTimeout = 30 * time.Minute

// runFleet measures the real worker: replicas workers on one embedded NATS
// server, each with the production defaults of concurrency and its own
// Rotator, Vault source and Graph client, handle one request per job of
// the fleet, all published at once as the scheduler publishes a cron tick
// that finds every connector due. The makespan runs from the first publish
// to the last connector's final outcome event.
func runFleet(t *testing.T, v *vaulttest.Server, s fleetSpec, replicas int) Result {
	f := s.layout()
	sim := newGraph(t, s, f)
	ns := testkit.NATS(t, "")
	var reads atomic.Int64
	for r := range replicas {
		startReplica(t, v, s, f, sim, ns.ClientURL(), fmt.Sprintf("bench-%d", r+1), &reads)
	}
	tr := newTracker(f)
	js := tr.watch(t, ns)

	resetPeakRSS()
	u0 := readUsage(t)
	var profile string
	if path := os.Getenv("BENCH_HEAPPROFILE"); path != "" {
		profile = fmt.Sprintf("%s.%d-%d", path, s.Connectors, replicas)
	}
	peaks := startSampler(profile)
	tr.publishTick(t, js, f)
	tr.wait(t)
	u1 := readUsage(t)
	rss := peakRSSMB(t)

	counts := sim.AllCounts()
	calls, throttled := graphTotals(counts)
	tr.mu.Lock()
	defer tr.mu.Unlock()
	res := Result{
		Mode: "worker", Connectors: s.Connectors, Tenants: s.Tenants, Replicas: replicas,
		MakespanS: round(tr.last.Sub(tr.start).Seconds()), IdealS: round(idealSeconds(counts, s.Limits, s.Latency)),
		Uploads: tr.uploads, Skipped: tr.skipped, Failed: tr.failed, VaultReads: reads.Load(), HTTP429: throttled,
		PeakRSSMB: rss, CPUS: round((u1.cpu - u0.cpu).Seconds()), LatencyMS: s.Latency.Milliseconds(),
	}
	peaks.end(&res)
	if res.MakespanS > 0 {
		res.Efficiency = round(res.IdealS / res.MakespanS)
	}
	if tr.uploads > 0 {
		res.GraphCallsPerUpload = round(float64(calls) / float64(tr.uploads))
	}
	if tr.failed > 0 {
		t.Errorf("%d connectors failed; first: %s", tr.failed, tr.firstFailure)
	}
	return res
}

// startReplica starts one worker as cmd would build it from a config file
// that names the fleet's jobs and leaves every tuning key at its default.
func startReplica(t *testing.T, v *vaulttest.Server, s fleetSpec, f fleet, sim *graphsim.Server, url, instance string, reads *atomic.Int64) {
	t.Helper()
	app := &config.Config{Instance: instance, NATS: config.NATS{URL: url, SubjectPrefix: "certrotation"},
		HTTP: config.HTTP{Listen: "off"}, Jobs: f.jobs}
	// As cmd wires it: the connection first; the Graph client paces
	// through the budget bucket every replica shares on it.
	b := bustest.Config(t, app)
	shared := &budget.Shared{Buckets: b.JetStream()}
	rot, err := jobs.New(jobs.Config{Source: newSource(t, v, reads), Connector: newGraphClient(t, s, f, sim, shared)})
	if err != nil {
		t.Fatalf("building rotator: %v", err)
	}
	wc := workerconfig.From(app)
	wc.Rotator, wc.Bus = rot, b
	workertest.Run(t, workertest.BuildTolerant(t, worker.New, wc))
}

// tracker counts final outcome events per job and closes done when every
// job has one final outcome for each of its connectors (or a request-level
// failure, which covers the whole job).
type tracker struct {
	expect map[string]int // connectors per job
	done   chan struct{}
	start  time.Time

	mu           sync.Mutex
	seen         map[string]map[string]bool // job -> connector -> final seen
	finished     int
	uploads      int
	skipped      int
	failed       int
	firstFailure string
	last         time.Time
}

func newTracker(f fleet) *tracker {
	tr := &tracker{expect: map[string]int{}, seen: map[string]map[string]bool{}, done: make(chan struct{})}
	for _, j := range f.jobs {
		tr.expect[j.Name] = len(j.Connectors)
		tr.seen[j.Name] = map[string]bool{}
	}
	return tr
}

// watch subscribes the tracker to every outcome event on ns and returns
// the JetStream to publish the fleet's requests with.
func (tr *tracker) watch(t *testing.T, ns *server.Server) jetstream.JetStream {
	t.Helper()
	nc := testkit.Connect(t, ns)
	if _, err := nc.Subscribe("certrotation.result.>", tr.onEvent); err != nil {
		t.Fatalf("subscribing to outcomes: %v", err)
	}
	if err := nc.Flush(); err != nil {
		t.Fatalf("flushing the subscription: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("opening jetstream: %v", err)
	}
	return js
}

// publishTick starts the clock and publishes one request per job, the
// message the scheduler sends for a cron slot that finds every connector
// due, so that the runs share their bundle reads as a tick's do.
func (tr *tracker) publishTick(t *testing.T, js jetstream.JetStream, f fleet) {
	t.Helper()
	tick := strconv.FormatInt(time.Now().Unix(), 10)
	tr.start = time.Now()
	for _, j := range f.jobs {
		req := jobs.Request{Job: j.Name, Trigger: contract.TriggerCron}
		if _, err := client.PublishRequest(t.Context(), js, "certrotation", req, "cron-"+j.Name+"-"+tick); err != nil {
			t.Fatalf("publishing the request of %s: %v", j.Name, err)
		}
	}
}

// wait returns when every job has its final outcomes and fails the test
// after fleetTimeout.
func (tr *tracker) wait(t *testing.T) {
	t.Helper()
	select {
	case <-tr.done:
	case <-time.After(fleetTimeout):
		t.Fatalf("after %s, %d of %d jobs finished", fleetTimeout, tr.finishedJobs(), len(tr.expect))
	}
}

func (tr *tracker) onEvent(m *nats.Msg) {
	var ev contract.Event
	if json.Unmarshal(m.Data, &ev) != nil {
		return
	}
	o := ev.Data
	if !o.Final || o.Status == contract.StatusExpiring {
		return
	}
	now := time.Now()
	tr.mu.Lock()
	defer tr.mu.Unlock()
	seen, ok := tr.seen[o.Job]
	if !ok || seen[o.Connector] || len(seen) == tr.expect[o.Job] {
		return // another job, or a duplicate delivery
	}
	switch o.Status {
	case contract.StatusSucceeded:
		tr.uploads++
	case contract.StatusSkipped:
		tr.skipped++
	case contract.StatusFailed:
		n := 1
		if o.Connector == "" {
			n = tr.expect[o.Job] - len(seen) // the request failed as a whole
		}
		tr.failed += n
		if tr.firstFailure == "" && o.Error != nil {
			tr.firstFailure = fmt.Sprintf("%s/%s: %s %s", o.Job, o.Connector, o.Error.Code, o.Error.Message)
		}
		if o.Connector == "" {
			for i := range n {
				seen[fmt.Sprintf("_%d", i)] = true
			}
		}
	}
	if o.Connector != "" {
		seen[o.Connector] = true
	}
	if len(seen) == tr.expect[o.Job] {
		tr.finished++
		tr.last = now
		if tr.finished == len(tr.expect) {
			close(tr.done)
		}
	}
}

func (tr *tracker) finishedJobs() int {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	return tr.finished
}
