package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestValidateRefusesWhatRunRefuses feeds configs that load but cannot run
// to `validate` and to `run`: both refuse, with the same message.
func TestValidateRefusesWhatRunRefuses(t *testing.T) {
	t.Parallel()
	base := `
nats: {store_dir: %DIR%/nats}
vault: {address: "http://127.0.0.1:1", auth: {method: token, token: t}%VAULT%}
tenants:
  demo:
    tenant_id: ` + testTenantID + `
    client_id: ` + testClientID + `
    client_secret: s
%TENANT%
jobs:
  - name: api
    source: {path: b2c/api}
    connectors: [{tenant: demo, id: ` + testConnA + `}]
http: {listen: "off"}
`
	for _, tt := range []struct {
		name, tenant, vault, want string
	}{
		{"plain http authority", "    authority_url: http://login.example", "", "authority_url"},
		{"plain http graph", "    graph_url: http://graph.example", "", "graph_url"},
		{"vault CA file missing", "", ", ca_cert: %DIR%/no-such-ca.pem", "no-such-ca.pem"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			body := strings.NewReplacer("%TENANT%", tt.tenant, "%VAULT%", tt.vault).Replace(base)
			body = strings.ReplaceAll(body, "%DIR%", dir)
			path := testkit.WriteFile(t, dir, "c.yaml", body)

			code, _, verr := runCLI(t, nil, "validate", "-c", path)
			if code != exitUsage || !strings.Contains(verr, tt.want) {
				t.Fatalf("validate = %d %q, want exit 2 naming %s", code, verr, tt.want)
			}
			msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(verr), path+": "))

			code, _, rerr := runCLI(t, nil, "run", "-c", path)
			if code != exitFailed {
				t.Fatalf("run = %d, want exit 1; stderr %s", code, rerr)
			}
			var line struct{ Error string }
			for l := range strings.Lines(rerr) {
				if json.Unmarshal([]byte(l), &line) == nil && line.Error != "" {
					break
				}
			}
			if line.Error != msg {
				t.Errorf("run said %q\nvalidate said %q", line.Error, msg)
			}
		})
	}
}
