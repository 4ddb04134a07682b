package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/google/uuid"
	vault "github.com/hashicorp/vault/api"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector/graphsim"
)

// The demo's fixed identities: a tenant, an app registration and two API
// connectors in the Graph emulator, and one job binding them.
const (
	devTenantID   = "00000000-0000-4000-8000-00000000c0de"
	devClientID   = "11111111-1111-4111-8111-111111111111"
	devJob        = "demo-api"
	devSecretKV   = "b2c/demo-api"
	devConnector1 = "7b3a0c1e-0000-4000-8000-000000000001"
	devConnector2 = "7b3a0c1e-0000-4000-8000-000000000002"
)

type devFlags struct {
	dir        string
	natsListen string
	httpListen string
	vaultBin   string
}

func cmdDev(e *env, args []string) int {
	fs := newFlags(e, "dev", "[--dir .dev] [--nats-listen 127.0.0.1:4222] [--http 127.0.0.1:9090]")
	var f devFlags
	fs.StringVar(&f.dir, "dir", ".dev", "folder for the demo's config, secrets and NATS store")
	fs.StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "where the embedded NATS server listens")
	fs.StringVar(&f.httpListen, "http", "127.0.0.1:9090", "status page and metrics")
	fs.StringVar(&f.vaultBin, "vault", "", "vault binary (default: vault on PATH, else bin/vault)")
	pos, err := parse(fs, args)
	if err != nil {
		return flagError(err)
	}
	if len(pos) > 0 {
		return usageError(e, "dev takes no arguments")
	}
	if err := runDev(e, f); err != nil {
		fmt.Fprintf(e.stderr, "certrotator dev: %v\n", err)
		return exitFailed
	}
	return exitOK
}

func runDev(e *env, f devFlags) error {
	dir, err := filepath.Abs(f.dir)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", f.dir, err)
	}
	// The demo is throwaway: Vault and the emulator start empty, so the NATS
	// store of an earlier run (its status and pending requests) goes too.
	if err := os.RemoveAll(filepath.Join(dir, "nats")); err != nil {
		return fmt.Errorf("clearing the previous demo's NATS store: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("creating %s: %w", dir, err)
	}
	bin, err := findVault(f.vaultBin)
	if err != nil {
		return err
	}
	v, err := startDevVault(e.ctx, bin)
	if err != nil {
		return err
	}
	defer v.stop()
	// The emulator's client secret is its own random value: deriving it from
	// the Vault token would put part of one secret into another's file.
	secret := "demo-" + uuid.NewString()
	sim := graphsim.New().
		AddTenant(devTenantID, devClientID, secret).
		AddConnector(devTenantID, devConnector1, "demo signup validation").
		AddConnector(devTenantID, devConnector2, "demo token enrichment")
	if err := sim.StartOn("127.0.0.1:0"); err != nil {
		return fmt.Errorf("starting graph emulator: %w", err)
	}
	defer sim.Close()
	cfgPath, err := writeDevFiles(e.ctx, dir, f, v, sim, secret, bin)
	if err != nil {
		return err
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("loading the generated config: %w", err)
	}
	logger := newLogger(config.Log{Level: "info", Format: "text"}, e.stderr)
	ready := func() { printGuide(e, dir, cfgPath, f, v, bin) }
	return serve(e.ctx, cfg, wiring{logger: logger, serve: true}, ready)
}

// writeDevFiles seeds Vault with a bundle, prepares the next one for the
// operator to write, and writes the secrets and the config file.
func writeDevFiles(ctx context.Context, dir string, f devFlags, v *devVault, sim *graphsim.Server, secret, bin string) (string, error) {
	issuer, err := newDemoIssuer()
	if err != nil {
		return "", err
	}
	if err := seedBundle(ctx, v, issuer); err != nil {
		return "", err
	}
	next, err := issuer.issue("api.demo.example", 180*24*time.Hour, "next-demo-password")
	if err != nil {
		return "", err
	}
	files := map[string]string{
		"vault-token":          v.token,
		"graph-client-secret":  secret,
		"graphsim-ca.pem":      string(sim.CACertPEM()),
		"next-bundle.b64":      base64.StdEncoding.EncodeToString(next),
		"next-bundle.password": "next-demo-password",
		"certrotator.yaml":     devConfig(dir, f, v, sim),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			return "", fmt.Errorf("writing %s: %w", name, err)
		}
	}
	return filepath.Join(dir, "certrotator.yaml"), nil
}

func seedBundle(ctx context.Context, v *devVault, issuer *demoIssuer) error {
	pfx, err := issuer.issue("api.demo.example", 90*24*time.Hour, "demo-password")
	if err != nil {
		return err
	}
	vc, err := vault.NewClient(&vault.Config{Address: v.addr})
	if err != nil {
		return fmt.Errorf("building vault client: %w", err)
	}
	vc.SetToken(v.token)
	_, err = vc.KVv2("secret").Put(ctx, devSecretKV, map[string]any{
		"pfx":      base64.StdEncoding.EncodeToString(pfx),
		"password": "demo-password",
	})
	if err != nil {
		return fmt.Errorf("writing the demo bundle to secret/%s: %w", devSecretKV, err)
	}
	return nil
}

func devConfig(dir string, f devFlags, v *devVault, sim *graphsim.Server) string {
	return fmt.Sprintf(`# Written by certrotator dev: a throwaway demo, rewritten at every start.
instance: dev
nats:
  store_dir: %[1]s/nats
  listen: %[2]s
vault:
  address: %[3]s
  auth: {method: token, token_file: %[1]s/vault-token}
tenants:
  demo:
    tenant_id: %[4]s
    client_id: %[5]s
    client_secret_file: %[1]s/graph-client-secret
    authority_url: %[6]s
    graph_url: %[6]s
    ca_file: %[1]s/graphsim-ca.pem   # the emulator's CA; also for a TLS-inspecting proxy
jobs:
  - name: %[7]s
    source: {mount: secret, path: %[8]s}
    schedule: "@every 1m"
    connectors:
      - {tenant: demo, id: %[9]s}
      - {tenant: demo, id: %[10]s}
http:
  listen: %[11]s
log: {level: info, format: text}
`, dir, f.natsListen, v.addr, devTenantID, devClientID, sim.URL(), devJob, devSecretKV, devConnector1, devConnector2, f.httpListen)
}

func printGuide(e *env, dir, cfgPath string, f devFlags, v *devVault, bin string) {
	rel := func(p string) string {
		if r, err := filepath.Rel(mustGetwd(), p); err == nil && len(r) < len(p) {
			return r
		}
		return p
	}
	c := rel(cfgPath)
	fmt.Fprintf(e.stdout, `
certrotator dev is running. Ctrl-C stops everything.

  NATS         nats://%[1]s (embedded, JetStream store in %[2]s/nats)
  Vault        %[3]s (dev server; token in %[2]s/vault-token), bundle at secret/%[4]s
  Graph        emulator with 2 API connectors (CA in %[2]s/graphsim-ca.pem)
  Status page  http://%[5]s/   metrics http://%[5]s/metrics

The job %[6]q runs every minute and once now. In another terminal:

  ./bin/certrotator status -c %[7]s
  ./bin/certrotator rotate -c %[7]s %[6]s --wait 30s          # request a rotation and wait for the outcomes
  ./bin/certrotator rotate -c %[7]s %[6]s --force --wait 30s  # re-upload even if present (rollback)
  ./bin/certrotator events -c %[7]s --follow                  # outcome events as JSON lines
  ./bin/certrotator plan -c %[7]s                             # dry run: what a rotation would do
  ./bin/certrotator rotate -c %[7]s %[6]s --local             # break-glass: rotate in this process, no NATS
  ./bin/certrotator check-source -c %[7]s                     # judge the bundle in Vault
  nats --server nats://%[1]s pub certrotation.request.%[6]s '{"job":"%[6]s","reason":"hello"}'
  nats --server nats://%[1]s sub 'certrotation.result.>'

Write a new bundle version and watch it roll out:

  VAULT_ADDR=%[3]s VAULT_TOKEN=$(cat %[2]s/vault-token) %[8]s kv put secret/%[4]s pfx=@%[2]s/next-bundle.b64 password=@%[2]s/next-bundle.password
  ./bin/certrotator rotate -c %[7]s %[6]s --wait 30s

`, f.natsListen, rel(dir), v.addr, devSecretKV, f.httpListen, devJob, c, bin)
}

func mustGetwd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "/"
	}
	return wd
}
