package docs_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// natsCLIVersion is the nats CLI pinned in tools/natscli; `make nats-cli`
// builds it into the cache under this name.
const natsCLIVersion = "v0.5.1"

// nscVersion is the nsc pinned in tools/nsc (`make nsc`).
const nscVersion = "v2.15.0"

// blockTimeout bounds one block; generous for a busy 2-core machine.
const blockTimeout = 3 * time.Minute

// scenario is a fresh clone (a copy of deploy/) with the binaries a reader
// has on PATH, in which the guides' blocks run in order, sharing shell
// variables as one terminal session would.
type scenario struct {
	t     *testing.T
	root  string // the module root
	clone string // the reader's working directory: a copy of deploy/
	home  string
	env   map[string]string
	state string // the shell variables after the last block
	notes []string
}

func newScenario(t *testing.T) *scenario {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	s := &scenario{t: t, root: root, clone: t.TempDir(), home: t.TempDir()}
	if err := os.CopyFS(filepath.Join(s.clone, "deploy"), os.DirFS(filepath.Join(root, "deploy"))); err != nil {
		t.Fatalf("copying deploy/ into the clone: %v", err)
	}
	bin := filepath.Join(s.home, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "certrotator"), "./cmd/certrotator")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building certrotator: %v\n%s", err, out)
	}
	s.link(bin, "vault", vaultBinary(t, root))
	s.link(bin, "nats", cachedTool(t, root, "nats", "CERTROTATOR_NATS_CLI", "nats-cli-"+natsCLIVersion, "make nats-cli"))
	s.link(bin, "nsc", cachedTool(t, root, "nsc", "CERTROTATOR_NSC", "nsc-"+nscVersion, "make nsc"))
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s.link(bin, "az", self)
	shape, _ := filepath.Abs(filepath.Join("testdata", "az-shape.json"))
	s.env = map[string]string{
		"PATH":    bin + ":/usr/local/bin:/usr/bin:/bin",
		"HOME":    s.home,
		"LANG":    "C.UTF-8",
		"TMPDIR":  os.TempDir(),
		azShimEnv: shape,
	}
	s.state = filepath.Join(s.home, "shell-state")
	return s
}

func (s *scenario) link(dir, name, target string) {
	s.t.Helper()
	if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
		s.t.Fatal(err)
	}
}

// vaultBinary is the pinned Vault of `make vault`, as vaulttest finds it.
func vaultBinary(t *testing.T, root string) string {
	t.Helper()
	for _, p := range []string{os.Getenv("CERTROTATOR_VAULT"), filepath.Join(root, "bin", "vault")} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p
	}
	t.Fatal("vault binary not found: run make vault")
	return ""
}

// cachedTool finds a pinned tool: $env, bin/<name> in the module root, or
// ~/.cache/certrotator/<cached> where its make target builds it.
func cachedTool(t *testing.T, root, name, env, cached, target string) string {
	t.Helper()
	cache := os.Getenv("XDG_CACHE_HOME")
	if cache == "" {
		home, _ := os.UserHomeDir()
		cache = filepath.Join(home, ".cache")
	}
	for _, p := range []string{os.Getenv(env), filepath.Join(root, "bin", name), filepath.Join(cache, "certrotator", cached)} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatalf("%s was not found: run %s", name, target)
	return ""
}

// environ is the environment of a block.
func (s *scenario) environ() []string {
	out := make([]string, 0, len(s.env))
	for k, v := range s.env {
		out = append(out, k+"="+v)
	}
	return out
}

// saveState writes every shell variable the block set, so that the next
// block starts where this one ended (export status included).
const saveState = `
for __v in $(compgen -v); do
  case "$__v" in
    __v|BASH*|COMP*|DIRSTACK|EUID|GROUPS|HIST*|HOSTNAME|HOSTTYPE|IFS|LINENO|MACHTYPE|OPTERR|OPTIND|OSTYPE|PIPESTATUS|PPID|PS4|PWD|OLDPWD|RANDOM|SECONDS|SHELLOPTS|SHLVL|SRANDOM|UID|EPOCH*|FUNCNAME|_) continue ;;
  esac
  declare -p "$__v"
done > "$__state"
`

// run runs a shell block in the clone as a reader pasting it into bash
// would, stopping at the first failing command, and returns its output.
func (s *scenario) run(b block) (string, error) {
	script := fmt.Sprintf("__state=%q\n[ -f \"$__state\" ] && . \"$__state\"\nset -euo pipefail\n%s\n%s", s.state, b.body, saveState)
	ctx, cancel := context.WithTimeout(context.Background(), blockTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Dir, cmd.Env = s.clone, s.environ()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// background starts a block (the worker) and stops it when the test ends.
func (s *scenario) background(b block) *testkit.LogBuffer {
	out := &testkit.LogBuffer{}
	cmd := exec.Command("bash", "-c", fmt.Sprintf("[ -f %q ] && . %q\nexec %s", s.state, s.state, strings.TrimSpace(b.body)))
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = s.clone, s.environ(), out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		s.t.Fatalf("%s: starting %q: %v", b.where(), b.body, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(time.Minute):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if s.t.Failed() {
			s.t.Logf("%s (background) output:\n%s", b.where(), out.String())
		}
	})
	return out
}

// startNATS starts a real nats-server with the guide's server config,
// changing only what a test must: a free loopback port and a temporary
// store. Its include paths resolve against the clone, where the guide
// wrote them.
func (s *scenario) startNATS(b block) {
	s.t.Helper()
	conf := regexp.MustCompile(`(?m)^listen:.*$`).ReplaceAllString(b.body, `listen: "127.0.0.1:-1"`)
	conf = regexp.MustCompile(`store_dir:\s*\S+`).ReplaceAllString(conf, fmt.Sprintf("store_dir: %q", filepath.Join(s.t.TempDir(), "js")))
	path := testkit.WriteFile(s.t, s.clone, "nats-server.conf", conf)
	opts, err := server.ProcessConfigFile(path)
	if err != nil {
		s.t.Fatalf("%s: nats-server refuses the guide's config: %v", b.where(), err)
	}
	opts.NoSigs = true
	srv, err := server.NewServer(opts)
	if err != nil {
		s.t.Fatalf("%s: %v", b.where(), err)
	}
	go srv.Start()
	s.t.Cleanup(srv.Shutdown)
	if !srv.ReadyForConnections(30 * time.Second) {
		s.t.Fatalf("%s: nats-server did not start", b.where())
	}
	s.env["NATS_URL"] = srv.ClientURL()
}

// startCluster starts n real nats-servers routed into one cluster, each
// with the clone's nats-permissions.conf (as onboarding step 4 writes it),
// waits for a JetStream meta leader and returns their client URLs.
func (s *scenario) startCluster(n int) string {
	t := s.t
	t.Helper()
	ports := make([]int, n)
	var routes []string
	for i := range ports {
		ports[i] = testkit.FreePort(t)
		routes = append(routes, fmt.Sprintf("%q", fmt.Sprintf("nats-route://127.0.0.1:%d", ports[i])))
	}
	var servers []*server.Server
	var urls []string
	for i := range n {
		conf := fmt.Sprintf("server_name: n%d\nlisten: \"127.0.0.1:-1\"\njetstream { store_dir: %q }\n"+
			"cluster { name: docs, listen: \"127.0.0.1:%d\", routes: [%s] }\ninclude ./nats-permissions.conf\n",
			i+1, filepath.Join(t.TempDir(), "js"), ports[i], strings.Join(routes, ", "))
		path := filepath.Join(s.clone, fmt.Sprintf("nats-server-%d.conf", i+1))
		writeFile(t, path, []byte(conf), 0o600)
		opts, err := server.ProcessConfigFile(path)
		if err != nil {
			t.Fatalf("cluster server %d refuses its config: %v", i+1, err)
		}
		opts.NoSigs, opts.NoLog = true, true
		srv, err := server.NewServer(opts)
		if err != nil {
			t.Fatal(err)
		}
		srv.Start()
		t.Cleanup(func() { srv.Shutdown(); srv.WaitForShutdown() })
		servers = append(servers, srv)
	}
	for _, srv := range servers {
		if !srv.ReadyForConnections(30 * time.Second) {
			t.Fatalf("cluster server %s not ready", srv.Name())
		}
		urls = append(urls, srv.ClientURL())
	}
	deadline := time.Now().Add(time.Minute)
	for !slices.ContainsFunc(servers, (*server.Server).JetStreamIsLeader) {
		if time.Now().After(deadline) {
			t.Fatal("the cluster elected no JetStream meta leader")
		}
		time.Sleep(25 * time.Millisecond) // polling an external system's state: no event to wait on
	}
	return strings.Join(urls, ",")
}

// note records a gap between a guide and the code; see finish.
func (s *scenario) note(format string, args ...any) {
	s.notes = append(s.notes, fmt.Sprintf(format, args...))
}

// startVault starts a Vault dev server for the guide and gives its
// commands VAULT_ADDR and VAULT_TOKEN, as a reader logged in to Vault.
func (s *scenario) startVault() {
	s.t.Helper()
	v := vaulttest.Start(s.t)
	s.env["VAULT_ADDR"], s.env["VAULT_TOKEN"] = v.Addr, v.Token
}

// finish fails a guide that ran to its end with gaps named by note: the
// guide and the code must agree (the notes say which side to mend).
func (s *scenario) finish() {
	if len(s.notes) > 0 {
		s.t.Errorf("the guide ran, but the docs and the code disagree:\n- %s", strings.Join(s.notes, "\n- "))
	}
}
