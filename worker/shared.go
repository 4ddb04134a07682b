package worker

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/testsignal"
	"github.com/certrotator/certrotator/jobs"
)

// shared is what the services of one worker have in common: identity, jobs,
// logger, clock, metrics, timing knobs, and the bus once the connection
// service has provisioned it. Services read it; only natsConn sets the bus.
type shared struct {
	instance string
	prefix   string
	jobs     map[string]jobs.Job
	jobList  []jobs.Job
	log      *slog.Logger
	now      func() time.Time
	metrics  *metrics
	requests *RequestCounter // the Graph and Vault clients' requests
	registry *prometheus.Registry
	mux      *http.ServeMux
	tune     tuning
	signals  testSignals
	busPtr   atomic.Pointer[bus]
	releases releases    // wakes local waiters for a job's lock
	view     *statusView // the status bucket as watched; see statusview.go
	checks   map[string]func(context.Context) error
}

// bus is what the connection service opens and the other services use.
type bus struct {
	nc       *nats.Conn
	js       jetstream.JetStream
	requests jetstream.Stream
	cons     jetstream.Consumer
	status   jetstream.KeyValue
	locks    jetstream.KeyValue
	warnings jetstream.KeyValue
	outcomes jetstream.KeyValue // records of runs not yet settled; see record
	// outcomesStream is the outcomes bucket's stream, to drop settled keys
	// without delete markers (dropOutcomeKey); nil when it was not read.
	outcomesStream jetstream.Stream
	budget         jetstream.KeyValue // Graph rate-limit buckets shared by the replicas
	// advisories hands out the max-deliveries advisories kept in their
	// stream, one replica each.
	advisories jetstream.Consumer
}

// bus returns the open bus, or nil before the connection service started.
func (s *shared) bus() *bus { return s.busPtr.Load() }

// tuning holds the timing knobs; tests shrink them.
type tuning struct {
	backoff    retry.Backoff // nak delays after transient failures
	keepAlive  time.Duration // InProgress and lease renewal period
	lockPoll   time.Duration // how often a busy lock is retried
	lockWait   time.Duration // how long a request waits for a busy lock in-process
	contention time.Duration // nak delay once lockWait is exhausted (jittered up to 2x)
	opTimeout  time.Duration // one NATS round trip (publish, KV, ack)
	runTimeout time.Duration // one Rotate call; a hung run fails transiently
	fetchWait  time.Duration // how long one pull for requests waits; 0 is fetchWaitDefault
	clock      retry.Clock   // the scheduler's and the waits' time source
}

func defaultTuning() tuning {
	return tuning{
		backoff:    retry.Backoff{Base: time.Second, Max: 5 * time.Minute, Jitter: 0.1},
		keepAlive:  5 * time.Second, // a sixth of the lock TTL: see lease
		lockPoll:   time.Second,
		lockWait:   5 * time.Minute,
		contention: 2 * time.Second,
		opTimeout:  10 * time.Second,
		runTimeout: 10 * time.Minute,
		clock:      retry.System,
	}
}

// testSignals are fired by the services at the moments tests wait for;
// inert unless a test arms them.
type testSignals struct {
	lockBusy testsignal.Signal[string]   // a request found its job locked elsewhere
	settled  testsignal.Signal[decision] // a request message was settled
	released testsignal.Signal[string]   // a job lock was given back (after its request settled)
	answered testsignal.Signal[uint64]   // a max-deliveries advisory was answered (stream seq)
}

func newShared(cfg Config) (*shared, error) {
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	requests := cfg.Requests
	if requests == nil {
		requests = NewRequestCounter()
	}
	m, err := newMetrics(reg, requests, func() float64 {
		if cfg.Bus == nil {
			return 0
		}
		return float64(cfg.Bus.SlowConsumers())
	})
	if err != nil {
		return nil, err
	}
	if cfg.Registry == nil {
		m.registerRuntime()
	}
	byName := make(map[string]jobs.Job, len(cfg.Jobs))
	for _, j := range cfg.Jobs {
		byName[j.Name] = j
	}
	now := cfg.NowFunc
	if now == nil {
		now = time.Now
	}
	logger := cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	sh := &shared{
		instance: cmp.Or(cfg.Instance, InstanceDefault),
		prefix:   cmp.Or(cfg.SubjectPrefix, contract.SubjectPrefixDefault),
		jobs:     byName,
		jobList:  cfg.Jobs,
		log:      logger.With("component", "worker"),
		now:      now,
		metrics:  m,
		requests: requests,
		registry: reg,
		tune:     defaultTuning(),
		checks:   cfg.Checks,
	}
	sh.view = newStatusView(sh)
	if err := reg.Register(newStatusCollector(sh)); err != nil {
		return nil, fmt.Errorf("registering status metrics: %w", err)
	}
	return sh, nil
}

// job returns the configured job of that name.
func (s *shared) job(name string) (jobs.Job, bool) {
	j, ok := s.jobs[name]
	return j, ok
}

// known reports whether job is configured.
func (s *shared) known(job string) bool {
	_, ok := s.jobs[job]
	return ok
}

// jobLabel is the job as a metric label: a configured job's name, else
// _unknown, so that junk subjects cannot grow the label set.
func (s *shared) jobLabel(job string) string {
	if s.known(job) {
		return job
	}
	return contract.UnknownJobToken
}
