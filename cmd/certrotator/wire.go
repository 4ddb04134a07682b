package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/certrotator/certrotator/budget"
	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/notify"
	"github.com/certrotator/certrotator/probe"
	"github.com/certrotator/certrotator/vaultsrc"
	"github.com/certrotator/certrotator/worker"
)

// newLogger builds the process logger from the `log` section.
func newLogger(c config.Log, w io.Writer) *slog.Logger {
	level := slog.LevelInfo
	switch strings.ToLower(c.Level) {
	case "debug":
		level = slog.LevelDebug
	case "warn":
		level = slog.LevelWarn
	case "error":
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if strings.EqualFold(c.Format, "text") {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// sourceConfig is the Vault client's config from the file's vault section.
func sourceConfig(cfg *config.Config, logger *slog.Logger) vaultsrc.Config {
	a := cfg.Vault.Auth
	return vaultsrc.Config{
		Address:   cfg.Vault.Address,
		Namespace: cfg.Vault.Namespace,
		CACert:    cfg.Vault.CACert,
		Auth: vaultsrc.Auth{
			Method:       a.Method,
			Token:        a.Token,
			TokenFile:    a.TokenFile,
			RoleID:       a.RoleID,
			SecretIDFile: a.SecretIDFile,
			Role:         a.Role,
			JWTFile:      a.JWTFile,
			MountPath:    a.MountPath,
		},
		Logger: logger,
	}
}

// newConnector builds the Graph client for every tenant of the config. It
// trusts the system roots plus each tenant's ca_file.
func newConnector(cfg *config.Config, logger *slog.Logger, observe func(status int), b connector.Budget) (*connector.Client, error) {
	tenants := make(map[string]connector.Tenant, len(cfg.Tenants))
	for key, t := range cfg.Tenants {
		tenants[key] = connector.Tenant{
			TenantID:                  t.TenantID,
			ClientID:                  t.ClientID,
			Cloud:                     t.Cloud,
			AuthorityURL:              t.AuthorityURL,
			GraphURL:                  t.GraphURL,
			ClientSecret:              t.ClientSecret,
			ClientCertificateFile:     t.ClientCertificateFile,
			ClientCertificatePassword: t.ClientCertificatePassword,
			SendCertificateChain:      t.SendCertificateChain,
			WorkloadIdentity:          t.WorkloadIdentity,
			FederatedTokenFile:        t.FederatedTokenFile,
			ManagedIdentity:           t.ManagedIdentity,
			ManagedIdentityClientID:   t.ManagedIdentityClientID,
			CAFile:                    t.CAFile,
			RateLimit:                 connector.RateLimit{AppPerMinute: t.RateLimit.AppPerMinute, TenantPerMinute: t.RateLimit.TenantPerMinute},
		}
	}
	c, err := connector.New(connector.Config{Tenants: tenants, Logger: logger, ObserveFunc: observe, Budget: b})
	if err != nil {
		return nil, fmt.Errorf("building graph client: %w", err)
	}
	return c, nil
}

// wiring is what differs between the commands that build a stack: the
// logger, and whether the stack will run the worker.
type wiring struct {
	logger *slog.Logger
	serve  bool
	// bus is the NATS connection, opened first when the stack is served;
	// nil for the one-off commands, which pace Graph alone and announce
	// every expiry warning.
	bus *bus.Bus
}

// stack is certrotator built from a loaded config: the Vault source, the
// Graph client, the rotator over them and, when served, the worker. It is
// the one place where the parts are wired, for `run`, `dev`, `rotate
// --local`, `plan` and `check-source` alike.
type stack struct {
	source  *vaultsrc.Client
	graph   *connector.Client
	rotator *jobs.Rotator
	worker  *worker.Worker  // nil unless wiring.serve
	notify  *notify.Service // beside the worker; nil unless wiring.serve
}

// offline is what can be built from a config without touching the
// network: the Graph client, the Vault client's checked config, and a
// worker. `validate` stops here and `build` starts here, so that both
// refuse the same configs with the same words.
type offline struct {
	vault vaultsrc.Config
	graph *connector.Client
}

func assemble(cfg *config.Config, logger *slog.Logger) (*offline, error) {
	return assembleWith(cfg, logger, nil, nil)
}

// assembleWith is assemble counting every Graph and Vault exchange on
// requests (nil: counts nothing) and pacing Graph through the budget the
// replicas share on b (nil: alone, in-process).
func assembleWith(cfg *config.Config, logger *slog.Logger, requests *worker.RequestCounter, b *bus.Bus) (*offline, error) {
	vc := sourceConfig(cfg, logger)
	vc.ObserveFunc = requests.Vault
	if err := vc.Validate(); err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	var pace connector.Budget = connector.NewPacer(connector.PacerConfig{Margin: budget.MarginDefault})
	if b != nil {
		// Graph's limits are shared with every replica through NATS.
		pace = &budget.Shared{Buckets: b.JetStream()}
	}
	graph, err := newConnector(cfg, logger, requests.Graph, pace)
	if err != nil {
		return nil, err
	}
	// The worker checks what it is given; a rotator-less dry build is
	// enough for that.
	if _, err := newWorker(cfg, nopRotator{}, logger); err != nil {
		return nil, err
	}
	return &offline{vault: vc, graph: graph}, nil
}

// build wires the stack: everything assemble checks, then the Vault login
// (so a bad token fails here); nothing else touches the network until used.
func build(ctx context.Context, cfg *config.Config, w wiring) (*stack, error) {
	var requests *worker.RequestCounter
	if w.serve {
		if w.bus == nil {
			return nil, errors.New("building the worker: no NATS connection (open the bus first)")
		}
		requests = worker.NewRequestCounter()
	}
	off, err := assembleWith(cfg, w.logger, requests, w.bus)
	if err != nil {
		return nil, err
	}
	src, err := vaultsrc.New(ctx, off.vault)
	if err != nil {
		return nil, fmt.Errorf("connecting to vault %s: %w", cfg.Vault.Address, err)
	}
	rc := jobs.Config{
		Source: src, Connector: off.graph, Concurrency: jobs.ConnectorConcurrencyDefault, InFlight: connectorsInFlight(cfg.Concurrency), Logger: w.logger,
		// Jobs sourced from Vault PKI issue through the same client.
		Issuer: src, Writer: src, Versions: src,
		// Jobs with a probe call the API behind each connector before an
		// upload (probe/).
		Prober: &probe.Prober{},
		// Jobs with keysets upload to B2C policy key containers through
		// the same client, budget and leases (Graph beta).
		KeySets: off.graph,
	}
	if w.serve && hasKeySets(cfg) {
		off.graph.AnnounceKeySets()
	}
	if w.serve {
		// Expiry warnings are remembered in the worker's bucket, so each
		// threshold is announced once across replicas; one-off commands
		// have no bucket and announce every time.
		rc.Warnings = worker.NewWarnings(w.bus.JetStream())
	}
	rot, err := jobs.New(rc)
	if err != nil {
		return nil, fmt.Errorf("building rotator: %w", err)
	}
	st := &stack{source: src, graph: off.graph, rotator: rot}
	if w.serve {
		if st.worker, err = newWorker(cfg, rot, w.logger, func(wc *worker.Config) {
			// The connection opened first; the worker provisions on it.
			wc.Bus = w.bus
			// Ready only while Vault takes the token, not just while NATS is up.
			wc.Checks = map[string]func(context.Context) error{"vault": src.CheckToken}
			// The Graph and Vault clients count their requests on its page.
			wc.Requests = requests
			// Jobs that set watch are polled through the Vault client.
			wc.Versions = src
			// Its own credentials' expiry is exported and warned about.
			wc.Credentials = ownCredentials(cfg, src)
			// Tenants with inventory: true are scanned with the list calls.
			wc.Inventory = off.graph
		}); err != nil {
			return nil, err
		}
		if st.notify, err = newNotify(cfg, w.bus, st.worker, w.logger); err != nil {
			return nil, err
		}
	}
	return st, nil
}

// newWorker builds the worker the config describes around rot; more adds
// what only a served worker has (readiness checks, the shared budget, the
// watched versions).
func newWorker(cfg *config.Config, rot worker.Rotator, logger *slog.Logger, more ...func(*worker.Config)) (*worker.Worker, error) {
	wc := workerconfig.From(cfg)
	wc.Rotator, wc.Logger = rot, logger
	for _, f := range more {
		f(&wc)
	}
	w, err := worker.New(wc)
	if err != nil {
		return nil, fmt.Errorf("building worker: %w", err)
	}
	return w, nil
}

// newNotify builds the notification service that runs beside wk, on the
// bus and wk's metrics registry.
func newNotify(cfg *config.Config, b *bus.Bus, wk *worker.Worker, logger *slog.Logger) (*notify.Service, error) {
	n, err := notify.New(notify.Config{
		Sinks: cfg.Notify, SubjectPrefix: cfg.NATS.SubjectPrefix, Replicas: cfg.NATS.Replicas,
		Conn: b.Conn(), Logger: logger, Registerer: wk.Registry(),
	})
	if err != nil {
		return nil, fmt.Errorf("building notifications: %w", err)
	}
	return n, nil
}

// nopRotator stands in for the rotator when only the worker's checks of
// the config matter.
type nopRotator struct{}

func (nopRotator) Rotate(context.Context, jobs.Job, jobs.Request) []jobs.Outcome { return nil }

// selectJobs returns the named job, or every job when name is empty.
func selectJobs(cfg *config.Config, name string) ([]jobs.Job, error) {
	if name == "" {
		return cfg.Jobs, nil
	}
	j, ok := cfg.Job(name)
	if !ok {
		return nil, unknownJob(cfg, name)
	}
	return []jobs.Job{j}, nil
}

// hasKeySets reports whether any job binds a B2C policy key container.
func hasKeySets(cfg *config.Config) bool {
	for _, j := range cfg.Jobs {
		if len(j.KeySets) > 0 {
			return true
		}
	}
	return false
}

// connectorsInFlight bounds the connectors a worker handles at once across
// its concurrent requests: twelve per request slot up to 768 (reached at 64
// requests; the default of 256 requests shares them), and never fewer than
// one run's own ConnectorConcurrencyDefault. Requests are cheap to hold
// (a small job waiting for its list or its upload); connectors in flight
// are what costs memory: two goroutines each (the call's and HTTP/2's
// writer) and the call's buffers. Without the bound, 64 requests of big
// jobs held 64×64 connectors' Graph calls at once, most of the worker's
// peak memory at 10,000 connectors over 200 tenants. 768 is where that
// fleet reaches 0.8 of its ideal time with the worker under 100 MB, once
// an upload body is built once per bundle (PERFORMANCE.md, "Issue 20:
// 10,000/200 at 0.8"); at Graph's real limits (200 calls a minute per app
// per tenant) no fleet keeps that many busy.
func connectorsInFlight(requests int) int {
	return max(12*min(requests, 64), jobs.ConnectorConcurrencyDefault)
}
