package main

import (
	"context"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// TestNATSCommands runs `run` (embedded NATS listening on loopback), then
// drives it with rotate --wait, status and events as an operator would.
func TestNATSCommands(t *testing.T) {
	t.Parallel()
	v := vaulttest.Start(t)
	now := time.Now()
	v.PutBundle(t, "secret", "b2c/nats", testPFX(t, now.Add(-time.Hour), now.AddDate(0, 3, 0), "pw"), "pw")
	conn := freshConn(t)
	path := cliConfig(t, v, "b2c/nats", conn)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := "127.0.0.1:" + strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	l.Close()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("nats: {store_dir: " + t.TempDir() + ", listen: " + listen + "}\n")
	f.Close()

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
		t.Fatalf("the worker stopped at start: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("the worker did not start")
	}
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("stopping the worker: %v", err)
		}
	}()

	code, out, errOut := runCLI(t, map[string]string{"USER": "tester"}, "rotate", "-c", path, "cli-job", "--wait", "30s", "--reason", "cli test")
	if code != exitOK || !strings.Contains(out, "certrotator.rotation.succeeded") {
		t.Fatalf("rotate --wait: exit %d out %q err %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, nil, "status", "-c", path)
	if code != exitOK || !strings.Contains(out, conn) || !strings.Contains(out, "succeeded") {
		t.Errorf("status: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "events", "-c", path, "--since", "1h")
	if code != exitOK || !strings.Contains(out, "certrotator.rotation.succeeded") || !strings.Contains(out, conn) {
		t.Errorf("events: exit %d\n%s", code, out)
	}
	code, _, errOut = runCLI(t, nil, "status", "-c", path, "extra")
	if code != exitUsage || !strings.Contains(errOut, "status takes no arguments") {
		t.Errorf("status with an argument: exit %d err %q", code, errOut)
	}
}
