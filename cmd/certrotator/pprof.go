package main

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// envPprof, when set to a loopback host:port, makes `run` serve Go's
// profiles (net/http/pprof under /debug/pprof/) there, on a listener of
// its own, apart from the http section's. It is off by default: the
// profiles are for measuring the worker (PERFORMANCE.md), and loopback
// only, because a goroutine dump or a CPU profile on demand is not for
// anyone who can reach the metrics port.
const envPprof = "CERTROTATOR_PPROF"

// startPprof serves the profiles when envPprof is set, and returns the
// function that stops it (a no-op when unset).
func startPprof(e *env, logger *slog.Logger) (func(), error) {
	addr, ok := e.lookup(envPprof)
	if !ok || addr == "" {
		return func() {}, nil
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%s=%s: listening: %w", envPprof, addr, err)
	}
	if tcp, ok := l.Addr().(*net.TCPAddr); !ok || !tcp.IP.IsLoopback() {
		l.Close()
		return nil, fmt.Errorf("%s=%s: not a loopback address; use 127.0.0.1:PORT", envPprof, addr)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("profiling listener stopped", "error", err)
		}
	}()
	logger.Info("serving Go profiles", "addr", l.Addr().String(), "env", envPprof)
	return func() { _ = srv.Close(); <-done }, nil
}
