package config

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// env is a lookup over a fixed set of variables.
func env(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := vars[k]
		return v, ok
	}
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	data, err := readTestdataFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func readTestdataFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join("testdata", name))
}

// mustParse parses data and fails the test on any problem.
func mustParse(t *testing.T, data string, vars map[string]string) *Config {
	t.Helper()
	c, err := Parse([]byte(data), env(vars))
	if err != nil {
		t.Fatalf("Parse: %s", err.Error())
	}
	return c
}

// problems parses data and returns its problems, failing when it parses.
func problems(t *testing.T, data string, vars map[string]string) []Problem {
	t.Helper()
	_, err := Parse([]byte(data), env(vars))
	ve, ok := errors.AsType[*ValidationError](err)
	if !ok {
		t.Fatalf("Parse error = %v, want a *ValidationError", err)
	}
	return ve.Problems
}

var exampleEnv = map[string]string{
	"VAULT_ADDR":          "https://vault.example:8200",
	"VAULT_TOKEN":         "hvs.example-token",
	"GRAPH_CLIENT_SECRET": "graph-client-secret",
}

func TestParseExample(t *testing.T) {
	t.Parallel()
	c, err := Parse(readTestdata(t, "example.yaml"), env(exampleEnv))
	if err != nil {
		t.Fatalf("Parse: %s", err.Error())
	}
	want := &Config{
		Instance: "rotator-1",
		NATS:     NATS{StoreDir: "./data/nats", SubjectPrefix: "certrotation", Replicas: 1},
		Vault: Vault{
			Address: "https://vault.example:8200",
			Auth:    VaultAuth{Method: "token", Token: "hvs.example-token", MountPath: "token"},
		},
		Tenants: map[string]Tenant{"contoso": {
			TenantID:     "00000000-0000-0000-0000-000000000000",
			Cloud:        "global",
			ClientID:     "11111111-1111-1111-1111-111111111111",
			ClientSecret: "graph-client-secret",
			RateLimit:    graphRateLimit,
		}},
		Jobs: []jobs.Job{{
			Name:        "contoso-api",
			Source:      jobs.SourceRef{Mount: "secret", Path: "b2c/contoso-api", PFXField: "pfx", PasswordField: "password"},
			Schedule:    "0 */6 * * *",
			Policy:      jobs.PolicyOnChange,
			RenewBefore: jobs.RenewBefore{Duration: 720 * time.Hour},
			MinValidity: 168 * time.Hour,
			WarnBefore:  []time.Duration{720 * time.Hour, 336 * time.Hour, 168 * time.Hour, 24 * time.Hour},
			MaxAttempts: 8,
			Reencode:    true,
			Connectors:  []jobs.ConnectorRef{{Tenant: "contoso", ID: "7b3a0c1e-aaaa-bbbb-cccc-000000000001"}},
		}},
		HTTP:        HTTP{Listen: "127.0.0.1:9090"},
		Log:         Log{Level: "info", Format: "json"},
		Concurrency: 256,
	}
	// The parsed schedule is checked by what it does, not by its type.
	next := c.Jobs[0].Next
	if next == nil || !next.Next(time.Date(2026, 11, 25, 1, 0, 0, 0, time.UTC)).Equal(time.Date(2026, 11, 25, 6, 0, 0, 0, time.UTC)) {
		t.Errorf("schedule not parsed into Next: %v", next)
	}
	c.Jobs[0].Next = nil
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse(example.yaml) =\n%+v\nwant\n%+v", c, want)
	}
	if j, ok := c.Job("contoso-api"); !ok || j.Name != "contoso-api" {
		t.Errorf("Job(contoso-api) = %v, %v", j.Name, ok)
	}
}

const minimal = `
vault:
  address: http://127.0.0.1:8200
  auth: {token: root}
tenants:
  fabrikam: {tenant_id: 00000000-0000-0000-0000-000000000000, client_id: 11111111-1111-1111-1111-111111111111, workload_identity: true}
jobs:
  - name: fabrikam-api
    source: {path: b2c/fabrikam}
    connectors: [{tenant: fabrikam, id: 7B3A0C1E-AAAA-BBBB-CCCC-000000000001}]
`

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, minimal, nil)
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	want := &Config{
		Instance: host,
		NATS:     NATS{StoreDir: StoreDirDefault, SubjectPrefix: SubjectPrefixDefault, Replicas: ReplicasDefault},
		Vault:    Vault{Address: "http://127.0.0.1:8200", Auth: VaultAuth{Method: AuthToken, Token: "root", MountPath: "token"}},
		Tenants: map[string]Tenant{"fabrikam": {
			TenantID: "00000000-0000-0000-0000-000000000000", Cloud: CloudGlobal,
			ClientID: "11111111-1111-1111-1111-111111111111", WorkloadIdentity: true,
			RateLimit: graphRateLimit,
		}},
		Jobs: []jobs.Job{{
			Name:        "fabrikam-api",
			Source:      jobs.SourceRef{Mount: "secret", Path: "b2c/fabrikam", PFXField: "pfx", PasswordField: "password"},
			Policy:      jobs.PolicyOnChange,
			RenewBefore: jobs.RenewBefore{Duration: jobs.RenewBeforeDefault},
			MinValidity: jobs.MinValidityDefault,
			WarnBefore:  jobs.WarnBeforeDefault(),
			MaxAttempts: jobs.MaxAttemptsDefault,
			Reencode:    true,
			// Lower-cased: one spelling for subjects and status keys.
			Connectors: []jobs.ConnectorRef{{Tenant: "fabrikam", ID: "7b3a0c1e-aaaa-bbbb-cccc-000000000001"}},
		}},
		HTTP:        HTTP{Listen: "127.0.0.1:9090"},
		Log:         Log{Level: "info", Format: "json"},
		Concurrency: 256,
	}
	if !reflect.DeepEqual(c, want) {
		t.Errorf("Parse(minimal) =\n%+v\nwant\n%+v", c, want)
	}
}

func TestParseEmptyFileHasDefaults(t *testing.T) {
	t.Parallel()
	c := mustParse(t, "", nil)
	if c.Instance == "" || c.NATS.StoreDir != StoreDirDefault || c.HTTP.Listen != HTTPListenDefault || len(c.Jobs) != 0 {
		t.Errorf("Parse(\"\") = %+v, want defaults and no jobs", c)
	}
}

func TestParseVaultAuthMethods(t *testing.T) {
	t.Parallel()
	secretID := testkit.WriteFile(t, t.TempDir(), "secret-id", "s-1\n")
	tests := []struct {
		auth string
		want VaultAuth
	}{
		{"{method: approle, role_id: r1, secret_id_file: " + secretID + "}",
			VaultAuth{Method: "approle", RoleID: "r1", SecretIDFile: secretID, MountPath: "approle"}},
		{"{method: approle, role_id: r1, secret_id_file: " + secretID + ", mount_path: approle-b2c}",
			VaultAuth{Method: "approle", RoleID: "r1", SecretIDFile: secretID, MountPath: "approle-b2c"}},
		{"{method: kubernetes, role: certrotator}",
			VaultAuth{Method: "kubernetes", Role: "certrotator", JWTFile: JWTFileDefault, MountPath: "kubernetes"}},
		{"{method: kubernetes, role: r, jwt_file: /var/jwt, mount_path: k8s-prod}",
			VaultAuth{Method: "kubernetes", Role: "r", JWTFile: "/var/jwt", MountPath: "k8s-prod"}},
	}
	for _, tt := range tests {
		t.Run(tt.auth, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, strings.Replace(minimal, "{token: root}", tt.auth, 1), nil)
			if c.Vault.Auth != tt.want {
				t.Errorf("vault.auth = %+v, want %+v", c.Vault.Auth, tt.want)
			}
		})
	}
}

func TestParseReencodeAbsentIsTrue(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		line string
		want bool
	}{{"", true}, {"    reencode: false\n", false}, {"    reencode: true\n", true}, {"    reencode: ~\n", true}} {
		c := mustParse(t, strings.Replace(minimal, "    source:", tt.line+"    source:", 1), nil)
		if c.Jobs[0].Reencode != tt.want {
			t.Errorf("with %q: Reencode = %v, want %v", tt.line, c.Jobs[0].Reencode, tt.want)
		}
	}
}

func TestParseWarnBeforeEmptyListMeansNone(t *testing.T) {
	t.Parallel()
	c := mustParse(t, strings.Replace(minimal, "    source:", "    warn_before: []\n    source:", 1), nil)
	if w := c.Jobs[0].WarnBefore; w == nil || len(w) != 0 {
		t.Errorf("WarnBefore = %#v, want an empty non-nil slice", w)
	}
}

func TestParseAliasesAndMergeKeys(t *testing.T) {
	t.Parallel()
	data := minimal + `
  - &base
    name: second
    source: {path: b2c/second}
    policy: before-expiry
    connectors: [{tenant: fabrikam, id: 7b3a0c1e-aaaa-bbbb-cccc-000000000002}]
  - <<: *base
    name: third
    connectors: [{tenant: fabrikam, id: 7b3a0c1e-aaaa-bbbb-cccc-000000000003}]
`
	c := mustParse(t, data, nil)
	j, ok := c.Job("third")
	if !ok || j.Policy != jobs.PolicyBeforeExpiry || j.Source.Path != "b2c/second" || j.Connectors[0].ID != "7b3a0c1e-aaaa-bbbb-cccc-000000000003" {
		t.Errorf("job third = %+v (found %v), want the merged policy and source with its own connector", j, ok)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	path := testkit.WriteFile(t, t.TempDir(), "certrotator.yaml", minimal)
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load: %s", err.Error())
	}
	if c.Path != path || len(c.Jobs) != 1 {
		t.Errorf("Load = Path %q, %d jobs; want %q, 1", c.Path, len(c.Jobs), path)
	}
}

func TestLoadProblemsNameTheFile(t *testing.T) {
	t.Parallel()
	path := testkit.WriteFile(t, t.TempDir(), "bad.yaml", "concurrency: 0\n")
	_, err := Load(path)
	ve, ok := errors.AsType[*ValidationError](err)
	if !ok || ve.Path != path {
		t.Fatalf("Load error = %v, want a *ValidationError for %s", err, path)
	}
	want := path + ": 1 problem(s)\n  line 1: concurrency: must be 1 to 1024, got 0"
	if err.Error() != want {
		t.Errorf("Error() = %q, want %q", err.Error(), want)
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "absent.yaml")
	_, err := Load(path)
	if !errors.Is(err, fs.ErrNotExist) || !strings.HasPrefix(err.Error(), "reading config "+path+": ") {
		t.Errorf("Load(absent) = %v, want a wrapped fs.ErrNotExist", err)
	}
	if _, ok := errors.AsType[*ValidationError](err); ok {
		t.Error("Load(absent) returned a *ValidationError, want a plain error")
	}
}
