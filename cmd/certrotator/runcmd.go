package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/worker"
)

func cmdRun(e *env, args []string) int {
	fs := newFlags(e, "run", "-c FILE")
	path := fs.String("c", "", "config file")
	pos, err := parse(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) > 0 {
		return usageError(e, "run takes no arguments")
	}
	cfg, ok := loadConfig(e, *path)
	if !ok {
		return exitUsage
	}
	logger := newLogger(cfg.Log, e.stderr)
	if err := serveNotify(e.ctx, cfg, nil, logger, nil); err != nil {
		logger.Error("worker stopped", "err", err)
		return exitFailed
	}
	return exitOK
}

// serveNotify runs the worker until ctx ends, then stops it gracefully.
// transport is nil in production; ready, when set, is called once the worker
// is running.
func serveNotify(ctx context.Context, cfg *config.Config, transport http.RoundTripper, logger *slog.Logger, ready func()) error {
	src, err := newSource(ctx, cfg, logger)
	if err != nil {
		return err
	}
	conn, err := newConnector(cfg, transport, logger)
	if err != nil {
		return err
	}
	w, err := worker.New(worker.Config{App: cfg, Source: src, Connector: conn, Logger: logger})
	if err != nil {
		return fmt.Errorf("building worker: %w", err)
	}
	if err := src.Start(ctx); err != nil {
		return fmt.Errorf("starting vault token renewal: %w", err)
	}
	defer src.Stop(context.WithoutCancel(ctx))
	if err := w.Start(ctx); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	logger.Info("worker running", "instance", cfg.Instance, "http", cfg.HTTP.Listen)
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	logger.Info("stopping")
	// The worker's own shutdown timeout bounds in-flight work; the margin
	// covers draining and the embedded server's shutdown.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), config.ShutdownTimeoutDefault+5*time.Second)
	defer cancel()
	return w.Stop(stopCtx)
}
