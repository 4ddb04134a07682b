package config

import (
	"strings"
	"testing"
)

// valid is a config with every section, which each rule case breaks in one
// place.
const valid = `instance: r1
nats:
  url: ""
  subject_prefix: certrotation
vault:
  address: http://127.0.0.1:8200
  auth:
    method: token
    token: root
tenants:
  contoso:
    tenant_id: 00000000-0000-0000-0000-000000000000
    cloud: global
    client_id: 11111111-1111-1111-1111-111111111111
    client_secret: s3cr3t
jobs:
  - name: contoso-api
    source: {path: b2c/contoso-api}
    schedule: "0 */6 * * *"
    policy: on-change
    renew_before: 720h
    min_validity: 168h
    warn_before: [720h, 24h]
    max_attempts: 8
    connectors:
      - {tenant: contoso, id: 7b3a0c1e-aaaa-bbbb-cccc-000000000001}
http:
  listen: 127.0.0.1:9090
log: {level: info, format: json}
concurrency: 4
`

const secondJob = `  - name: other
    source: {path: b2c/other}
    connectors: [{tenant: contoso, id: 7b3a0c1e-aaaa-bbbb-cccc-000000000002}]
http:
`

// edit returns valid with old replaced by new, which must occur exactly
// once.
func edit(t *testing.T, old, new string) string {
	t.Helper()
	if n := strings.Count(valid, old); n != 1 {
		t.Fatalf("%q occurs %d times in the valid config, want 1", old, n)
	}
	return strings.Replace(valid, old, new, 1)
}

func TestValidConfigHasNoProblems(t *testing.T) {
	t.Parallel()
	mustParse(t, valid, nil)
}

func TestParseRules(t *testing.T) {
	t.Parallel()
	tests := []editCase{
		// Structure and types.
		{"unknown root key", "instance: r1", "instanse: r1", 1, "instanse", `unknown key; did you mean "instance"?`},
		{"unknown key without suggestion", "concurrency: 4", "colour: red", 30, "colour", "unknown key"},
		{"duplicate key", "concurrency: 4", "concurrency: 4\nconcurrency: 5", 31, "concurrency", "duplicate key (first at line 30)"},
		{"section of wrong type", "log: {level: info, format: json}", "log: [info]", 29, "log", "expected a mapping, got a list"},
		{"string of wrong type", "instance: r1", "instance: [a]", 1, "instance", "expected a string, got a list"},
		{"list of wrong type", "warn_before: [720h, 24h]", "warn_before: 720h", 23, "jobs[0].warn_before", "expected a list, got a scalar"},
		{"not an integer", "max_attempts: 8", "max_attempts: many", 24, "jobs[0].max_attempts", `"many" is not an integer`},
		{"not a bool", "    max_attempts: 8", "    reencode: maybe", 24, "jobs[0].reencode", `"maybe" is not true or false`},
		{"unset variable", "token: root", "token: ${VAULT_TOKEN}", 9, "vault.auth.token", "${VAULT_TOKEN} is not set"},
		// Jobs.
		{"job name required", "name: contoso-api", `name: ""`, 17, "jobs[0].name", "required"},
		{"job name characters", "name: contoso-api", "name: contoso.api", 17, "jobs[0].name", `"contoso.api" may hold only letters, digits, - and _`},
		{"duplicate job name", "http:\n", strings.Replace(secondJob, "name: other", "name: contoso-api", 1), 27, "jobs[1].name", `duplicate job name "contoso-api" (first at line 17)`},
		{"source path required", "source: {path: b2c/contoso-api}", "source: {mount: kv}", 18, "jobs[0].source.path", "required"},
		{"no connectors", "    connectors:\n      - {tenant: contoso, id: 7b3a0c1e-aaaa-bbbb-cccc-000000000001}\n", "    connectors: []\n", 25, "jobs[0].connectors", "a job needs at least one connector"},
		{"connectors absent", "    connectors:\n      - {tenant: contoso, id: 7b3a0c1e-aaaa-bbbb-cccc-000000000001}\n", "", 17, "jobs[0].connectors", "a job needs at least one connector"},
		{"unknown tenant", "{tenant: contoso, id", "{tenant: fabrikam, id", 26, "jobs[0].connectors[0].tenant", `unknown tenant "fabrikam" (tenants: contoso)`},
		{"connector tenant required", "{tenant: contoso, id", "{id", 26, "jobs[0].connectors[0].tenant", "required"},
		{"connector id GUID", "id: 7b3a0c1e-aaaa-bbbb-cccc-000000000001}", "id: my-connector}", 26, "jobs[0].connectors[0].id", `"my-connector" is not a GUID`},
		{"connector id required", ", id: 7b3a0c1e-aaaa-bbbb-cccc-000000000001}", "}", 26, "jobs[0].connectors[0].id", "required"},
		{"duplicate connector", "000000000001}\n", "000000000001}\n      - {tenant: contoso, id: 7B3A0C1E-AAAA-BBBB-CCCC-000000000001}\n", 27, "jobs[0].connectors[1].id", "duplicate connector (first at line 26)"},
		{"connector in two jobs", "http:\n", strings.Replace(secondJob, "000000000002", "000000000001", 1), 29, "jobs[1].connectors[0].id", `connector already bound to job "contoso-api" (line 26)`},
		{"policy", "policy: on-change", "policy: always", 20, "jobs[0].policy", `"always" is not on-change or before-expiry`},
		{"schedule syntax", `schedule: "0 */6 * * *"`, `schedule: "61 * * * *"`, 19, "jobs[0].schedule", `"61 * * * *" is not a schedule: `},
		{"schedule with seconds", `schedule: "0 */6 * * *"`, `schedule: "0 0 */6 * * *"`, 19, "jobs[0].schedule", `"0 0 */6 * * *" is not a schedule: `},
		{"schedule CRON_TZ without fields", `schedule: "0 */6 * * *"`, `schedule: "CRON_TZ=UTC"`, 19, "jobs[0].schedule", `"CRON_TZ=UTC" is not a schedule: a time zone prefix needs a space`},
		{"schedule bad zone", `schedule: "0 */6 * * *"`, `schedule: "CRON_TZ=Mars/Olympus 0 3 * * *"`, 19, "jobs[0].schedule", `"CRON_TZ=Mars/Olympus 0 3 * * *" is not a schedule: `},
		{"schedule never fires", `schedule: "0 */6 * * *"`, `schedule: "0 0 30 2 *"`, 19, "jobs[0].schedule", `"0 0 30 2 *" is not a schedule: it never fires`},
		{"renew_before", "renew_before: 720h", "renew_before: 3O%", 21, "jobs[0].renew_before", `"3O%" is not a duration or a percentage`},
		{"renew_before 0%", "renew_before: 720h", "renew_before: 0%", 21, "jobs[0].renew_before", `"0%" must be a percentage between 0% and 100%, both excluded`},
		{"renew_before 100%", "renew_before: 720h", "renew_before: 100%", 21, "jobs[0].renew_before", `"100%" must be a percentage between 0% and 100%`},
		{"renew_before not positive", "renew_before: 720h", "renew_before: 0s", 21, "jobs[0].renew_before", `"0s" must be positive`},
		{"min_validity negative", "min_validity: 168h", "min_validity: -1h", 22, "jobs[0].min_validity", "must not be negative"},
		{"min_validity unitless", "min_validity: 168h", "min_validity: 168", 22, "jobs[0].min_validity", `"168" is not a duration (such as 90m, 1h30m or 30d)`},
		{"warn_before positive", "warn_before: [720h, 24h]", "warn_before: [720h, 0s]", 23, "jobs[0].warn_before[1]", `"0s" must be positive`},
		{"warn_before duration", "warn_before: [720h, 24h]", "warn_before: [720h, soon]", 23, "jobs[0].warn_before[1]", `"soon" is not a duration (such as 720h or 30d)`},
		{"max_attempts", "max_attempts: 8", "max_attempts: 0", 24, "jobs[0].max_attempts", "must be 1 to 100, got 0"},
		// Tenants.
		{"tenant key characters", "  contoso:\n", "  contoso.eu:\n", 11, "tenants.contoso.eu", "tenant keys may hold only letters, digits, - and _"},
		{"cloud", "cloud: global", "cloud: mars", 13, "tenants.contoso.cloud", `"mars" is not global or china`},
		{"tenant_id GUID or domain", "tenant_id: 00000000-0000-0000-0000-000000000000", "tenant_id: contoso", 12, "tenants.contoso.tenant_id", `"contoso" is neither a GUID nor a domain name of the tenant (such as contoso.onmicrosoft.com)`},
		{"tenant_id required", "    tenant_id: 00000000-0000-0000-0000-000000000000\n", "", 11, "tenants.contoso.tenant_id", "required"},
		{"client_id GUID", "client_id: 11111111-1111-1111-1111-111111111111", "client_id: 1111", 14, "tenants.contoso.client_id", `"1111" is not a GUID`},
		{"no credential", "    client_secret: s3cr3t\n", "", 11, "tenants.contoso", "needs one credential: client_secret, client_secret_file, client_certificate_file, workload_identity: true or managed_identity: true"},
		{"workload_identity false is no credential", "client_secret: s3cr3t", "workload_identity: false", 11, "tenants.contoso", "needs one credential"},
		{"two credentials", "    client_secret: s3cr3t\n", "    client_secret: s3cr3t\n    client_certificate_file: /etc/graph.pem\n", 16, "tenants.contoso.client_certificate_file", "set only one of client_secret, client_secret_file, client_certificate_file, workload_identity, managed_identity (client_secret is set too)"},
		{"empty client_secret", "client_secret: s3cr3t", `client_secret: ""`, 15, "tenants.contoso.client_secret", "is empty"},
		{"authority_url", "    client_secret: s3cr3t\n", "    client_secret: s3cr3t\n    authority_url: login.example\n", 16, "tenants.contoso.authority_url", `"login.example" is not an http:// or https:// URL`},
		{"graph_url", "    client_secret: s3cr3t\n", "    client_secret: s3cr3t\n    graph_url: ftp://graph.example\n", 16, "tenants.contoso.graph_url", `"ftp://graph.example" is not an http:// or https:// URL`},
		// Vault.
		{"vault address required", "  address: http://127.0.0.1:8200\n", "", 5, "vault.address", "required when jobs are configured"},
		{"vault address URL", "address: http://127.0.0.1:8200", "address: 127.0.0.1:8200", 6, "vault.address", `"127.0.0.1:8200" is not an http:// or https:// URL`},
		{"vault method", "method: token", "method: ldap", 8, "vault.auth.method", `"ldap" is not token, approle or kubernetes`},
		{"token required", "    token: root\n", "", 7, "vault.auth.token", "the token method needs token or token_file"},
		{"token and token_file", "    token: root\n", "    token: root\n    token_file: /dev/null\n", 10, "vault.auth.token_file", "set token or token_file, not both"},
		{"approle role_id", "method: token\n    token: root", "method: approle\n    secret_id_file: /run/secret-id", 7, "vault.auth.role_id", "required by the approle method"},
		{"approle secret_id_file", "method: token\n    token: root", "method: approle\n    role_id: r", 7, "vault.auth.secret_id_file", "required by the approle method"},
		{"kubernetes role", "method: token\n    token: root", "method: kubernetes", 7, "vault.auth.role", "required by the kubernetes method"},
		{"field of another method", "    token: root\n", "    token: root\n    role_id: r\n", 10, "vault.auth.role_id", "only used by the approle method (method is token)"},
		// NATS.
		{"nats url scheme", `url: ""`, "url: http://nats:4222", 3, "nats.url", `"http://nats:4222" is not a nats://, tls://, ws:// or wss:// URL`},
		{"nats url in a list", `url: ""`, "url: nats://a:4222,b:4222", 3, "nats.url", `"nats://a:4222,b:4222" is not a nats://`},
		{"nats listen", `url: ""`, "listen: localhost", 3, "nats.listen", `"localhost" is not host:port`},
		{"nats two auths", `url: ""`, "creds_file: /c.creds\n  nkey_file: /n.nk", 4, "nats.nkey_file", "use one of creds_file, user/password, token and nkey_file (creds_file is set too)"},
		{"nats password needs user", `url: ""`, "password: p", 3, "nats.password", "needs user"},
		{"nats tls pair", `url: ""`, "tls: {ca_file: /ca.pem, cert_file: /c.pem}", 3, "nats.tls.cert_file", "cert_file and key_file go together"},
		{"subject prefix", "subject_prefix: certrotation", "subject_prefix: cert.rotation", 4, "nats.subject_prefix", `"cert.rotation" may hold only letters, digits, - and _`},
		// HTTP, log, concurrency.
		{"http listen", "listen: 127.0.0.1:9090", "listen: 9090", 28, "http.listen", `"9090" is not host:port or "off"`},
		{"http port range", "listen: 127.0.0.1:9090", "listen: 127.0.0.1:99999", 28, "http.listen", `"127.0.0.1:99999" is not host:port`},
		{"log level", "level: info", "level: verbose", 29, "log.level", `"verbose" is not one of debug, info, warn, error`},
		{"log format", "format: json", "format: logfmt", 29, "log.format", `"logfmt" is not json or text`},
		{"concurrency", "concurrency: 4", "concurrency: 0", 30, "concurrency", "must be 1 to 1024, got 0"},
	}
	wantEditProblems(t, valid, tests)
}

func TestParseAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, old, new string }{
		{"http off", "listen: 127.0.0.1:9090", "listen: off"},
		{"http any interface", "listen: 127.0.0.1:9090", "listen: :9090"},
		{"nats url list", `url: ""`, "url: nats://a:4222, nats://b:4222"},
		{"nats tls url", `url: ""`, "url: tls://user:pass@nats.example:4222"},
		{"nats websocket", `url: ""`, "url: wss://nats.example/ws"},
		{"nats user and password", `url: ""`, "user: u\n  password: p"},
		{"cron descriptor", `schedule: "0 */6 * * *"`, `schedule: "@every 90m"`},
		{"cron hourly", `schedule: "0 */6 * * *"`, `schedule: "@hourly"`},
		{"cron zone", `schedule: "0 */6 * * *"`, `schedule: "CRON_TZ=Europe/Berlin 0 3 * * 1-5"`},
		{"cron TZ", `schedule: "0 */6 * * *"`, `schedule: "TZ=UTC 30 2 1 * *"`},
		{"renew_before percent", "renew_before: 720h", "renew_before: 33%"},
		{"renew_before days", "renew_before: 720h", "renew_before: 30d"},
		{"min_validity zero", "min_validity: 168h", "min_validity: 0"},
		{"china", "cloud: global", "cloud: china"},
		{"workload identity", "client_secret: s3cr3t", "workload_identity: true"},
		{"certificate", "client_secret: s3cr3t", "client_certificate_file: /etc/graph.pem"},
		{"integer from a variable", "max_attempts: 8", "max_attempts: ${ATTEMPTS}"},
		{"default value", "token: root", "token: ${VAULT_TOKEN:-root}"},
		{"no jobs, no vault", "  address: http://127.0.0.1:8200\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			data := edit(t, tt.old, tt.new)
			if tt.name == "no jobs, no vault" {
				data = data[:strings.Index(data, "jobs:")] + "http: {listen: 127.0.0.1:9090}\n"
			}
			mustParse(t, data, map[string]string{"ATTEMPTS": "3"})
		})
	}
}
