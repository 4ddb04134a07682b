package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// serveNATS appends an embedded NATS listening on loopback to the config
// at path, runs the worker it describes until the test ends, and returns
// once it is ready.
func serveNATS(t *testing.T, path string) {
	t.Helper()
	addNATSListen(t, path)
	startServing(t, path)
}

// activeThumbprint is the thumbprint the emulator holds active on conn.
func activeThumbprint(t *testing.T, conn string) string {
	t.Helper()
	for _, c := range graph.Certificates(testTenantID, conn) {
		if c.IsActive {
			return c.Thumbprint
		}
	}
	t.Fatalf("connector %s has no active certificate", conn)
	return ""
}

// workerReadOnly is what the worker's token may do in TestRollbackAndHistory:
// read bundles and versions, as deploy/vault/policy.hcl allows.
const workerReadOnly = `
path "secret/data/b2c/*" { capabilities = ["read"] }
path "secret/metadata/b2c/*" { capabilities = ["read"] }
`

// TestRollbackAndHistory rotates to version 3 and rolls back to version 1
// the Vault-native way, against a real Vault, an embedded NATS and the
// Graph emulator: with the worker's read-only credentials the rollback is
// refused and writes nothing; with the caller's own VAULT_TOKEN it writes
// version 1's data as version 4 and rolls it out, a plain run afterwards
// keeps it active, a deleted version is refused before anything is
// written, and history shows both versions.
func TestRollbackAndHistory(t *testing.T) {
	t.Parallel()
	v := vaulttest.Start(t)
	now := time.Now()
	const kvPath = "b2c/lifecycle"
	var thumbs []string
	for i := range 3 {
		pfx := testPFX(t, now.Add(-time.Hour), now.AddDate(0, 3+i, 0), "pw")
		if n := v.PutBundle(t, "secret", kvPath, pfx, "pw"); n != i+1 {
			t.Fatalf("wrote version %d, want %d", n, i+1)
		}
		b, err := bundle.Decode(pfx, "pw")
		if err != nil {
			t.Fatal(err)
		}
		thumbs = append(thumbs, b.Thumbprint())
	}
	conn := freshConn(t)
	worker := &vaulttest.Server{Addr: v.Addr, Token: v.TokenWithPolicy(t, "worker-read-only", workerReadOnly)}
	path := cliConfig(t, worker, kvPath, conn)
	serveNATS(t, path)
	env := map[string]string{"USER": "tester"}
	current := func() int {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		md, err := v.Client(t).KVv2("secret").GetMetadata(ctx, kvPath)
		if err != nil {
			t.Fatal(err)
		}
		return md.CurrentVersion
	}

	code, out, errOut := runCLI(t, env, "rotate", "-c", path, "cli-job", "--wait", "30s", "--json")
	if code != exitOK || !strings.Contains(out, `"source_version":3`) || activeThumbprint(t, conn) != thumbs[2] {
		t.Fatalf("rotate --wait: exit %d out %q err %q", code, out, errOut)
	}

	// The worker's own credentials may not write: nothing is written or published.
	code, out, errOut = runCLI(t, env, "rollback", "-c", path, "cli-job", "--to-version", "1", "--wait", "30s")
	if code != exitFailed || !strings.Contains(errOut, "403") || !strings.Contains(errOut, "VAULT_TOKEN") || current() != 3 {
		t.Fatalf("rollback with the worker's read-only token: exit %d out %q err %q, current version %d; want a refusal naming VAULT_TOKEN, version 3",
			code, out, errOut, current())
	}

	operator := map[string]string{"USER": "tester", "VAULT_TOKEN": v.Token, "VAULT_ADDR": v.Addr}
	code, out, errOut = runCLI(t, operator, "rollback", "-c", path, "cli-job", "--to-version", "1", "--wait", "30s", "--json")
	if code != exitOK || !strings.Contains(out, `"reason":"rollback"`) || !strings.Contains(out, `"source_version":4`) {
		t.Fatalf("rollback to 1: exit %d out %q err %q", code, out, errOut)
	}
	if current() != 4 || activeThumbprint(t, conn) != thumbs[0] {
		t.Fatalf("after the rollback: current version %d, active %s; want 4 and version 1's %s", current(), activeThumbprint(t, conn), thumbs[0])
	}

	// Every later run agrees with the rollback: the latest version is it.
	code, out, errOut = runCLI(t, env, "rotate", "-c", path, "cli-job", "--wait", "30s", "--json")
	if code != exitOK || !strings.Contains(out, `"reason":"already_present"`) || !strings.Contains(out, `"source_version":4`) {
		t.Fatalf("a plain run after the rollback: exit %d out %q err %q, want already_present of version 4", code, out, errOut)
	}
	if active := activeThumbprint(t, conn); active != thumbs[0] {
		t.Errorf("a plain run moved the connector to %s, want the rolled-back %s", active, thumbs[0])
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := v.Client(t).KVv2("secret").DeleteVersions(ctx, kvPath, []int{2}); err != nil {
		t.Fatalf("deleting version 2: %v", err)
	}
	code, _, errOut = runCLI(t, operator, "rollback", "-c", path, "cli-job", "--to-version", "2", "--wait", "30s", "--json")
	if code != exitFailed || !strings.Contains(errOut, "version 2 is deleted") || current() != 4 {
		t.Errorf("rollback to deleted 2: exit %d err %q, current %d; want 1, refused before writing", code, errOut, current())
	}

	code, out, errOut = runCLI(t, nil, "history", "-c", path, "cli-job", "--json")
	if code != exitOK {
		t.Fatalf("history --json: exit %d err %q", code, errOut)
	}
	var rows []historyRow
	for line := range strings.Lines(out) {
		var r historyRow
		if err := json.Unmarshal([]byte(line), &r); err != nil {
			t.Fatalf("history line %q: %v", line, err)
		}
		rows = append(rows, r)
	}
	if len(rows) != 3 {
		t.Fatalf("history has %d rows, want 3:\n%s", len(rows), out)
	}
	if r := rows[0]; r.Outcome != "skipped" || r.Reason != "already_present" || r.Version != 4 {
		t.Errorf("newest row %+v, want the plain run finding version 4 present", r)
	}
	if r := rows[1]; r.Outcome != "succeeded" || r.Reason != "rollback" || r.Version != 4 || r.RolledBackFrom != 1 ||
		!strings.HasPrefix(r.RolledBackBy, "tester@") || r.VersionState != "live" || r.Thumbprint != thumbs[0] || r.VersionCreated.IsZero() {
		t.Errorf("second row %+v, want the rollback: version 4, a copy of version 1 by tester", r)
	}
	if r := rows[2]; r.Version != 3 || r.Thumbprint != thumbs[2] || r.Connector != conn || !strings.HasPrefix(r.RequestID, "manual-") {
		t.Errorf("oldest row %+v, want the rotation to version 3", r)
	}

	code, out, _ = runCLI(t, nil, "history", "-c", path, "cli-job")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if code != exitOK || len(lines) != 4 || !strings.HasPrefix(lines[0], "TIME") || !strings.Contains(lines[2], "succeeded (rollback)") ||
		!strings.Contains(lines[2], "4 (copy of 1)") {
		t.Errorf("history table: exit %d\n%s", code, out)
	}
	code, out, _ = runCLI(t, nil, "history", "-c", path, "cli-job", "--connector", freshConn(t), "--json")
	if code != exitOK || out != "" {
		t.Errorf("history of another connector: exit %d out %q, want none", code, out)
	}
	code, _, errOut = runCLI(t, nil, "rollback", "-c", path, "cli-job")
	if code != exitUsage || !strings.Contains(errOut, "--to-version") {
		t.Errorf("rollback without a version: exit %d err %q", code, errOut)
	}
}

// TestPlanSaysIssue plans a job sourced from Vault PKI whose KV path is
// empty: the plan says it would issue, and issues nothing; rotate --local
// then issues version 1 and uploads it, after which the plan skips.
func TestPlanSaysIssue(t *testing.T) {
	t.Parallel()
	v := vaulttest.Start(t)
	v.EnablePKI(t, vaulttest.PKIOptions{MaxTTL: "2160h"})
	conn := freshConn(t)
	const kvPath = "b2c/pki-plan"
	// cliConfig writes source as a flow mapping: the pki keys ride along. The
	// ttl is longer than the default renew_before (720h), or every plan
	// would find the new certificate due again.
	path := cliConfig(t, v, kvPath+", pki: {role: b2c-api, common_name: api.example.com, ttl: 2160h}", conn)

	code, out, errOut := runCLI(t, nil, "plan", "-c", path, "cli-job")
	if code != exitOK || !strings.Contains(out, "issue") || !strings.Contains(out, "no bundle in Vault yet") || !strings.Contains(out, "new") {
		t.Fatalf("plan: exit %d out %q err %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, nil, "plan", "-c", path, "cli-job", "--json")
	if code != exitOK || !strings.Contains(out, `"action":"issue"`) || !strings.Contains(out, `"reason":"missing"`) {
		t.Errorf("plan --json: exit %d out %q", code, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if md, err := v.Client(t).KVv2("secret").GetMetadata(ctx, kvPath); err == nil {
		t.Fatalf("plan wrote version %d to Vault", md.CurrentVersion)
	}

	code, out, errOut = runCLI(t, nil, "rotate", "-c", path, "cli-job", "--local")
	if code != exitOK || !strings.Contains(out, "certrotator.rotation.succeeded") || !strings.Contains(out, `"source_version":1`) {
		t.Fatalf("rotate --local: exit %d out %q err %q", code, out, errOut)
	}
	code, out, errOut = runCLI(t, nil, "plan", "-c", path, "cli-job")
	if code != exitOK || strings.Contains(out, "issue") || !strings.Contains(out, "already_present") {
		t.Errorf("plan after issuing: exit %d\n%s\n%s", code, out, errOut)
	}
}

// addNATSListen appends to the config at path an embedded NATS server that
// listens on a free loopback port, so the CLI can reach the worker it runs,
// and returns that address.
func addNATSListen(t *testing.T, path string) string {
	t.Helper()
	listen := testkit.FreeAddr(t)
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("nats: {store_dir: " + t.TempDir() + ", listen: " + listen + "}\n"); err != nil {
		t.Fatal(err)
	}
	return listen
}
