// Package worker is the NATS side of certrotator. A Worker is a few small
// services, each owning one loop, started in dependency order and stopped
// in reverse (package internal/startstop gives them one lifecycle):
//
//   - httpServer: /metrics, /healthz, /readyz, and the status page
//     (package statuspage, over pageSource) at /;
//   - natsConn: provisions the streams, consumer and buckets on the NATS
//     connection cmd opened (package bus) and publishes their handles;
//   - lockKeeper: keeps every request in flight alive (InProgress) and
//     renews the job leases they hold;
//   - advisoryListener: answers the requests JetStream gave up on;
//   - consumer: fetches requests, decodes them, takes the job's lease, runs
//     the Rotator, publishes the outcomes and settles the message;
//   - watcher: polls the Vault KV metadata of jobs that set watch and
//     turns a new version into a request message;
//   - scheduler: turns cron schedules into request messages.
//
// What to do with a message after a run is a pure decision (settle.go);
// the NATS calls that carry it out are separate. Nothing is acked before
// its outcome events are published.
package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	natsbus "github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
)

// Defaults of Config. The config file's defaults are the same (cmd's
// TestWorkerDefaultsAreTheConfigs holds them together); the worker does not
// import the config package: cmd maps the file into Config (wire.go).
const (
	// ShutdownTimeoutDefault is how long Stop lets in-flight rotations
	// finish when Config.ShutdownTimeout is zero.
	ShutdownTimeoutDefault = 30 * time.Second
	// RequestConcurrencyDefault is how many requests one worker handles at
	// once when Config.Concurrency is zero.
	RequestConcurrencyDefault = 64
	InstanceDefault           = "certrotator"
)

// Rotator runs one request for one job and returns one outcome per connector
// in play; *jobs.Rotator implements it. It never returns an empty slice and
// reports failures as failed outcomes, not errors.
type Rotator interface {
	Rotate(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome
}

var _ Rotator = (*jobs.Rotator)(nil)

// Config is what a Worker needs. cmd builds it from the config file.
type Config struct {
	// Instance names this replica in events, locks and logs. Defaults to
	// InstanceDefault.
	Instance string
	// SubjectPrefix of every subject. Defaults to contract.SubjectPrefixDefault.
	SubjectPrefix string
	// Concurrency is how many requests this worker handles at once.
	// Defaults to RequestConcurrencyDefault.
	Concurrency int
	// Jobs the worker serves, schedules parsed. Requests for other jobs are
	// answered as bad requests.
	Jobs []jobs.Job
	// Rotator runs the rotations. Required.
	Rotator Rotator
	// Bus is the NATS connection cmd opened (bus.Open). The worker
	// provisions the contract's streams, consumer and buckets on it at
	// start and never closes it. Required by Start.
	Bus *natsbus.Bus
	// Requests counts the Graph and Vault clients' requests on /metrics.
	// Defaults to a counter of the worker's own (ObserveGraph,
	// ObserveVault).
	Requests *RequestCounter
	// Replicas of the streams and buckets the worker creates
	// (nats.replicas). Defaults to 1.
	Replicas int
	// HTTPListen is the address of the HTTP server; "" or "off" runs none.
	HTTPListen string
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// NowFunc defaults to time.Now. It stamps events and drives catch-up.
	NowFunc func() time.Time
	// ShutdownTimeout is how long Stop lets in-flight rotations finish
	// before cancelling them. Defaults to ShutdownTimeoutDefault.
	ShutdownTimeout time.Duration
	// Checks are what /readyz requires besides NATS and the consumer, by
	// name (cmd passes "vault": a token lookup-self). They run with a
	// short deadline, at most once per few seconds whatever the probes'
	// rate (their results are cached); an error makes the worker not ready.
	// The probe's body names the failing check and, when the error is a
	// jobs.Failure, its code, never the error's text, which goes to the log.
	// Defaults to none.
	Checks map[string]func(context.Context) error
	// Versions, when set, is polled for the KV versions of the jobs that
	// set watch; nil disables watching. Defaults to nil.
	Versions VersionLister
	// Registry receives the worker's metrics. Defaults to a new registry
	// with the Go and process collectors.
	Registry *prometheus.Registry
	// Credentials are the worker's own credentials whose expiry it exports
	// and warns about (credentials.go), read every CredentialCheck
	// (defaults to CredentialCheckDefault). Defaults to none.
	Credentials     []Credential
	CredentialCheck time.Duration
	// InventoryTenants are scanned on their schedule through Inventory
	// (inventory.go); either empty disables the scans. Defaults to none.
	InventoryTenants []InventoryTenant
	Inventory        jobs.InventoryLister
}

// Worker consumes rotation requests and schedules cron ones. Its methods are
// safe for concurrent use. Start it once; Stop it once or more.
type Worker struct {
	*shared
	http      *httpServer
	conn      *natsConn
	keeper    *lockKeeper
	advisory  *advisoryListener
	consumer  *consumer
	watcher   *watcher
	scheduler *scheduler
	creds     *credentialWatch
	inventory *inventory

	checkCache checkCache // the last round of Checks, for /readyz

	mu      sync.Mutex
	started bool
	stopped bool
}

// New checks cfg and builds a Worker. It starts no goroutine and opens no
// connection; Start does.
func New(cfg Config) (*Worker, error) {
	if cfg.Rotator == nil {
		return nil, errors.New("worker: config needs a Rotator")
	}
	for _, j := range cfg.Jobs {
		if j.Schedule != "" && j.Next == nil {
			return nil, fmt.Errorf("worker: job %s has a schedule that was not parsed (config.Load parses it)", j.Name)
		}
	}
	sh, err := newShared(cfg)
	if err != nil {
		return nil, err
	}
	w := &Worker{shared: sh}
	w.http = &httpServer{shared: sh, addr: cfg.HTTPListen}
	w.conn = &natsConn{shared: sh, bus: cfg.Bus, replicas: cfg.Replicas}
	w.keeper = &lockKeeper{shared: sh}
	w.advisory = &advisoryListener{shared: sh}
	w.consumer = &consumer{shared: sh, rotator: cfg.Rotator, keeper: w.keeper,
		conc: cmp.Or(max(cfg.Concurrency, 0), RequestConcurrencyDefault), shutdownTimeout: cmp.Or(cfg.ShutdownTimeout, ShutdownTimeoutDefault)}
	w.watcher = &watcher{shared: sh, versions: cfg.Versions}
	w.scheduler = &scheduler{shared: sh}
	w.creds = &credentialWatch{shared: sh, creds: cfg.Credentials, every: cmp.Or(cfg.CredentialCheck, CredentialCheckDefault),
		thresholds: jobs.WarnBeforeDefault()}
	if w.inventory, err = newInventory(sh, cfg); err != nil {
		return nil, err
	}
	sh.mux = w.routes()
	return w, nil
}

// services in start order: HTTP first, so that a busy port fails at once
// and probes answer while NATS comes up; the watcher and the scheduler
// last, so that no request is enqueued before a consumer takes them.
func (w *Worker) services() []startstop.Service {
	return []startstop.Service{w.http, w.conn, w.view, w.keeper, w.advisory, w.consumer, w.watcher, w.scheduler, w.creds, w.inventory}
}

// Start starts the services in order. It returns once they run, or with the
// first error after stopping what it started. A Worker starts once.
func (w *Worker) Start(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started || w.stopped {
		return errors.New("worker: already started or stopped")
	}
	w.started = true
	if err := startstop.StartAll(ctx, w.services()...); err != nil {
		w.stopped = true
		return err
	}
	w.log.Info("worker started", "instance", w.instance, "concurrency", w.consumer.conc, "subject_prefix", w.prefix)
	return nil
}

// Stop stops the services in reverse order: the scheduler and the
// watcher, then the consumer, which stops taking requests and lets in-flight ones finish for
// up to ShutdownTimeout (or until ctx ends) before cancelling them (a
// cancelled request is nak'd, never acked), then the rest. Stop is
// idempotent, safe before Start, and returns the errors met on the way.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.started || w.stopped {
		w.stopped = true
		return nil
	}
	w.stopped = true
	err := startstop.StopAll(ctx, w.services()...)
	w.log.Info("worker stopped")
	return err
}

// Registry is the registry /metrics serves, so that services beside the
// worker add their metrics to the same page.
func (w *Worker) Registry() *prometheus.Registry { return w.registry }

// Ready reports whether the worker is connected to NATS and bound to the
// consumer, and not stopping.
func (w *Worker) Ready() bool {
	b := w.bus()
	return b != nil && b.nc.IsConnected() && w.consumer.bound.Load()
}

// Handler serves /metrics, /healthz, /readyz and the status page at /. It
// works before Start (readiness is then false and the page empty), so that
// callers can mount it on a server of their own.
func (w *Worker) Handler() http.Handler { return w.mux }
