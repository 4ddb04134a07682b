// Package worker is the NATS side of certrotator. A Worker is a few small
// services, each owning one loop, started in dependency order and stopped
// in reverse (package internal/startstop gives them one lifecycle):
//
//   - httpServer: /metrics, /healthz, /readyz, and the status page
//     (package statuspage, over pageSource) at /;
//   - natsConn: provisions the streams, consumer and buckets on the NATS
//     connection cmd opened (package bus) and publishes their handles;
//   - statusview.View: the watched copy of the status bucket, its prune
//     and its gauges;
//   - lease.Keeper: keeps every request in flight alive (InProgress) and
//     renews the job leases they hold (lease.Locker takes them);
//   - advisoryListener: answers the requests JetStream gave up on;
//   - consumer: fetches requests, decodes them, takes the job's lease, runs
//     the Rotator, publishes the outcomes and settles the message;
//   - vaultwatch.Watcher: polls the Vault KV metadata of jobs that set
//     watch and turns a new version into a request message;
//   - schedule.Scheduler: turns cron schedules into request messages;
//   - credwatch.Watch: the expiry of the worker's own credentials.
//
// Each service embeds baseservice.BaseService (logger, clocks) and takes
// everything else it uses through its own constructor.
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

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	natsbus "github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker/credwatch"
	"github.com/certrotator/certrotator/worker/inventory"
	"github.com/certrotator/certrotator/worker/lease"
	"github.com/certrotator/certrotator/worker/schedule"
	"github.com/certrotator/certrotator/worker/statusview"
	"github.com/certrotator/certrotator/worker/vaultwatch"
	"github.com/certrotator/certrotator/worker/warnings"
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
	RequestConcurrencyDefault = 256
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
	// (package inventory); either empty disables the scans. Defaults to none.
	InventoryTenants []InventoryTenant
	Inventory        jobs.InventoryLister
}

// Worker consumes rotation requests and schedules cron ones. Its methods are
// safe for concurrent use. Start it once; Stop it once or more.
type Worker struct {
	arch     *baseservice.Archetype // logger and clocks of every service
	log      *slog.Logger
	instance string
	prefix   string
	jobList  []jobs.Job
	requests *RequestCounter // the Graph and Vault clients' requests
	metrics  *metrics
	registry *prometheus.Registry
	mux      *http.ServeMux
	checks   map[string]func(context.Context) error

	http      *httpServer
	conn      *natsConn
	view      *statusview.View
	locker    *lease.Locker
	keeper    *lease.Keeper
	advisory  *advisoryListener
	consumer  *consumer
	watcher   *vaultwatch.Watcher
	scheduler *schedule.Scheduler
	creds     *credwatch.Watch
	inventory *inventory.Scanner

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
	a := baseservice.NewArchetype(nil, cfg.NowFunc)
	a.Logger = cmp.Or(cfg.Logger, a.Logger).With("component", "worker")
	w := &Worker{arch: a, log: a.Logger, instance: cmp.Or(cfg.Instance, InstanceDefault),
		prefix: cmp.Or(cfg.SubjectPrefix, contract.SubjectPrefixDefault), jobList: cfg.Jobs, checks: cfg.Checks}
	m, err := w.newMetrics(cfg)
	if err != nil {
		return nil, err
	}
	w.metrics = m
	var js jetstream.JetStream
	if cfg.Bus != nil {
		js = cfg.Bus.JetStream()
	}
	w.conn = newNATSConn(a, cfg.Bus, w.prefix, cfg.Jobs, cfg.Replicas)
	h := w.conn.handles
	status := func() jetstream.KeyValue { return pick(h(), func(b *bus) jetstream.KeyValue { return b.status }) }
	w.view = statusview.New(a, status, cfg.Jobs)
	if err := w.registry.Register(statusview.NewCollector(w.view, cfg.Jobs, func() time.Time { return a.Now() })); err != nil {
		return nil, fmt.Errorf("registering status metrics: %w", err)
	}
	locks := func() jetstream.KeyValue { return pick(h(), func(b *bus) jetstream.KeyValue { return b.locks }) }
	seen := func() jobs.Warnings { return pick(h(), func(b *bus) jobs.Warnings { return warnings.On(b.warnings) }) }
	w.locker = lease.NewLocker(a, w.instance, locks)
	w.keeper = lease.NewKeeper(a)
	r := &results{catalog: newCatalog(w.prefix, cfg.Jobs), instance: w.instance, bus: h, metrics: m, opTimeout: opTimeoutDefault}
	r.Init(a)
	w.advisory = newAdvisoryListener(a, r)
	w.consumer = newConsumer(a, r, consumerOptions{rotator: cfg.Rotator, locker: w.locker, keeper: w.keeper,
		conc: cmp.Or(max(cfg.Concurrency, 0), RequestConcurrencyDefault), shutdownTimeout: cmp.Or(cfg.ShutdownTimeout, ShutdownTimeoutDefault)})
	w.watcher = vaultwatch.New(a, vaultwatch.Options{Prefix: w.prefix, Jobs: cfg.Jobs, Versions: cfg.Versions, JetStream: js, Status: status})
	w.scheduler = schedule.New(a, schedule.Options{Prefix: w.prefix, Jobs: cfg.Jobs, JetStream: js, Status: status})
	w.creds = credwatch.New(a, credwatch.Options{Instance: w.instance, Prefix: w.prefix, Credentials: cfg.Credentials,
		Every: cfg.CredentialCheck, Thresholds: jobs.WarnBeforeDefault(), Gauge: m.credentialExpiry, JetStream: js, Seen: seen})
	w.inventory, err = inventory.New(a, inventory.Options{Instance: w.instance, Prefix: w.prefix, Jobs: cfg.Jobs,
		Lister: cfg.Inventory, Tenants: cfg.InventoryTenants, JetStream: js, Locks: locks,
		Outcomes: func() jetstream.KeyValue { return pick(h(), func(b *bus) jetstream.KeyValue { return b.outcomes }) }, Seen: seen})
	if err != nil {
		return nil, err
	}
	if err := w.registry.Register(inventory.NewCollector(w.inventory)); err != nil {
		return nil, fmt.Errorf("registering inventory metrics: %w", err)
	}
	w.mux = w.routes()
	w.http = newHTTPServer(a, cfg.HTTPListen, w.mux)
	return w, nil
}

// opTimeoutDefault bounds one NATS round trip (publish, KV, ack).
const opTimeoutDefault = 10 * time.Second

// pick reads one handle of b, or the zero value before the connection
// service provisioned them.
func pick[T any](b *bus, f func(*bus) T) T {
	if b == nil {
		var zero T
		return zero
	}
	return f(b)
}

// bus returns the provisioned handles, or nil before Start.
func (w *Worker) bus() *bus { return w.conn.handles() }

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

// Credential is one of the worker's own credentials whose expiry can be
// known (package credwatch).
type Credential = credwatch.Credential

// CredentialState is what the last check of one credential found.
type CredentialState = credwatch.State

// Kinds of the worker's own credentials.
const (
	CredentialClientSecret      = credwatch.ClientSecret
	CredentialClientCertificate = credwatch.ClientCertificate
	CredentialVaultSecretID     = credwatch.VaultSecretID
	// CredentialCheckDefault is how often the worker reads its
	// credentials' expiry when Config.CredentialCheck is zero.
	CredentialCheckDefault = credwatch.CheckDefault
)

// Credentials returns what the last check of each of the worker's own
// credentials found, in config order; none before the first check.
func (w *Worker) Credentials() []CredentialState { return w.creds.States() }

// VersionLister reads a KV path's metadata (package vaultwatch);
// *vaultsrc.Client implements it.
type VersionLister = vaultwatch.VersionLister

// Warnings remembers which warnings were published (package warnings).
type Warnings = warnings.Store

// NewWarnings returns the warnings kept in the bucket that buckets opens
// (a bus's JetStream).
func NewWarnings(buckets jetstream.KeyValueManager) *Warnings { return warnings.New(buckets) }

// StatusPruneAfter is how long a status entry absent from the config
// stays, counted from its last update (package statusview).
const StatusPruneAfter = statusview.PruneAfter

// InventoryTenant is a tenant the worker scans (package inventory).
type InventoryTenant = inventory.Tenant

// InventoryScan is the latest scan of a tenant as every replica sees it.
type InventoryScan = inventory.Scan

// InventoryEveryDefault is how often a tenant with inventory is scanned
// when its InventoryTenant.Every is zero.
const InventoryEveryDefault = inventory.EveryDefault

// Inventory returns the latest scan of each tenant with inventory that
// this replica has seen, by tenant; none before the first.
func (w *Worker) Inventory() []InventoryScan { return w.inventory.Scans() }
