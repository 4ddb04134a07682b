package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// buildBinary compiles cmd/certrotator into dir, as a release would (no
// race detector), so that signals reach the real main.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "certrotator")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/certrotator/certrotator/cmd/certrotator")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building certrotator: %v\n%s", err, out)
	}
	return bin
}

// process is the real binary running `certrotator run`.
type process struct {
	cmd    *exec.Cmd
	stderr *testkit.LogBuffer // a child process writes, the test reads
	exited chan struct{}
	err    error
}

// runBinary starts `bin run -c <config>` against the stack and NATS at url.
func runBinary(t *testing.T, fs *faultStack, bin, dir, instance, url, path string) *process {
	t.Helper()
	ca := filepath.Join(dir, "graphsim-ca.pem")
	if err := os.WriteFile(ca, fs.graph.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := `instance: ` + instance + `
nats: {url: "` + url + `", subject_prefix: certrotation}
vault:
  address: ` + fs.vault.Addr + `
  auth: {method: token, token: "${VAULT_TOKEN}"}
tenants:
  ` + tenantKey + `:
    tenant_id: ` + tenantID + `
    client_id: ` + clientID + `
    client_secret: "${GRAPH_SECRET}"
    ca_file: ` + ca + `
    authority_url: ` + fs.graph.URL() + `
    graph_url: ` + fs.graph.URL() + `
jobs:
  - name: contoso-api
    source: {mount: ` + mount + `, path: ` + path + `, pfx_field: pfx, password_field: password}
    connectors:
      - {tenant: ` + tenantKey + `, id: ` + connectorIDs[0] + `}
http: {listen: "off"}
log: {level: debug, format: json}
`
	file := filepath.Join(dir, instance+".yaml")
	if err := os.WriteFile(file, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &process{stderr: &testkit.LogBuffer{}, exited: make(chan struct{})}
	p.cmd = exec.Command(bin, "run", "-c", file)
	p.cmd.Env = append(os.Environ(), "VAULT_TOKEN="+fs.vault.Token, "GRAPH_SECRET="+secret)
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting certrotator: %v", err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.exited
		if t.Failed() {
			t.Logf("%s output:\n%s", instance, p.stderr.String())
		}
	})
	return p
}

func (p *process) wait(t *testing.T) error {
	t.Helper()
	select {
	case <-p.exited:
		return p.err
	case <-time.After(eventTimeout):
		t.Fatal("certrotator did not exit")
		return nil
	}
}

// waitRead waits until Graph answered the worker's read of the connector:
// the upload is the worker's next call.
// Requests before the index after are ignored.
func waitRead(t *testing.T, fs *faultStack, after int) {
	t.Helper()
	eventually(t, "the connector read before the upload", func() bool {
		for _, r := range fs.graph.Requests()[after:] {
			if r.Method == "GET" && strings.HasSuffix(r.Path, connectorIDs[0]) && r.Status == 200 {
				return true
			}
		}
		return false
	})
}

// TestFaultSignalsMidUpload runs the real binary (go build, no race
// detector) and signals it while Graph is slow, with the upload in flight:
//
//   - SIGTERM: the worker stops gracefully; the upload in flight finishes
//     within the shutdown grace, its outcome is published, the process
//     exits 0.
//   - SIGKILL: nothing runs on. The process recorded its intent to upload
//     in NATS before sending, and is killed once it did. Graph had the
//     whole upload request and applies it although its client is dead
//     (graphsim, like a real server, does not notice a closed connection
//     before reading the body). A replica started afterwards takes the
//     request once the ack wait and the dead process's job lease run out,
//     finds the certificate active and the intent recorded, and reports
//     succeeded/confirmed_on_retry: one final outcome, one upload, the
//     connector on the bundle.
func TestFaultSignalsMidUpload(t *testing.T) {
	t.Parallel()
	fs := setupFaults(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	f := newFleet(t)

	t.Run("SIGTERM", func(t *testing.T) {
		b := fs.put(t, "b2c/sigterm", validFor(t, 60*24*time.Hour, "p4ss-sigterm"))
		p := runBinary(t, fs, bin, dir, "term", f.url, "b2c/sigterm")
		fs.graph.SetLatency(2 * time.Second)
		defer fs.graph.SetLatency(0)
		seen := len(fs.graph.Requests())
		f.publish(t, "contoso-api", "sigterm-1", `{"job":"contoso-api"}`)
		waitRead(t, fs, seen)
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.wait(t); err != nil {
			t.Errorf("exit after SIGTERM: %v, want 0", err)
		}
		fin := finals(t, f.ev, "sigterm-1")
		if len(fin) != 1 || fin[0].Status != contract.StatusSucceeded || fin[0].Attempt != 1 {
			t.Errorf("finals %+v, want one succeeded on attempt 1 (finished during the grace period)", fin)
		}
		if got := fs.uploads(connectorIDs[0]); len(got) != 1 || got[0] != b.Thumbprint {
			t.Errorf("uploads %v, want the bundle's once", got)
		}
		assertNoSecrets(t, "the binary's logs", p.stderr.String(), map[string]string{
			"password": b.Password, "vault token": fs.vault.Token, "client secret": secret})
	})

	t.Run("SIGKILL", func(t *testing.T) {
		b := fs.put(t, "b2c/sigterm", validFor(t, 90*24*time.Hour, "p4ss-sigkill"))
		before := len(fs.uploads(connectorIDs[0]))
		p := runBinary(t, fs, bin, dir, "killed", f.url, "b2c/sigterm")
		fs.graph.SetLatency(5 * time.Second)
		seen := len(fs.graph.Requests())
		f.publish(t, "contoso-api", "sigkill-1", `{"job":"contoso-api"}`)
		waitRead(t, fs, seen)
		waitIntent(t, f.nc) // the upload goes out right after its intent is kept
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		var ee *exec.ExitError
		if err := p.wait(t); !errors.As(err, &ee) {
			t.Fatalf("exit after SIGKILL: %v", err)
		}
		fs.graph.SetLatency(0)
		j := job("b2c/sigterm", connectorIDs[0])
		f.start(t, fs.stack, "survivor", j, nil)
		fin := finalsWithin(t, f.ev, "sigkill-1", 3*contract.LockTTL)
		// Killed after its intent was kept, the process had (almost surely)
		// sent the upload: the survivor confirms it. Had the kill come
		// between the intent and the send, the survivor uploads itself:
		// succeeded either way, never already_present.
		if len(fin) != 1 || fin[0].Status != contract.StatusSucceeded || fin[0].Attempt < 2 {
			t.Errorf("finals %+v, want one succeeded on a later attempt", fin)
		}
		t.Logf("after SIGKILL: final %s/%s on attempt %d", fin[0].Status, fin[0].Reason, fin[0].Attempt)
		if got := fs.uploads(connectorIDs[0]); len(got) != before+1 || got[len(got)-1] != b.Thumbprint {
			t.Errorf("uploads %v, want the new bundle's once more", got)
		}
		if got := fs.active(t, connectorIDs[0]); got != b.Thumbprint {
			t.Errorf("active %s, want %s", got, b.Thumbprint)
		}
	})
}
