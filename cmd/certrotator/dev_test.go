package main

import (
	"bytes"
	"context"
	"io"
	"net"
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
	srv := vaulttest.Start(t)
	v := &devVault{addr: srv.Addr, token: srv.Token}
	const secret = "demo-test-secret"
	sim := graphsim.New().
		AddTenant(devTenantID, devClientID, secret).
		AddConnector(devTenantID, devConnector1, "one").
		AddConnector(devTenantID, devConnector2, "two").
		AddConnector(devTenantID, devConnector3, "three").
		AddKeySet(devTenantID, devKeySet)
	if err := sim.StartOn("127.0.0.1:0"); err != nil {
		t.Fatalf("starting graph emulator: %v", err)
	}
	defer sim.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := devFlags{natsListen: l.Addr().String(), httpListen: "off"}
	l.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cfgPath, err := writeDevFiles(ctx, t.TempDir(), f, v, sim, secret, "vault")
	if err != nil {
		t.Fatalf("preparing the demo: %v", err)
	}
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
	printGuide(&env{stdout: &guide}, "/tmp/demo", cfgPath, f, v, "vault")
	for _, want := range []string{"history -c", "rollback -c", "--to-version 1", devPKIJob, "every 10s"} {
		if !strings.Contains(guide.String(), want) {
			t.Errorf("the guide does not say %q:\n%s", want, guide.String())
		}
	}
}
