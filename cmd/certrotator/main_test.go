package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

const (
	testTenantID = "00000000-0000-4000-8000-0000000000c2"
	testClientID = "11111111-1111-4111-8111-1111111111c2"
	testSecret   = "cli-test-client-secret"
	testConnA    = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000a1"
	testConnB    = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000a2"
)

// graph is the Graph emulator every CLI test shares. The CLI builds its Graph
// client as production does (system roots), so TestMain points SSL_CERT_FILE
// at the emulator's CA before anything loads the system pool.
var graph *graphsim.Server

func TestMain(m *testing.M) {
	graph = graphsim.New().AddTenant(testTenantID, testClientID, testSecret)
	for i := 0; i < connPool; i++ {
		graph.AddConnector(testTenantID, connID(i), fmt.Sprintf("cli connector %d", i))
	}
	graph.Start()
	dir, err := os.MkdirTemp("", "certrotator-cli")
	if err != nil {
		panic(err)
	}
	ca := filepath.Join(dir, "graphsim-ca.pem")
	if err := os.WriteFile(ca, graph.CACertPEM(), 0o600); err != nil {
		panic(err)
	}
	os.Setenv("SSL_CERT_FILE", ca)
	code := m.Run()
	graph.Close()
	os.RemoveAll(dir)
	if code == 0 {
		if err := goleak.Find(goleak.IgnoreCurrent()); err != nil {
			fmt.Fprintln(os.Stderr, err)
			code = 1
		}
	}
	os.Exit(code)
}

// connPool is how many connectors the emulator holds for the CLI tests.
const connPool = 64

// nextConn counts the connectors handed out.
var nextConn atomic.Int64

// freshConn returns a connector no test has used yet in this process, so
// that parallel tests, and repeated runs with -count, never see each
// other's uploads.
func freshConn(t *testing.T) string {
	t.Helper()
	n := nextConn.Add(1)
	if n > connPool {
		t.Fatalf("the emulator's %d connectors are used up: raise connPool", connPool)
	}
	return connID(int(n - 1))
}

func connID(i int) string { return fmt.Sprintf("7b3a0c1e-aaaa-4bbb-8ccc-%012d", i+1) }

// runCLI runs the command line in-process and returns its exit code and output.
func runCLI(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	code := run(context.Background(), args, &out, &errOut, lookup)
	return code, out.String(), errOut.String()
}

// runJSONLines runs the CLI with args and decodes what it prints as JSON
// lines of T (doctor --json, scan --json).
func runJSONLines[T any](t *testing.T, args ...string) (int, []T, string) {
	t.Helper()
	code, out, errOut := runCLI(t, nil, args...)
	var lines []T
	dec := json.NewDecoder(strings.NewReader(out))
	for dec.More() {
		var l T
		if err := dec.Decode(&l); err != nil {
			t.Fatalf("%s output is not JSON lines: %v\n%s", strings.Join(args, " "), err, out)
		}
		lines = append(lines, l)
	}
	return code, lines, errOut
}

// startServing runs `certrotator run` in-process on the config at path
// until it has started; stop ends it and fails the test when it did not
// stop cleanly. The test's cleanup stops it too.
func startServing(t *testing.T, path string) (stop func()) {
	t.Helper()
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("loading %s: %v", path, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready, served := make(chan struct{}), make(chan error, 1)
	go func() {
		served <- serve(ctx, cfg, wiring{logger: newLogger(cfg.Log, io.Discard), serve: true}, func() { close(ready) })
	}()
	select {
	case <-ready:
	case err := <-served:
		cancel()
		t.Fatalf("the worker stopped at start: %v", err)
	case <-time.After(testkit.WaitTimeout):
		cancel()
		t.Fatal("the worker did not start")
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-served; err != nil {
				t.Errorf("stopping the worker: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}
