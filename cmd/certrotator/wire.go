package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/jobs"
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

// newSource logs in to Vault as the config says.
func newSource(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*vaultsrc.Client, error) {
	a := cfg.Vault.Auth
	src, err := vaultsrc.New(ctx, vaultsrc.Config{
		Address:   cfg.Vault.Address,
		Namespace: cfg.Vault.Namespace,
		CACert:    cfg.Vault.CACert,
		Auth: vaultsrc.Auth{
			Method:       a.Method,
			Token:        a.Token,
			RoleID:       a.RoleID,
			SecretIDFile: a.SecretIDFile,
			Role:         a.Role,
			JWTFile:      a.JWTFile,
			MountPath:    a.MountPath,
		},
		Logger: logger,
	})
	if err != nil {
		return nil, fmt.Errorf("connecting to vault %s: %w", cfg.Vault.Address, err)
	}
	return src, nil
}

// newConnector builds the Graph client for every tenant of the config.
// transport is nil in production (system roots, SSL_CERT_FILE honoured).
func newConnector(cfg *config.Config, transport http.RoundTripper, logger *slog.Logger) (*connector.Client, error) {
	tenants := make(map[string]connector.Tenant, len(cfg.Tenants))
	for key, t := range cfg.Tenants {
		// The config accepts every credential DESIGN.md names; the Graph
		// client's seam for certificates and workload identity
		// (connector.Tenant.Credential) is not wired yet, so say so plainly
		// instead of failing later with an empty secret.
		if t.ClientSecret == "" && (t.ClientCertificateFile != "" || t.WorkloadIdentity) {
			return nil, fmt.Errorf("tenant %s: client_certificate_file and workload_identity are not supported yet: set client_secret or client_secret_file", key)
		}
		tenants[key] = connector.Tenant{
			TenantID:     t.TenantID,
			ClientID:     t.ClientID,
			ClientSecret: t.ClientSecret,
			Cloud:        t.Cloud,
			AuthorityURL: t.AuthorityURL,
			GraphURL:     t.GraphURL,
		}
	}
	c, err := connector.New(connector.Config{Tenants: tenants, Transport: transport, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("building graph client: %w", err)
	}
	return c, nil
}

// wiring is what differs between the commands that build a stack: the
// HTTP transport of the Graph client (nil in production: system roots,
// SSL_CERT_FILE honoured; the demo's trusts its emulator), the logger, and
// whether the stack will run the worker.
type wiring struct {
	transport http.RoundTripper
	logger    *slog.Logger
	serve     bool
}

// stack is certrotator built from a loaded config: the Vault source, the
// Graph client, the rotator over them and, when served, the worker. It is
// the one place where the parts are wired, for `run`, `dev`, `rotate
// --local`, `plan` and `check-source` alike.
type stack struct {
	source  *vaultsrc.Client
	graph   *connector.Client
	rotator *jobs.Rotator
	worker  *worker.Worker // nil unless wiring.serve
}

// build wires the stack. It logs in to Vault (so a bad token fails here);
// nothing else touches the network until used.
func build(ctx context.Context, cfg *config.Config, w wiring) (*stack, error) {
	src, err := newSource(ctx, cfg, w.logger)
	if err != nil {
		return nil, err
	}
	graph, err := newConnector(cfg, w.transport, w.logger)
	if err != nil {
		return nil, err
	}
	rc := jobs.Config{Source: src, Connector: graph, Concurrency: jobs.ConnectorConcurrencyDefault, Logger: w.logger}
	var warnings *worker.Warnings
	if w.serve {
		// Expiry warnings are remembered in the worker's bucket, so each
		// threshold is announced once across replicas; one-off commands
		// have no bucket and announce every time.
		warnings = &worker.Warnings{}
		rc.Warnings = warnings
	}
	rot, err := jobs.New(rc)
	if err != nil {
		return nil, fmt.Errorf("building rotator: %w", err)
	}
	st := &stack{source: src, graph: graph, rotator: rot}
	if !w.serve {
		return st, nil
	}
	st.worker, err = worker.New(worker.Config{
		Instance:      cfg.Instance,
		SubjectPrefix: cfg.NATS.SubjectPrefix,
		Concurrency:   cfg.Concurrency,
		Jobs:          cfg.Jobs,
		Rotator:       rot,
		Warnings:      warnings,
		NATS:          cfg.NATS,
		HTTPListen:    cfg.HTTP.Listen,
		Logger:        w.logger,
	})
	if err != nil {
		return nil, fmt.Errorf("building worker: %w", err)
	}
	return st, nil
}

// selectJobs returns the named job, or every job when name is empty.
func selectJobs(cfg *config.Config, name string) ([]jobs.Job, error) {
	if name == "" {
		return cfg.Jobs, nil
	}
	j, ok := cfg.Job(name)
	if !ok {
		return nil, fmt.Errorf("no job %q in %s", name, cfg.Path)
	}
	return []jobs.Job{j}, nil
}
