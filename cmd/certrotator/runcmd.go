package main

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"github.com/certrotator/certrotator/config"
)

func cmdRun(e *env, fs *flag.FlagSet, args []string) int {
	cfg, _, code := parseConfig(e, fs, args, configFlag(e, fs))
	if cfg == nil {
		return code
	}
	logger := newLogger(cfg.Log, e.stderr)
	tuneGC(e)
	stopPprof, err := startPprof(e, logger)
	if err != nil {
		logger.Error("worker not started", "error", err)
		return exitUsage
	}
	defer stopPprof()
	if err := serve(e.ctx, cfg, wiring{logger: logger, serve: true}, nil); err != nil {
		logger.Error("worker stopped", "error", err)
		return exitFailed
	}
	return exitOK
}

// serve runs the worker until ctx ends, then stops it gracefully. ready,
// when set, is called once the worker is running.
func serve(ctx context.Context, cfg *config.Config, w wiring, ready func()) error {
	// The NATS connection first: everything that talks to NATS is handed
	// it. It closes last, after what used it (Close is idempotent: this
	// one only acts when serve returns early).
	var err error
	if w.bus, err = openBus(ctx, cfg, w.logger); err != nil {
		return err
	}
	defer func() { _ = w.bus.Close(context.WithoutCancel(ctx)) }()
	st, err := build(ctx, cfg, w)
	if err != nil {
		return err
	}
	if err := st.source.Start(ctx); err != nil {
		return fmt.Errorf("starting vault token renewal: %w", err)
	}
	defer st.source.Stop(context.WithoutCancel(ctx))
	if err := st.worker.Start(ctx); err != nil {
		return fmt.Errorf("starting worker: %w", err)
	}
	// Notifications run beside the worker on its connection: a sink that
	// fails never slows a rotation.
	if err := st.notify.Start(ctx); err != nil {
		_ = st.worker.Stop(context.WithoutCancel(ctx))
		return fmt.Errorf("starting notifications: %w", err)
	}
	w.logger.Info("worker running", "instance", cfg.Instance, "http", cfg.HTTP.Listen)
	if ready != nil {
		ready()
	}
	<-ctx.Done()
	w.logger.Info("stopping")
	// The worker's own shutdown timeout bounds in-flight work; the whole
	// stop, draining and the embedded server included, stays in StopBudget,
	// under the pod's and the unit's grace period.
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), config.StopBudget)
	defer cancel()
	return errors.Join(st.notify.Stop(stopCtx), st.worker.Stop(stopCtx), w.bus.Close(stopCtx))
}
