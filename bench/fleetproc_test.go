package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

// The process mode (the default of TestFleet; BENCH_INPROCESS=1 keeps every
// replica and graphsim in the test process, as before): each replica is the
// real binary, `certrotator run -c FILE`, in a process of its own; graphsim
// is cmd/graphsim in another and Vault in its own, so that each replica's
// peak RSS and CPU are its own, read from /proc/<pid>. The harness keeps
// the embedded NATS server, the tick's publishing and the outcome tracker.

// procLimits are benchLimits as the binary can be told them: its rate
// window is Graph's minute (no config key shortens it), so the counts are
// ten times benchLimits' over ten times the window, the same rate. The
// budget's burst grows with the count (5 % of it: 100 calls instead of 10),
// which only the hot tenant notices (its first 100 calls go at once).
var procLimits = graphsim.Limits{AppPerWindow: 10 * benchLimits.AppPerWindow, TenantPerWindow: 10 * benchLimits.TenantPerWindow, Window: time.Minute}

// envFleetSecret and envVaultToken carry the secrets to the children, so
// that neither is written to a file.
const (
	envFleetSecret = "BENCH_FLEET_SECRET"
	envVaultToken  = "BENCH_VAULT_TOKEN"
)

// binaries are the real programs, built once per test process.
type binaries struct{ certrotator, graphsim string }

var (
	buildOnce sync.Once
	built     binaries
	buildErr  error
	buildDir  string
)

// buildBinaries builds cmd/certrotator and cmd/graphsim (without the race
// detector, so that RSS and CPU mean something) into a directory removed
// by TestMain.
func buildBinaries(t *testing.T) binaries {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "certrotator-bench-")
		if err != nil {
			buildErr = err
			return
		}
		buildDir = dir
		for _, b := range []struct{ out, pkg string }{{"certrotator", "./cmd/certrotator"}, {"graphsim", "./cmd/graphsim"}} {
			cmd := exec.Command("go", "build", "-o", filepath.Join(dir, b.out), b.pkg)
			cmd.Dir = ".." // the module root
			if out, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("building %s: %w\n%s", b.pkg, err, out)
				return
			}
		}
		built = binaries{certrotator: filepath.Join(dir, "certrotator"), graphsim: filepath.Join(dir, "graphsim")}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// child is a program the harness started; stop ends it with SIGTERM and
// waits, killing it if it has not exited in time.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string // its stderr
	done chan struct{}
}

func startChild(t *testing.T, name, path string, args, env []string, stdout io.Writer) *child {
	t.Helper()
	logPath := filepath.Join(t.TempDir(), name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("creating %s: %v", logPath, err)
	}
	cmd := exec.Command(path, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = stdout, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	c := &child{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(c.done)
	}()
	t.Cleanup(c.stop)
	return c
}

func (c *child) pid() int { return c.cmd.Process.Pid }

func (c *child) stop() {
	select {
	case <-c.done:
		return
	default:
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(30 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}

// tail returns the end of the child's stderr, for a failure message.
func (c *child) tail() string {
	b, _ := os.ReadFile(c.log)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// graphProc is graphsim in its own process.
type graphProc struct {
	*child
	url, caFile, countsURL string
}

// startGraphProc runs cmd/graphsim with the fleet's tenants and
// connectors, the spec's latency and limits, the PFX verdict cache and
// HTTP/2 (so that graphsim's own CPU stays small and apart), and waits for
// it to print its URLs.
func startGraphProc(t *testing.T, bin binaries, s fleetSpec, f fleet) *graphProc {
	t.Helper()
	dir := t.TempDir()
	var doc fleetFileDoc
	perTenant := map[string][]string{}
	for _, j := range f.jobs {
		for _, c := range j.Connectors {
			perTenant[c.Tenant] = append(perTenant[c.Tenant], c.ID)
		}
	}
	for i, id := range f.tenantIDs {
		doc.Tenants = append(doc.Tenants, fleetTenantDoc{TenantID: id, ClientID: fleetClientID, Connectors: perTenant[tenantKeyOf(i)]})
	}
	fleetPath := filepath.Join(dir, "fleet.json")
	writeJSON(t, fleetPath, doc)
	g := &graphProc{caFile: filepath.Join(dir, "ca.pem")}
	pr, pw := io.Pipe()
	args := []string{"--listen", "127.0.0.1:0", "--ca-out", g.caFile, "--fleet", fleetPath, "--counts-listen", "127.0.0.1:0",
		"--client-secret-env", envFleetSecret, "--latency", s.Latency.String(), "--page-size", fmt.Sprint(graphsim.PageSizeDefault),
		"--app-limit", fmt.Sprint(s.Limits.AppPerWindow), "--tenant-limit", fmt.Sprint(s.Limits.TenantPerWindow),
		"--limit-window", s.Limits.Window.String()}
	if os.Getenv("BENCH_GRAPHSIM_PLAIN") == "" {
		args = append(args, "--pfx-cache", "--http2")
	}
	g.child = startChild(t, "graphsim", bin.graphsim, args, []string{envFleetSecret + "=" + fleetSecret}, pw)
	lines := make(chan string, 64) // the banner is a dozen lines; later ones are dropped
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
	}()
	t.Cleanup(func() { pw.Close() })
	deadline := time.After(time.Minute)
	for g.url == "" || g.countsURL == "" {
		select {
		case l := <-lines:
			if u, ok := strings.CutPrefix(l, "graphsim serving Entra and Graph on "); ok {
				g.url = u
			}
			if u, ok := strings.CutPrefix(l, "counts: "); ok {
				g.countsURL = u
			}
		case <-g.done:
			t.Fatalf("graphsim exited: %s", g.tail())
		case <-deadline:
			t.Fatalf("graphsim printed no URL in a minute: %s", g.tail())
		}
	}
	return g
}

type fleetFileDoc struct {
	Tenants []fleetTenantDoc `json:"tenants"`
}

type fleetTenantDoc struct {
	TenantID   string   `json:"tenant_id"`
	ClientID   string   `json:"client_id"`
	Connectors []string `json:"connectors"`
}

// graphReport is graphsim's GET /counts (cmd/graphsim).
type graphReport struct {
	Tenants     map[string]graphsim.Counts `json:"tenants"`
	PFXDecodes  int                        `json:"pfx_decodes"`
	Connections int64                      `json:"connections"`
}

// counts reads graphsim's calls and 429s per tenant, its PFX decodes and
// the connections it accepted.
func (g *graphProc) counts(t *testing.T) graphReport {
	t.Helper()
	resp, err := http.Get(g.countsURL)
	if err != nil {
		t.Fatalf("reading graphsim's counts: %v", err)
	}
	defer resp.Body.Close()
	var rep graphReport
	if err := json.NewDecoder(resp.Body).Decode(&rep); err != nil {
		t.Fatalf("decoding graphsim's counts: %v", err)
	}
	return rep
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %s: %v", path, err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatalf("writing %s: %v", path, err)
	}
}

// workerProc is one replica: the real binary on a generated config.
type workerProc struct {
	*child
	metricsURL string
	pprofAddr  string // CERTROTATOR_PPROF's, with BENCH_WORKER_PROFILE
}

// profile saves the replica's profile (a path under /debug/pprof/, with
// its query) to file, for BENCH_WORKER_PROFILE; errors only cost the
// profile, so they are logged.
func (w *workerProc) profile(t *testing.T, path, file string) {
	resp, err := http.Get("http://" + w.pprofAddr + "/debug/pprof/" + path)
	if err != nil {
		t.Logf("profile %s of %s: %v", path, w.name, err)
		return
	}
	defer resp.Body.Close()
	out, err := os.Create(file)
	if err != nil {
		t.Logf("profile %s of %s: %v", path, w.name, err)
		return
	}
	defer out.Close()
	if _, err := io.Copy(out, resp.Body); err != nil {
		t.Logf("profile %s of %s: %v", path, w.name, err)
	}
}

// startWorkerProc writes the replica's config (every tuning key at its
// default, log level warn) and runs `certrotator run -c FILE` with the
// graphsim CA as its system roots (SSL_CERT_FILE, as a host that trusts a
// CA does: one transport for every tenant), then waits for /readyz.
func startWorkerProc(t *testing.T, bin binaries, cfg workerConfig) *workerProc {
	t.Helper()
	port := testkit.FreePort(t)
	cfg.Listen = fmt.Sprintf("127.0.0.1:%d", port)
	path := filepath.Join(t.TempDir(), cfg.Instance+".yaml")
	if err := os.WriteFile(path, []byte(cfg.yaml()), 0o600); err != nil {
		t.Fatalf("writing config: %v", err)
	}
	env := []string{"SSL_CERT_FILE=" + cfg.CAFile, envFleetSecret + "=" + fleetSecret, envVaultToken + "=" + cfg.VaultToken}
	w := &workerProc{metricsURL: "http://" + cfg.Listen + "/metrics"}
	if os.Getenv("BENCH_WORKER_PROFILE") != "" {
		w.pprofAddr = fmt.Sprintf("127.0.0.1:%d", testkit.FreePort(t))
		env = append(env, "CERTROTATOR_PPROF="+w.pprofAddr)
	}
	// BENCH_WORKER_ENV="K=V K=V" adds to each replica's environment (GOGC,
	// GOMEMLIMIT, GODEBUG=gctrace=1), and BENCH_WORKER_LOG=PREFIX keeps each
	// replica's stderr as PREFIX.<instance>.log, for experiments.
	env = append(env, strings.Fields(os.Getenv("BENCH_WORKER_ENV"))...)
	w.child = startChild(t, cfg.Instance, bin.certrotator, []string{"run", "-c", path}, env, io.Discard)
	if prefix := os.Getenv("BENCH_WORKER_LOG"); prefix != "" {
		t.Cleanup(func() { w.keepLog(t, prefix+"."+cfg.Instance+".log") })
	}
	ready := "http://" + cfg.Listen + "/readyz"
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, ready, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return w
			}
		}
		select {
		case <-w.done:
			t.Fatalf("%s exited before it was ready: %s", cfg.Instance, w.tail())
		case <-ctx.Done():
			t.Fatalf("%s not ready in 2 minutes: %s", cfg.Instance, w.tail())
		case <-tick.C:
		}
	}
}

// vaultRequests sums certrotator_vault_requests_total of the replica's
// /metrics: every Vault request (bundle reads, and token lookups and
// renewals).
func (w *workerProc) vaultRequests(t *testing.T) int64 {
	t.Helper()
	resp, err := http.Get(w.metricsURL)
	if err != nil {
		t.Fatalf("reading %s's metrics: %v", w.name, err)
	}
	defer resp.Body.Close()
	var n float64
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "certrotator_vault_requests_total{"); ok {
			var v float64
			if _, err := fmt.Sscan(rest[strings.IndexByte(rest, '}')+1:], &v); err == nil {
				n += v
			}
		}
	}
	return int64(n)
}

// keepLog copies the replica's stderr to path once it has stopped.
func (w *workerProc) keepLog(t *testing.T, path string) {
	w.stop()
	b, err := os.ReadFile(w.log)
	if err == nil {
		err = os.WriteFile(path, b, 0o600)
	}
	if err != nil {
		t.Logf("keeping %s's log: %v", w.name, err)
	}
}
