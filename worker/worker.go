// Package worker is the NATS side of certrotator: it connects to NATS (or
// embeds a JetStream server), provisions the streams, consumer and KV
// buckets, consumes rotation requests with bounded concurrency, runs each
// through a Rotator under a per-job lock, publishes one CloudEvent per
// outcome, keeps the latest outcome per connector in a KV bucket, turns cron
// schedules into requests, and serves metrics, health and a status page.
//
// The ack mapping: a request whose outcomes are all final is acked (after
// its events are published); one with a transient, non-final failure is
// nak'd with exponential backoff; a permanently failed or malformed one is
// terminated. Nothing is acked before its outcome events are published.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/robfig/cron/v3"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
)

// Defaults of Config and of the NATS contract.
const (
	ShutdownTimeoutDefault = config.ShutdownTimeoutDefault
	ConcurrencyDefault     = config.ConcurrencyDefault
	SubjectPrefixDefault   = config.SubjectPrefixDefault
)

// Rotator runs one request for one job and returns one outcome per connector
// in play; *jobs.Rotator implements it. It never returns an empty slice and
// reports failures as failed outcomes, not errors.
type Rotator interface {
	Rotate(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome
}

var _ Rotator = (*jobs.Rotator)(nil)

// Config configures a Worker.
type Config struct {
	// App is the loaded configuration. Required.
	App *config.Config
	// Rotator runs the rotations. When nil, New builds a *jobs.Rotator from
	// Source and Connector, wired to the warnings bucket through Warnings.
	Rotator Rotator
	// Source and Connector feed the Rotator New builds when Rotator is nil;
	// they are unused otherwise.
	Source    jobs.Source
	Connector jobs.Connector
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// NowFunc defaults to time.Now. It stamps events and drives catch-up.
	NowFunc func() time.Time
	// ShutdownTimeout is how long Stop lets in-flight rotations finish before
	// cancelling them. Defaults to ShutdownTimeoutDefault.
	ShutdownTimeout time.Duration
	// Registry receives the worker's metrics. Defaults to a new registry.
	Registry *prometheus.Registry
	// Conn, when set, is used instead of dialing nats.url or embedding a
	// server; the worker never closes it. Defaults to nil.
	Conn *nats.Conn
	// Warnings, when set, is bound to the certrotation-warnings bucket by
	// Start, so that a Rotator built before the worker can use it.
	// Defaults to nil.
	Warnings *Warnings
}

// Worker consumes rotation requests and schedules cron ones. Its methods are
// safe for concurrent use. Start it once; Stop it once or more.
type Worker struct {
	cfg     Config
	app     *config.Config
	log     *slog.Logger
	now     func() time.Time
	prefix  string
	conc    int
	metrics *metrics
	mux     *http.ServeMux
	tune    tuning

	mu      sync.Mutex
	started bool
	stopped bool

	conn     *connection
	js       jetstream.JetStream
	requests jetstream.Stream
	cons     jetstream.Consumer
	status   jetstream.KeyValue
	locks    jetstream.KeyValue
	warnings jetstream.KeyValue
	iter     jetstream.MessagesContext
	cron     *cron.Cron
	advSub   *nats.Subscription
	httpSrv  *http.Server

	runCtx    context.Context // parent of in-flight work; cancelled after the shutdown timeout
	cancelRun context.CancelCauseFunc
	bgCtx     context.Context // background loops (advisories, lock renewal)
	cancelBg  context.CancelFunc
	loopDone  chan struct{}
	stopC     chan struct{} // closed when Stop begins
	inflight  sync.WaitGroup
	bg        sync.WaitGroup
	bound     atomic.Bool // the consume loop is pulling
	ready     atomic.Bool // started and not stopping
	readyConn atomic.Pointer[nats.Conn]
	statusKV  atomic.Value // jetstream.KeyValue, for the status page
	stopOnce  sync.Once
	stopErr   error
}

// tuning holds the timing knobs; tests shrink them.
type tuning struct {
	backoffBase time.Duration // first retry delay
	backoffMax  time.Duration // retry delay cap
	keepAlive   time.Duration // InProgress and lock renewal period
	lockPoll    time.Duration // how often a busy lock is retried
	lockWait    time.Duration // how long a request waits for a busy lock in-process
	contention  time.Duration // nak delay once lockWait is exhausted (jittered up to 2x)
	opTimeout   time.Duration // one NATS round trip (publish, KV, ack)
	runTimeout  time.Duration // one Rotate call; a hung run fails transiently
	onLockBusy  func(job string)
}

func defaultTuning() tuning {
	return tuning{
		backoffBase: time.Second,
		backoffMax:  5 * time.Minute,
		keepAlive:   10 * time.Second,
		lockPoll:    time.Second,
		lockWait:    5 * time.Minute,
		contention:  2 * time.Second,
		opTimeout:   10 * time.Second,
		runTimeout:  10 * time.Minute,
	}
}

// errShuttingDown is the cause of the in-flight context's cancellation when
// Stop runs out of patience.
var errShuttingDown = errors.New("worker: shutting down")

// New checks cfg and builds a Worker. It starts no goroutine and opens no
// connection; Start does.
func New(cfg Config) (*Worker, error) {
	if cfg.App == nil {
		return nil, errors.New("worker: config App is required")
	}
	cfg.Logger = cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler))
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Rotator == nil {
		if err := cfg.buildRotator(); err != nil {
			return nil, err
		}
	}
	cfg.ShutdownTimeout = cmp.Or(cfg.ShutdownTimeout, ShutdownTimeoutDefault)
	ownRegistry := cfg.Registry == nil
	if ownRegistry {
		cfg.Registry = prometheus.NewRegistry()
	}
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, err
	}
	if ownRegistry {
		m.registerRuntime()
	}
	for _, j := range cfg.App.Jobs {
		if j.Schedule == "" {
			continue
		}
		if _, err := config.ParseSchedule(j.Schedule); err != nil {
			return nil, fmt.Errorf("checking job %s: %w", j.Name, err)
		}
	}
	w := &Worker{
		cfg:     cfg,
		app:     cfg.App,
		log:     cfg.Logger.With("component", "worker"),
		now:     cfg.NowFunc,
		prefix:  cmp.Or(cfg.App.NATS.SubjectPrefix, SubjectPrefixDefault),
		conc:    cmp.Or(max(cfg.App.Concurrency, 0), ConcurrencyDefault),
		metrics: m,
		tune:    defaultTuning(),
	}
	w.mux = w.routes()
	return w, nil
}

// buildRotator makes the production Rotator from Source and Connector, its
// expiry warnings remembered in the worker's bucket.
func (c *Config) buildRotator() error {
	if c.Source == nil || c.Connector == nil {
		return errors.New("worker: config needs a Rotator, or a Source and a Connector")
	}
	if c.Warnings == nil {
		c.Warnings = &Warnings{}
	}
	r, err := jobs.New(jobs.Config{
		Source: c.Source, Connector: c.Connector, Warnings: c.Warnings, NowFunc: c.NowFunc, Logger: c.Logger,
	})
	if err != nil {
		return fmt.Errorf("building the rotator: %w", err)
	}
	c.Rotator = r
	return nil
}

// Start connects (or embeds a server), provisions streams, consumer and
// buckets, and launches the consume loop, the advisory listener, cron and
// the HTTP server. It returns once they run, or the first error after
// undoing what it started. A Worker starts once.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.stopped {
		return errors.New("worker: already started or stopped")
	}
	w.started = true
	w.runCtx, w.cancelRun = context.WithCancelCause(context.WithoutCancel(ctx))
	w.bgCtx, w.cancelBg = context.WithCancel(context.WithoutCancel(ctx))
	if err := w.start(ctx); err != nil {
		w.stopErr = w.shutdown(context.WithoutCancel(ctx))
		w.stopped = true
		return err
	}
	w.readyConn.Store(w.conn.nc)
	w.statusKV.Store(w.status)
	w.ready.Store(true)
	w.log.Info("worker started", "instance", w.app.Instance, "concurrency", w.conc, "subject_prefix", w.prefix)
	return nil
}

func (w *Worker) start(ctx context.Context) error {
	conn, err := w.connect()
	if err != nil {
		return err
	}
	w.conn = conn
	if err := w.provision(ctx); err != nil {
		return err
	}
	if w.cfg.Warnings != nil {
		w.cfg.Warnings.bind(w.warnings)
	}
	if err := w.startAdvisories(); err != nil {
		return err
	}
	if err := w.startConsuming(); err != nil {
		return err
	}
	if err := w.startCron(ctx); err != nil {
		return err
	}
	return w.startHTTP()
}

// Ready reports whether the worker is connected to NATS and bound to the
// consumer, and not stopping.
func (w *Worker) Ready() bool {
	nc := w.readyConn.Load()
	return w.ready.Load() && w.bound.Load() && nc != nil && nc.IsConnected()
}

// Stop stops taking requests, lets in-flight ones finish for up to
// ShutdownTimeout (or until ctx ends), then cancels them; a cancelled
// request is nak'd, never acked. It then stops cron, the HTTP server and
// the connection it opened. Stop is idempotent, safe before Start, and
// returns the first error met on the way.
func (w *Worker) Stop(ctx context.Context) error {
	w.stopOnce.Do(func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if !w.started || w.stopped {
			w.stopped = true
			return
		}
		w.stopped = true
		w.stopErr = w.shutdown(ctx)
		w.log.Info("worker stopped")
	})
	return w.stopErr
}

// shutdown undoes whatever start managed to do, in reverse order. Called
// with w.mu held; nothing that serves requests takes w.mu.
func (w *Worker) shutdown(ctx context.Context) error {
	w.ready.Store(false)
	var errs []error
	if w.cron != nil {
		<-w.cron.Stop().Done() // cron only publishes; its jobs are short
	}
	errs = append(errs, w.stopConsuming(ctx))
	if w.httpSrv != nil {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		if err := w.httpSrv.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("stopping the HTTP server: %w", err))
		}
		cancel()
	}
	if w.advSub != nil {
		_ = w.advSub.Unsubscribe()
	}
	w.cancelBg()
	w.bg.Wait()
	if w.conn != nil {
		errs = append(errs, w.conn.close(10*time.Second))
	}
	w.cancelRun(nil)
	return errors.Join(errs...)
}
