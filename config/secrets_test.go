package config

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

func TestParseReadsSecretFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	testkit.WriteFile(t, dir, "graph-secret", "graph-secret-value\n")
	testkit.WriteFile(t, dir, "vault-token", "hvs.file-token\r\n")
	data := edit(t, "token: root", "token_file: ${SECRETS}/vault-token")
	data = strings.Replace(data, "client_secret: s3cr3t", "client_secret_file: ${SECRETS}/graph-secret", 1)
	c := mustParse(t, data, map[string]string{"SECRETS": dir})
	if a := c.Vault.Auth; a.Token != "hvs.file-token" || a.TokenFile != filepath.Join(dir, "vault-token") {
		t.Errorf("vault.auth Token %q TokenFile %q, want the file's content without newline and its path", a.Token, a.TokenFile)
	}
	tn := c.Tenants["contoso"]
	if tn.ClientSecret != "graph-secret-value" || tn.ClientSecretFile != filepath.Join(dir, "graph-secret") {
		t.Errorf("tenant ClientSecret %q ClientSecretFile %q, want the file's content and its path", tn.ClientSecret, tn.ClientSecretFile)
	}
}

func TestParseSecretFileProblems(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	empty := testkit.WriteFile(t, dir, "empty", "\n")
	missing := filepath.Join(dir, "missing")
	tests := []struct {
		name, file, key, message string
		line                     int
	}{
		{"missing", missing, "tenants.contoso.client_secret_file", `reading "` + missing + `": no such file or directory`, 15},
		{"directory", dir, "tenants.contoso.client_secret_file", `reading "` + dir + `": is a directory`, 15},
		{"empty", empty, "tenants.contoso.client_secret_file", `"` + empty + `" is empty`, 15},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, edit(t, "client_secret: s3cr3t", "client_secret_file: "+tt.file), nil)
			want := Problem{Line: tt.line, Key: tt.key, Message: tt.message}
			if len(got) != 1 || got[0] != want {
				t.Errorf("problems = %+v, want [%+v]", got, want)
			}
		})
	}
	got := problems(t, edit(t, "token: root", "token_file: "+missing), nil)
	want := Problem{Line: 9, Key: "vault.auth.token_file", Message: `reading "` + missing + `": no such file or directory`}
	if len(got) != 1 || got[0] != want {
		t.Errorf("token_file problems = %+v, want [%+v]", got, want)
	}
}

// TestProblemsNeverEchoSecrets puts secret values where they cause
// problems and checks that no message holds them.
func TestProblemsNeverEchoSecrets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	data := `
nats:
  url: nats://user:hunter2-url@nats.example:42x22
  password: [hunter2-nats]
vault:
  address: https://vault-user:hunter2-vault@vault example
  auth: {method: token, token: {value: hunter2-token}}
tenants:
  contoso:
    tenant_id: 00000000-0000-0000-0000-000000000000
    client_id: 11111111-1111-1111-1111-111111111111
    client_secret: ${GRAPH_SECRET}
    client_secret_file: ` + testkit.WriteFile(t, dir, "secret", "hunter2-file\n") + `
    client_secrt: hunter2-typo
    secret: hunter2-unknown
  other:
    tenant_id: 00000000-0000-0000-0000-000000000000
    client_id: 11111111-1111-1111-1111-111111111111
    client_secret: ${UNSET_SECRET:-hunter2-default}
    workload_identity: true
jobs:
  - name: j
    source: {path: p, password: hunter2-source}
    connectors: [{tenant: contoso, id: 7b3a0c1e-aaaa-bbbb-cccc-000000000001, password: hunter2-conn}]
`
	got := problems(t, data, map[string]string{"GRAPH_SECRET": "hunter2-env"})
	if len(got) < 8 {
		t.Fatalf("only %d problems, want the secrets to cause at least 8:\n%s", len(got), joinProblems(got))
	}
	for _, p := range got {
		if strings.Contains(p.String(), "hunter2") {
			t.Errorf("problem echoes a secret: %s", p.String())
		}
	}
}

func TestShownHidesSensitiveKeys(t *testing.T) {
	t.Parallel()
	for key, hidden := range map[string]bool{
		"nats.password": true, "vault.auth.token": true, "tenants.a.client_secret": true,
		"jobs[0].x_token": true, "vault.auth.token_file": false, "jobs[0].source.password_field": false,
		"vault.address": false, "jobs[0].policy": false,
	} {
		if got := shown(key, "v") != `"v"`; got != hidden {
			t.Errorf("shown(%q) hides = %v, want %v", key, got, hidden)
		}
	}
}

// The secrets that their users read at each use (the NATS credentials, the
// AppRole secret id) are checked too, so that validate names a missing one
// before a start does.
func TestParseChecksCredentialFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missing := filepath.Join(dir, "missing")
	empty := testkit.WriteFile(t, dir, "empty", "")
	good := testkit.WriteFile(t, dir, "good", "x\n")
	tests := []struct {
		name, data, key, message string
	}{
		{"creds_file", strings.Replace(minimal, "vault:", "nats:\n  url: nats://n:4222\n  creds_file: "+missing+"\nvault:", 1),
			"nats.creds_file", `reading "` + missing + `": no such file or directory`},
		{"nkey_file", strings.Replace(minimal, "vault:", "nats:\n  url: nats://n:4222\n  nkey_file: "+empty+"\nvault:", 1),
			"nats.nkey_file", `"` + empty + `" is empty`},
		{"secret_id_file", strings.Replace(minimal, "{token: root}", "{method: approle, role_id: r, secret_id_file: "+missing+"}", 1),
			"vault.auth.secret_id_file", `reading "` + missing + `": no such file or directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, tt.data, nil)
			if len(got) != 1 || got[0].Key != tt.key || got[0].Message != tt.message {
				t.Errorf("problems = %+v, want one for %s: %s", got, tt.key, tt.message)
			}
		})
	}
	ok := strings.Replace(minimal, "vault:", "nats:\n  url: nats://n:4222\n  creds_file: "+good+"\nvault:", 1)
	if c := mustParse(t, ok, nil); c.NATS.CredsFile != good {
		t.Errorf("creds_file = %q", c.NATS.CredsFile)
	}
}
