package main

import (
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	vault "github.com/hashicorp/vault/api"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
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
	devConnector3 = "7b3a0c1e-0000-4000-8000-000000000003" // the PKI job's
	// The custom-policy job: the demo bundle to a B2C policy key container.
	devKeySetJob = "demo-custom-policy"
	devKeySet    = "B2C_1A_DemoRestApiClientCertificate"
)

type devFlags struct {
	dir        string
	natsListen string
	httpListen string
	vaultBin   string
	// api is the demo's pinning API (devapi.go), nil to leave the probe
	// job out of the config.
	api *devAPI
}

func cmdDev(e *env, fs *flag.FlagSet, args []string) int {
	var f devFlags
	fs.StringVar(&f.dir, "dir", ".dev", "folder for the demo's config, secrets and NATS store")
	fs.StringVar(&f.natsListen, "nats-listen", "127.0.0.1:4222", "where the embedded NATS server listens")
	fs.StringVar(&f.httpListen, "http", "127.0.0.1:9090", "status page and metrics")
	fs.StringVar(&f.vaultBin, "vault", "", "vault binary (default: vault on PATH, else bin/vault)")
	if _, code, ok := parseArgs(e, fs, args); !ok {
		return code
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
	v, err := startDevVault(e.ctx, bin, filepath.Join(dir, "vault-home"))
	if err != nil {
		return err
	}
	defer v.stop()
	// The emulator's client secret is its own random value: deriving it from
	// the Vault token would put part of one secret into another's file.
	secret := "demo-" + uuid.NewString()
	if f.api, err = startDevAPI(filepath.Join(dir, "api-pins.txt")); err != nil {
		return err
	}
	defer f.api.stop()
	sim, err := startDevGraph(secret)
	if err != nil {
		return err
	}
	defer sim.Close()
	sim.SetTargetURL(devTenantID, devConnector4, f.api.url)
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

// startDevGraph starts the demo's Graph emulator on a loopback port: one
// tenant whose client secret is secret, with the four connectors and the
// key set the demo's jobs rotate.
func startDevGraph(secret string) (*graphsim.Server, error) {
	sim := graphsim.New().
		AddTenant(devTenantID, devClientID, secret).
		AddConnector(devTenantID, devConnector1, "demo signup validation").
		AddConnector(devTenantID, devConnector2, "demo token enrichment").
		AddConnector(devTenantID, devConnector3, "demo PKI-issued").
		AddConnector(devTenantID, devConnector4, "demo pinning API").
		AddKeySet(devTenantID, devKeySet)
	if err := sim.StartOn("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("starting graph emulator: %w", err)
	}
	return sim, nil
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
	if err := enablePKI(ctx, v); err != nil {
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
		"next-bundle.p12":      string(next), // the raw file, for `inspect`
		"next-bundle.password": "next-demo-password",
		"certrotator.yaml":     devConfig(dir, f, v, sim),
	}
	if f.api != nil {
		files["api-ca.pem"] = string(f.api.caPEM)
		files["api-pins.txt"] = "# thumbprints the demo pinning API accepts, one a line\n"
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
    watch: 10s                      # a version written to Vault rolls out within 10s
    connectors:
      - {tenant: demo, id: %[9]s}
      - {tenant: demo, id: %[10]s}
  # Issued by Vault PKI with a short lifetime: a certificate is issued at
  # start, and a new one every 90s or so (half of its 3m lifetime).
  - name: %[12]s
    source:
      mount: secret
      path: %[13]s
      pki: {mount: %[14]s, role: %[15]s, common_name: %[16]s, ttl: %[17]s}
    schedule: "@every 15s"
    renew_before: 50%%
    min_validity: 1m
    warn_before: [1m]               # only when a renewal is overdue
    connectors:
      - {tenant: demo, id: %[18]s}
%[19]s%[20]shttp:
  listen: %[11]s
log: {level: info, format: text}
`, dir, f.natsListen, v.addr, devTenantID, devClientID, sim.URL(), devJob, devSecretKV, devConnector1, devConnector2, f.httpListen,
		devPKIJob, devPKISecretKV, devPKIMount, devPKIRole, devPKICommonName, devPKITTL, devConnector3, devProbeConfig(dir, f), devKeySetConfig())
}

// devKeySetConfig is the custom-policy job: the demo bundle also goes to a
// B2C policy key container (Graph beta uploadPkcs12; docs/keysets.md).
func devKeySetConfig() string {
	return fmt.Sprintf(`  # Custom policies: the same bundle to a policy key container (Graph beta).
  - name: %[1]s
    source: {mount: secret, path: %[2]s}
    schedule: "@every 1m"
    keysets:
      - {tenant: demo, id: %[3]s}
`, devKeySetJob, devSecretKV, devKeySet)
}

// devProbeConfig is the job whose API pins thumbprints (devapi.go): its
// first rotation is rejected until the bundle's thumbprint is pinned.
func devProbeConfig(dir string, f devFlags) string {
	if f.api == nil {
		return ""
	}
	return fmt.Sprintf(`  # Probed: the API behind this connector (its targetUrl) pins thumbprints
  # listed in %[1]s/api-pins.txt; nothing is uploaded until it accepts.
  - name: %[2]s
    source: {mount: secret, path: %[3]s}
    schedule: "@every 1m"
    max_attempts: 20
    probe: {ca_file: %[1]s/api-ca.pem, timeout: 5s}
    connectors:
      - {tenant: demo, id: %[4]s}
`, dir, devProbeJob, devSecretKV, devConnector4)
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
  Vault        %[3]s (dev server; token in %[2]s/vault-token), bundle at secret/%[4]s,
               PKI at %[10]s/ (role %[11]s) issuing into secret/%[12]s
  Graph        emulator with 3 API connectors (CA in %[2]s/graphsim-ca.pem)
  Status page  http://%[5]s/   metrics http://%[5]s/metrics

The job %[6]q runs every minute and once now, and watches secret/%[4]s every 10s.
The job %[9]q issues a 3-minute certificate from Vault PKI now, uploads it, and issues
and uploads a new one about every 90s (renew_before 50%%). In another terminal:

%[13]s  nats --server nats://%[1]s pub %[14]s '{"job":"%[6]s","reason":"hello"}'
  nats --server nats://%[1]s sub '%[15]s'

Write a new bundle version: the watch rolls it out within 10s, no event needed.
Then roll back to the seeded version 1 and read the history:

  VAULT_ADDR=%[3]s VAULT_TOKEN=$(cat %[2]s/vault-token) %[8]s kv put secret/%[4]s pfx=@%[2]s/next-bundle.b64 password=@%[2]s/next-bundle.password
  ./bin/certrotator history -c %[7]s %[6]s
  ./bin/certrotator rollback -c %[7]s %[6]s --to-version 1 --wait 30s
  ./bin/certrotator history -c %[7]s %[6]s

`, f.natsListen, rel(dir), v.addr, devSecretKV, f.httpListen, devJob, c, bin,
		devPKIJob, devPKIMount, devPKIRole, devPKISecretKV, devCommands(c),
		contract.RequestSubject(contract.SubjectPrefixDefault, devJob), contract.AllResults(contract.SubjectPrefixDefault))
	if f.api != nil {
		fmt.Fprintf(e.stdout, `The job %[1]q probes the API behind its connector first: that API pins thumbprints
(%[2]s/api-pins.txt) and knows none yet, so the rotation fails with api_rejects_certificate and
nothing is uploaded. See the verdict, pin the thumbprint as the API's owner would, and let the
retry go ahead (or ask for it now):

  ./bin/certrotator plan -c %[3]s %[1]s
  ./bin/certrotator plan -c %[3]s %[1]s --json | jq -r .bundle.thumbprint >> %[2]s/api-pins.txt
  ./bin/certrotator rotate -c %[3]s %[1]s --wait 30s

`, devProbeJob, rel(dir), c)
	}
}

// devCommands lists the CLI commands the guide suggests, their comments
// aligned, for the config at cfg.
func devCommands(cfg string) string {
	cmds := [][2]string{
		{"status -c " + cfg, ""},
		{"history -c " + cfg + " " + devPKIJob, "every outcome, with the Vault version it rolled out"},
		{"plan -c " + cfg, "dry run: what a rotation would do (issue, upload, skip)"},
		{"rotate -c " + cfg + " " + devJob + " --wait 30s", "request a rotation and wait for the outcomes"},
		{"rotate -c " + cfg + " " + devJob + " --force --wait 30s", "re-upload even if present"},
		{"events -c " + cfg + " --follow", "outcome events as JSON lines"},
		{"rotate -c " + cfg + " " + devJob + " --local", "break-glass: rotate in this process, no NATS"},
		{"check-source -c " + cfg, "judge the bundles in Vault"},
		{"inspect " + filepath.Join(filepath.Dir(cfg), "next-bundle.p12") + " --password-file " + filepath.Join(filepath.Dir(cfg), "next-bundle.password"), "judge a PFX on disk"},
		{"validate -c " + cfg, "check the config as starting the worker does"},
		{"doctor -c " + cfg, "check Vault, Graph and NATS as a first deployment needs them"},
		{"completion bash", "shell completion (also zsh)"},
	}
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	for _, c := range cmds {
		if c[1] == "" {
			fmt.Fprintf(tw, "  ./bin/certrotator %s\n", c[0])
			continue
		}
		fmt.Fprintf(tw, "  ./bin/certrotator %s\t# %s\n", c[0], c[1])
	}
	tw.Flush()
	return b.String()
}

func mustGetwd() string {
	wd, err := os.Getwd()
	if err != nil {
		return "/"
	}
	return wd
}
