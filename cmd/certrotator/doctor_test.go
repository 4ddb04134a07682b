package main

import (
	"cmp"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// The second tenant lives in its own emulator, whose Graph answers 403 as
// Graph does for an app without APIConnectors.ReadWrite.All or consent.
const (
	deniedTenantID = "00000000-0000-4000-8000-0000000000d3"
	deniedClientID = "11111111-1111-4111-8111-1111111111d3"
	deniedSecret   = "doctor-denied-client-secret"
	deniedConn     = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000d3"
	missingConn    = "7b3a0c1e-aaaa-4bbb-8ccc-0000000000f4" // in no tenant
)

// doctorPolicy is what the worker's token needs for the test's paths.
const doctorPolicy = `
path "secret/data/b2c/*" { capabilities = ["read"] }
path "secret/metadata/b2c/*" { capabilities = ["read"] }
`

// doctorSetup is the real parts a doctor test points at.
type doctorSetup struct {
	vault  *vaulttest.Server
	token  string // limited to doctorPolicy
	nats   *server.Server
	conn   string // a connector of the shared emulator
	denied *graphsim.Server
	dir    string
}

func newDoctorSetup(t *testing.T) *doctorSetup {
	t.Helper()
	s := &doctorSetup{vault: vaulttest.Start(t), nats: testkit.NATS(t, ""), conn: freshConn(t), dir: t.TempDir()}
	now := time.Now()
	s.vault.PutBundle(t, "secret", "b2c/doctor", testPFX(t, now.Add(-time.Hour), now.AddDate(0, 3, 0), "pw"), "pw")
	s.token = s.vault.TokenWithPolicy(t, "certrotator-doctor", doctorPolicy)
	s.denied = graphsim.NewTest(t).AddTenant(deniedTenantID, deniedClientID, deniedSecret).
		AddConnector(deniedTenantID, deniedConn, "denied connector").Start()
	return s
}

// doctorCase is what differs between the setups doctor is run against.
type doctorCase struct {
	token      string // the worker's Vault token
	conns      []string
	withDenied bool   // add the tenant whose Graph answers 403
	unbound    bool   // with withDenied: bind none of its connectors
	natsExtra  string // appended to the nats section, e.g. credentials
	path       string // the job's KV path; b2c/doctor when empty
	vaultAddr  string // the setup's Vault when empty
	secret     string // contoso's client secret; testSecret when empty
}

// config writes the config of c and returns its path.
func (s *doctorSetup) config(t *testing.T, c doctorCase) string {
	t.Helper()
	dir := t.TempDir()
	token := testkit.WriteFile(t, dir, "token", c.token)
	sec := testkit.WriteFile(t, dir, "secret", cmp.Or(c.secret, testSecret))
	var b strings.Builder
	b.WriteString(contosoConfigHead("doctor-test", cmp.Or(c.vaultAddr, s.vault.Addr), token, sec))
	conns := connectorLines("contoso", c.conns...)
	if c.withDenied {
		ca := testkit.WriteFile(t, dir, "denied-ca.pem", string(s.denied.CACertPEM()))
		dsec := testkit.WriteFile(t, dir, "denied-secret", deniedSecret)
		fmt.Fprintf(&b, `  fabrikam:
    tenant_id: %s
    client_id: %s
    client_secret_file: %s
    authority_url: %s
    graph_url: %s
    ca_file: %s
`, deniedTenantID, deniedClientID, dsec, s.denied.URL(), s.denied.URL(), ca)
		if !c.unbound {
			conns += connectorLines("fabrikam", deniedConn)
		}
	}
	fmt.Fprintf(&b, `jobs:
  - name: doctor-job
    source: {path: %s}
    connectors:
%snats: {url: %s%s}
http: {listen: "off"}
`, cmp.Or(c.path, "b2c/doctor"), conns, s.nats.ClientURL(), c.natsExtra)
	return testkit.WriteFile(t, dir, "config.yaml", b.String())
}

// provision runs the worker with the config until it has started, so that
// the streams, consumer and buckets are the ones it makes.
func provision(t *testing.T, path string) {
	t.Helper()
	startServing(t, path)()
}

// doctorLines runs doctor --json and returns its exit code and findings.
func doctorLines(t *testing.T, args ...string) (int, []finding, string) {
	t.Helper()
	return runJSONLines[finding](t, append([]string{"doctor", "--json", "--timeout", "10s"}, args...)...)
}

// find returns the first finding of area whose check contains check.
func find(ff []finding, area, check string) (finding, bool) {
	for _, f := range ff {
		if f.Area == area && strings.Contains(f.Check, check) {
			return f, true
		}
	}
	return finding{}, false
}

func dump(ff []finding) string {
	var b strings.Builder
	for _, f := range ff {
		fmt.Fprintf(&b, "%s %s %s: %s | %s\n", f.Verdict, f.Area, f.Check, f.Detail, f.Fix)
	}
	return b.String()
}

func TestDoctorHealthy(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	path := s.config(t, doctorCase{token: s.token, conns: []string{s.conn}})
	provision(t, path)

	code, ff, errOut := doctorLines(t, "-c", path, "--read-bundles")
	if code != exitOK {
		t.Fatalf("doctor on a healthy setup: exit %d, stderr %q\n%s", code, errOut, dump(ff))
	}
	for _, want := range []struct{ area, check string }{
		{"config", path}, {"vault", "reachable"}, {"vault", "token"}, {"vault", "b2c/doctor"},
		{"graph", "contoso token"}, {"nats", "reachable"}, {"nats", "credentials"},
		{"nats", "stream " + contract.RequestsStream}, {"nats", "stream " + contract.ResultsStream},
		{"nats", "stream " + contract.AdvisoriesStream}, {"nats", "consumer " + contract.RequestsStream},
		{"nats", "bucket " + contract.StatusBucket}, {"nats", "bucket " + contract.LocksBucket},
		{"nats", "bucket " + contract.WarningsBucket}, {"nats", "bucket " + contract.OutcomesBucket},
		{"nats", "bucket " + contract.BudgetBucket}, // every bucket the worker provisions (contract.Buckets)
		{"nats", "publish certrotation.request."}, {"nats", "publish certrotation.result."},
	} {
		f, ok := find(ff, want.area, want.check)
		if !ok || f.Verdict != verdictOK {
			t.Errorf("%s %q: %+v (found %v), want ok\n%s", want.area, want.check, f, ok, dump(ff))
		}
	}
	// A connector that never held a certificate uses basic auth: a warning,
	// which does not fail the run.
	if f, _ := find(ff, "graph", s.conn); f.Verdict != verdictWarn || !strings.Contains(f.Fix, "basic auth") {
		t.Errorf("connector without certificates: %+v, want a warning about basic auth", f)
	}
	// --read-bundles judged the bundle itself.
	if f, _ := find(ff, "vault", "b2c/doctor"); !strings.Contains(f.Detail, "thumbprint") {
		t.Errorf("--read-bundles: %+v, want the bundle's thumbprint", f)
	}
	// The probes wrote nothing: no request reached the work queue.
	nc := testkit.Connect(t, s.nats)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), testkit.WaitTimeout)
	defer cancel()
	st, err := js.Stream(ctx, contract.RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	if n := st.CachedInfo().State.Msgs; n != 0 {
		t.Errorf("the requests stream holds %d messages after doctor, want 0", n)
	}
}

func TestDoctorBroken(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	healthy := s.config(t, doctorCase{token: s.token, conns: []string{s.conn}})
	provision(t, healthy)
	// A stream deleted after the worker made it.
	nc := testkit.Connect(t, s.nats)
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), testkit.WaitTimeout)
	defer cancel()
	if err := js.DeleteStream(ctx, contract.ResultsStream); err != nil {
		t.Fatal(err)
	}
	s.denied.FailNext(1000, graphsim.Fault{Status: 403})

	broken := s.config(t, doctorCase{token: "hvs.not-a-valid-token", conns: []string{s.conn, missingConn}, withDenied: true})
	code, ff, _ := doctorLines(t, "-c", broken)
	if code != exitFailed {
		t.Errorf("doctor on a broken setup: exit %d, want %d\n%s", code, exitFailed, dump(ff))
	}
	checks := []struct {
		area, check, verdict string
		says                 []string // in detail or fix
	}{
		{"vault", "reachable", verdictOK, nil},
		{"vault", "token", verdictFail, []string{"403", "valid token"}},
		{"graph", "contoso token", verdictOK, nil},
		{"graph", s.conn, verdictWarn, []string{"basic auth"}},
		{"graph", missingConn, verdictFail, []string{"no API connector " + missingConn, "connector id"}},
		{"graph", "fabrikam token", verdictOK, nil},
		{"graph", deniedConn, verdictFail, []string{"403", "APIConnectors.ReadWrite.All", "admin consent", deniedClientID}},
		{"nats", "stream " + contract.ResultsStream, verdictFail, []string{"missing", "setup.sh"}},
		{"nats", "stream " + contract.RequestsStream, verdictOK, nil},
	}
	for _, c := range checks {
		f, ok := find(ff, c.area, c.check)
		if !ok || f.Verdict != c.verdict {
			t.Errorf("%s %q: %+v (found %v), want %s\n%s", c.area, c.check, f, ok, c.verdict, dump(ff))
			continue
		}
		for _, w := range c.says {
			if !strings.Contains(f.Detail+" "+f.Fix, w) {
				t.Errorf("%s %q does not say %q: %+v", c.area, c.check, w, f)
			}
		}
	}
	// A Vault that refuses the token gets no path checks, which would only
	// repeat the refusal.
	if f, ok := find(ff, "vault", "b2c/doctor"); ok {
		t.Errorf("path checked with a refused token: %+v", f)
	}
	for _, f := range ff {
		if strings.Contains(f.Detail+f.Fix, deniedSecret) || strings.Contains(f.Detail+f.Fix, testSecret) {
			t.Errorf("a finding holds a client secret: %+v", f)
		}
	}
}

func TestDoctorText(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	// Nothing provisioned: every stream and bucket is missing.
	path := s.config(t, doctorCase{token: s.token, conns: []string{s.conn}})
	code, out, _ := runCLI(t, nil, "doctor", "-c", path, "--timeout", "10s")
	if code != exitFailed {
		t.Errorf("exit %d, want %d\n%s", code, exitFailed, out)
	}
	for _, want := range []string{
		"ok    vault  reachable at " + s.vault.Addr,
		"FAIL  nats   stream " + contract.RequestsStream + ": missing\n              fix: run deploy/nats/setup.sh",
		"FAIL  nats   bucket " + contract.LocksBucket + ": missing",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestDoctorUsage(t *testing.T) {
	t.Parallel()
	if code, _, errOut := runCLI(t, nil, "doctor"); code != exitUsage || !strings.Contains(errOut, "-c FILE") {
		t.Errorf("without -c: exit %d stderr %q", code, errOut)
	}
	if code, _, _ := runCLI(t, nil, "doctor", "-c", "x.yaml", "extra"); code != exitUsage {
		t.Errorf("with an argument: exit %d", code)
	}
	bad := testkit.WriteFile(t, t.TempDir(), "bad.yaml", "jobs:\n  - name: bad name\n")
	code, out, errOut := runCLI(t, nil, "doctor", "-c", bad)
	if code != exitUsage || !strings.Contains(out, "FAIL  config") || !strings.Contains(errOut, "jobs[0].name") {
		t.Errorf("invalid config: exit %d out %q err %q", code, out, errOut)
	}
}

// natsWithUsers starts a JetStream server with an admin user and a worker
// user denied what deny lists.
func natsWithUsers(t *testing.T, deny ...string) *server.Server {
	t.Helper()
	return testkit.NATSWith(t, func(o *server.Options) {
		o.Users = []*server.User{
			{Username: "admin", Password: "admin-pass"},
			{Username: "worker", Password: "worker-pass", Permissions: &server.Permissions{
				Publish: &server.SubjectPermission{Allow: []string{">"}, Deny: deny},
			}},
		}
	})
}

func TestDoctorNATSPermissions(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	const (
		lockWrite  = "$KV." + contract.LocksBucket + ".>"
		advisories = "$JS.API.STREAM.INFO." + contract.AdvisoriesStream
	)
	s.nats = natsWithUsers(t, lockWrite, advisories)
	provision(t, s.config(t, doctorCase{token: s.token, conns: []string{s.conn}, natsExtra: ", user: admin, password: admin-pass"}))

	path := s.config(t, doctorCase{token: s.token, conns: []string{s.conn}, natsExtra: ", user: worker, password: worker-pass"})
	code, ff, _ := doctorLines(t, "-c", path, "--timeout", "5s")
	if code != exitFailed {
		t.Errorf("exit %d, want %d\n%s", code, exitFailed, dump(ff))
	}
	for _, c := range []struct{ check, verdict, says string }{
		{"credentials", verdictOK, "user worker"},
		{"bucket " + contract.LocksBucket, verdictFail, `Publish to "$KV.` + contract.LocksBucket + "."},
		{"stream " + contract.AdvisoriesStream, verdictFail, `Publish to "` + advisories + `"`},
		{"bucket " + contract.StatusBucket, verdictOK, "writable"},
		{"stream " + contract.RequestsStream, verdictOK, ""},
	} {
		f, ok := find(ff, "nats", c.check)
		if !ok || f.Verdict != c.verdict || !strings.Contains(f.Detail, c.says) {
			t.Errorf("nats %q: %+v (found %v), want %s saying %q\n%s", c.check, f, ok, c.verdict, c.says, dump(ff))
		}
	}
	if f, _ := find(ff, "nats", "bucket "+contract.LocksBucket); !strings.Contains(f.Fix, "nats-permissions.conf") {
		t.Errorf("a denied write does not point at the permissions file: %+v", f)
	}

	wrong := s.config(t, doctorCase{token: s.token, conns: []string{s.conn}, natsExtra: ", user: worker, password: not-the-password"})
	code, ff, _ = doctorLines(t, "-c", wrong)
	f, _ := find(ff, "nats", "credentials")
	if code != exitFailed || f.Verdict != verdictFail || !strings.Contains(strings.ToLower(f.Detail), "authorization") || strings.Contains(f.Detail+f.Fix, "not-the-password") {
		t.Errorf("wrong NATS password: exit %d, %+v", code, f)
	}
	if f, _ := find(ff, "nats", "reachable"); f.Verdict != verdictOK {
		t.Errorf("wrong NATS password: reachable %+v, want ok", f)
	}
}

func TestDoctorVault(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	now := time.Now()
	s.vault.PutBundle(t, "secret", "b2c/short", testPFX(t, now.Add(-time.Hour), now.Add(24*time.Hour), "pw"), "pw")
	metaOnly := s.vault.TokenWithPolicy(t, "metadata-only", `path "secret/metadata/b2c/*" { capabilities = ["read"] }`)
	for _, c := range []struct {
		name  string
		dc    doctorCase
		args  []string
		check string // of area vault
		says  []string
	}{
		{"unreachable", doctorCase{token: s.token, vaultAddr: "http://127.0.0.1:1"}, nil,
			"reachable", []string{"unreachable", "vault.address"}},
		{"never written", doctorCase{token: s.token, path: "b2c/none"}, nil,
			"b2c/none", []string{"no bundle written", "vault kv put -mount=secret b2c/none"}},
		{"metadata only", doctorCase{token: metaOnly}, nil,
			"b2c/doctor", []string{"may read the metadata but not the bundle", "allow read on secret/data/b2c/doctor"}},
		{"bundle rejected", doctorCase{token: s.token, path: "b2c/short"}, []string{"--read-bundles"},
			"b2c/short", []string{"rejected", "bundle_short_validity", "certrotator inspect"}},
	} {
		c.dc.conns = []string{s.conn}
		path := s.config(t, c.dc)
		code, ff, _ := doctorLines(t, append([]string{"-c", path}, c.args...)...)
		f, ok := find(ff, "vault", c.check)
		if code != exitFailed || !ok || f.Verdict != verdictFail {
			t.Errorf("%s: exit %d, %+v (found %v), want FAIL\n%s", c.name, code, f, ok, dump(ff))
			continue
		}
		for _, w := range c.says {
			if !strings.Contains(f.Detail+" "+f.Fix, w) {
				t.Errorf("%s: %+v does not say %q", c.name, f, w)
			}
		}
	}
}

func TestDoctorGraphToken(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	path := s.config(t, doctorCase{token: s.token, conns: []string{s.conn}, secret: "not-the-client-secret"})
	code, ff, _ := doctorLines(t, "-c", path)
	f, ok := find(ff, "graph", "contoso token")
	if code != exitFailed || !ok || f.Verdict != verdictFail || !strings.Contains(f.Fix, "client secret") {
		t.Errorf("wrong client secret: exit %d, %+v (found %v), want FAIL naming the client secret\n%s", code, f, ok, dump(ff))
	}
	if strings.Contains(f.Detail+f.Fix, "not-the-client-secret") {
		t.Errorf("the finding holds the secret: %+v", f)
	}
	// No token, so the connector was not read.
	if f, ok := find(ff, "graph", s.conn); ok {
		t.Errorf("connector checked without a token: %+v", f)
	}
}

func TestDoctorUnboundTenant(t *testing.T) {
	t.Parallel()
	s := newDoctorSetup(t)
	path := s.config(t, doctorCase{token: s.token, conns: []string{s.conn}, withDenied: true, unbound: true})
	_, ff, _ := doctorLines(t, "-c", path)
	for _, c := range []struct{ check, verdict string }{
		{"tenant fabrikam", verdictWarn}, {"fabrikam token", verdictOK}, {"fabrikam permission", verdictOK},
	} {
		if f, ok := find(ff, "graph", c.check); !ok || f.Verdict != c.verdict {
			t.Errorf("%q: %+v (found %v), want %s\n%s", c.check, f, ok, c.verdict, dump(ff))
		}
	}
	s.denied.FailNext(1000, graphsim.Fault{Status: 403})
	code, ff, _ := doctorLines(t, "-c", path)
	f, ok := find(ff, "graph", "fabrikam permission")
	if code != exitFailed || !ok || f.Verdict != verdictFail || !strings.Contains(f.Fix, "APIConnectors.ReadWrite.All") {
		t.Errorf("a tenant without permission: exit %d, %+v (found %v), want FAIL naming the permission\n%s", code, f, ok, dump(ff))
	}
}
