package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// TestDevDemoIssuesFromPKI prepares the demo as `certrotator dev` does, on
// a Vault dev server and a Graph emulator of the test's own, and checks
// that its config loads, that its PKI job issues from the demo's CA and
// uploads, and that the guide names history and rollback.
func TestDevDemoIssuesFromPKI(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	d := prepareDemo(t, false)
	sim, cfgPath := d.sim, d.cfgPath
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatalf("loading the demo's config: %v", err)
	}
	api, _ := cfg.Job(devJob)
	pki, ok := cfg.Job(devPKIJob)
	if !ok || pki.Source.PKI == nil || pki.Source.PKI.TTL != 3*time.Minute || api.Watch != 10*time.Second {
		t.Fatalf("demo jobs: %s watch %s; %s pki %+v", api.Name, api.Watch, devPKIJob, pki.Source.PKI)
	}

	code, out, errOut := runCLI(t, nil, "rotate", "-c", cfgPath, devPKIJob, "--local")
	if code != exitOK || !strings.Contains(out, "certrotator.rotation.succeeded") || !strings.Contains(out, "CN="+devPKICommonName) ||
		!strings.Contains(out, `"source_version":1`) {
		t.Fatalf("rotate --local %s: exit %d out %q err %q", devPKIJob, code, out, errOut)
	}
	if ups := sim.Uploads(devTenantID, devConnector3); len(ups) != 1 {
		t.Errorf("the PKI job's connector got %d uploads, want 1", len(ups))
	}
	// The custom-policy job uploads the demo bundle to its key container.
	code, out, errOut = runCLI(t, nil, "rotate", "-c", cfgPath, devKeySetJob, "--local")
	if code != exitOK || !strings.Contains(out, "certrotator.rotation.succeeded") || !strings.Contains(out, `"target_kind":"keyset"`) {
		t.Fatalf("rotate --local %s: exit %d out %q err %q", devKeySetJob, code, out, errOut)
	}
	if ups := sim.KeyUploads(devTenantID, devKeySet); len(ups) != 1 {
		t.Errorf("the custom-policy job's key set got %d uploads, want 1", len(ups))
	}

	// Served, the demo job's watch (wired to the Vault client) finds the
	// seeded version 1 without an outcome and requests it.
	served, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- serve(served, cfg, wiring{logger: newLogger(cfg.Log, io.Discard), serve: true}, func() {})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("serving the demo: %v", err)
		}
	}()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	var c *client.Conn
	defer func() {
		if c != nil {
			c.Close()
		}
	}()
	for watched := false; !watched; {
		if c == nil { // the embedded server may still be starting
			c, _ = dialConfig(&env{ctx: ctx}, cfg)
		}
		if c != nil {
			h, _ := c.History(ctx, devJob)
			for _, ev := range h {
				watched = watched || (strings.HasPrefix(ev.Data.RequestID, "vault-"+devJob+"-1-") && ev.Data.Trigger == "watch")
			}
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			t.Fatal("the watch did not request the seeded version")
		}
	}

	var guide bytes.Buffer
	printGuide(&env{stdout: &guide}, "/tmp/demo", cfgPath, d.flags, d.vault, "vault")
	for _, want := range []string{"history -c", "rollback -c", "--to-version 1", devPKIJob, "every 10s"} {
		if !strings.Contains(guide.String(), want) {
			t.Errorf("the guide does not say %q:\n%s", want, guide.String())
		}
	}
}

// testDemo is the demo as `certrotator dev` prepares it, on a Vault dev
// server and the demo's Graph emulator of the test's own.
type testDemo struct {
	dir     string // where the demo's files are
	vault   *devVault
	sim     *graphsim.Server
	flags   devFlags
	cfgPath string
}

// prepareDemo writes the demo's files into a directory of the test's as
// `certrotator dev` does, with the demo's pinning API when withAPI is set
// (its pins file is api-pins.txt there). The emulator and the API stop
// when the test ends.
func prepareDemo(t *testing.T, withAPI bool) testDemo {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	srv := vaulttest.Start(t)
	d := testDemo{vault: &devVault{addr: srv.Addr, token: srv.Token}, dir: t.TempDir()}
	const secret = "demo-test-secret"
	var err error
	if d.sim, err = startDevGraph(secret); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(d.sim.Close)
	var api *devAPI
	if withAPI {
		if api, err = startDevAPI(filepath.Join(d.dir, "api-pins.txt")); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(api.stop)
		d.sim.SetTargetURL(devTenantID, devConnector4, api.url)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d.flags = devFlags{natsListen: l.Addr().String(), httpListen: "off", api: api}
	l.Close()
	if d.cfgPath, err = writeDevFiles(ctx, d.dir, d.flags, d.vault, d.sim, secret, "vault"); err != nil {
		t.Fatalf("preparing the demo: %v", err)
	}
	return d
}
