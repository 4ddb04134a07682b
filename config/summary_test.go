package config

import (
	"log/slog"
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	t.Parallel()
	c, err := Parse(readTestdata(t, "example.yaml"), env(exampleEnv))
	if err != nil {
		t.Fatalf("Parse: %s", err.Error())
	}
	want := `instance: rotator-1
nats: embedded, store ./data/nats, in-process only, subjects certrotation.>
vault: https://vault.example:8200 (auth token)
tenants: 1 (contoso)
jobs: 1
  contoso-api: 1 connector(s), schedule "0 */6 * * *", policy on-change
http: 127.0.0.1:9090
`
	if got := c.Summary(); got != want {
		t.Errorf("Summary() =\n%s\nwant\n%s", got, want)
	}
}

func TestSummaryExternalNATSHidesCredentials(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, `url: ""`, "url: nats://svc:hunter2@nats.example:4222"), nil)
	got := c.Summary()
	if strings.Contains(got, "hunter2") || !strings.Contains(got, "nats: external nats://REDACTED@nats.example:4222, subjects certrotation.>\n") {
		t.Errorf("Summary() =\n%s\nwant the external URL without its password", got)
	}
	if strings.Contains(got, "s3cr3t") || strings.Contains(got, "root") {
		t.Errorf("Summary() holds a secret:\n%s", got)
	}
}

func TestLogValueRedactsSecrets(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, `url: ""`, "url: nats://svc:hunter2-url@nats.example:4222\n  user: svc\n  password: hunter2-nats"), nil)
	c.Vault.Auth.Token = "hunter2-token"
	c.Tenants["contoso"] = Tenant{ClientSecret: "hunter2-graph", ClientID: "11111111-1111-1111-1111-111111111111"}
	var b strings.Builder
	logger := slog.New(slog.NewJSONHandler(&b, nil))
	logger.Info("config", "nats", c.NATS, "auth", c.Vault.Auth, "tenant", c.Tenants["contoso"])
	out := b.String()
	if strings.Contains(out, "hunter2") || strings.Count(out, "REDACTED") != 4 || !strings.Contains(out, "11111111-1111") {
		t.Errorf("log line = %s, want the URL user info and three secrets REDACTED, other fields kept", out)
	}
}
