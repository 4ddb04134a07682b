package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
)

func TestPprofOffByDefaultLoopbackOnly(t *testing.T) {
	logger := slog.New(slog.DiscardHandler)
	e := &env{ctx: context.Background(), stdout: io.Discard, stderr: io.Discard, lookup: mapLookup(nil)}
	stop, err := startPprof(e, logger)
	if err != nil {
		t.Fatalf("unset: %v", err)
	}
	stop()

	e.lookup = mapLookup(map[string]string{envPprof: "0.0.0.0:0"})
	if _, err := startPprof(e, logger); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("a non-loopback address: err = %v, want a refusal naming loopback", err)
	}

	var logs bytes.Buffer
	e.lookup = mapLookup(map[string]string{envPprof: "127.0.0.1:0"})
	stop, err = startPprof(e, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	_, rest, _ := strings.Cut(logs.String(), "addr=")
	addr, _, _ := strings.Cut(rest, " ")
	resp, err := http.Get("http://" + addr + "/debug/pprof/heap")
	if err != nil {
		t.Fatalf("GET heap profile: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("heap profile: status %d", resp.StatusCode)
	}
}
