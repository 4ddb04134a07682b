package config

import (
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// secretLine is the valid config's credential, which the cases replace.
const secretLine = "    client_secret: s3cr3t\n"

func TestCredentialRules(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, new    string
		line         int
		key, message string
	}{
		{"US Government", "cloud: usgovernment", 13, "tenants.contoso.cloud",
			`"usgovernment": US Government clouds are not supported: Microsoft Graph's uploadClientCertificate for API connectors exists only in the global and China clouds; use global or china`},
		{"two kinds with managed identity", "    client_secret: s3cr3t\n    managed_identity: true\n", 16, "tenants.contoso.managed_identity",
			"set only one of client_secret, client_secret_file, client_certificate_file, workload_identity, managed_identity (client_secret is set too)"},
		{"password without certificate", "    client_secret: s3cr3t\n    client_certificate_password: hunter2\n", 16, "tenants.contoso.client_certificate_password",
			"applies to client_certificate_file only, which is not set"},
		{"x5c without certificate", "    client_secret: s3cr3t\n    send_certificate_chain: true\n", 16, "tenants.contoso.send_certificate_chain",
			"applies to client_certificate_file only"},
		{"password twice", "    client_certificate_file: /etc/graph.pfx\n    client_certificate_password: hunter2\n    client_certificate_password_file: /dev/null\n", 17,
			"tenants.contoso.client_certificate_password_file", "set client_certificate_password or client_certificate_password_file, not both"},
		{"x5c not a bool", "    client_certificate_file: /etc/graph.pem\n    send_certificate_chain: yes-please\n", 16, "tenants.contoso.send_certificate_chain",
			`"yes-please" is not true or false`},
		{"token file without workload identity", "    client_secret: s3cr3t\n    federated_token_file: /var/run/token\n", 16, "tenants.contoso.federated_token_file",
			"applies to workload_identity only: set workload_identity: true too"},
		{"user-assigned without managed identity", "    client_secret: s3cr3t\n    managed_identity_client_id: 55555555-5555-5555-5555-555555555555\n", 16,
			"tenants.contoso.managed_identity_client_id", "applies to managed_identity only"},
		{"user-assigned id not a GUID", "    managed_identity: true\n    managed_identity_client_id: my-identity\n", 16,
			"tenants.contoso.managed_identity_client_id", `"my-identity" is not a GUID`},
		{"managed identity with client_id", "    managed_identity: true\n", 14, "tenants.contoso.client_id",
			"not used with managed_identity: true; name a user-assigned identity with managed_identity_client_id instead"},
		{"unknown credential key", "    client_secret: s3cr3t\n    client_certificate_pasword: x\n", 16, "tenants.contoso.client_certificate_pasword",
			`unknown key; did you mean "client_certificate_password"?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			old := secretLine
			if !strings.HasSuffix(tt.new, "\n") {
				old = "cloud: global"
			}
			got := problems(t, edit(t, old, tt.new), nil)
			for _, p := range got {
				if p.Key == tt.key && p.Line == tt.line && strings.HasPrefix(p.Message, tt.message) {
					if strings.Contains(p.String(), "hunter2") {
						t.Errorf("problem echoes a password: %s", p)
					}
					return
				}
			}
			t.Errorf("no problem at line %d %s: %s...; got\n%s", tt.line, tt.key, tt.message, joinProblems(got))
		})
	}
}

func TestCredentialKindsAccepted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pwFile := testkit.WriteFile(t, dir, "pfx-password", "pfx-pass\n")
	tests := []struct {
		name, new string
		env       map[string]string
		check     func(Tenant) bool
	}{
		{"PEM certificate with chain", "    client_certificate_file: /etc/graph.pem\n    send_certificate_chain: true\n", nil,
			func(t Tenant) bool { return t.ClientCertificateFile == "/etc/graph.pem" && t.SendCertificateChain }},
		{"PFX with password from the environment", "    client_certificate_file: /etc/graph.pfx\n    client_certificate_password: ${PFX_PASSWORD}\n",
			map[string]string{"PFX_PASSWORD": "pfx-pass"}, func(t Tenant) bool { return t.ClientCertificatePassword == "pfx-pass" }},
		{"PFX with password file", "    client_certificate_file: /etc/graph.pfx\n    client_certificate_password_file: " + pwFile + "\n", nil,
			func(t Tenant) bool {
				return t.ClientCertificatePassword == "pfx-pass" && t.ClientCertificatePasswordFile == pwFile
			}},
		{"workload identity from AKS's variable", "    workload_identity: true\n",
			map[string]string{"AZURE_FEDERATED_TOKEN_FILE": "/var/run/secrets/azure/tokens/azure-identity-token"},
			func(t Tenant) bool {
				return t.WorkloadIdentity && t.FederatedTokenFile == "/var/run/secrets/azure/tokens/azure-identity-token"
			}},
		{"workload identity with a file", "    workload_identity: true\n    federated_token_file: /run/token\n",
			map[string]string{"AZURE_FEDERATED_TOKEN_FILE": "/elsewhere"}, func(t Tenant) bool { return t.FederatedTokenFile == "/run/token" }},
		{"workload identity outside the pod", "    workload_identity: true\n", nil, func(t Tenant) bool { return t.FederatedTokenFile == "" }},
		{"ca_file", "    client_secret: s3cr3t\n    ca_file: /etc/ssl/proxy-ca.pem\n", nil, func(t Tenant) bool { return t.CAFile == "/etc/ssl/proxy-ca.pem" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := mustParse(t, edit(t, secretLine, tt.new), tt.env)
			if got := c.Tenants["contoso"]; tt.check != nil && !tt.check(got) {
				t.Errorf("tenant = %+v", got)
			}
		})
	}
	domain := strings.Replace(valid, "tenant_id: 00000000-0000-0000-0000-000000000000", "tenant_id: Contoso.onmicrosoft.com", 1)
	if got := mustParse(t, domain, nil).Tenants["contoso"]; got.TenantID != "Contoso.onmicrosoft.com" {
		t.Errorf("tenant by domain = %+v; the token URL must use what the user gave", got)
	}
	// Managed identity drops client_id, which the valid config sets.
	data := strings.Replace(edit(t, secretLine, "    managed_identity: true\n    managed_identity_client_id: 55555555-5555-5555-5555-555555555555\n"),
		"    client_id: 11111111-1111-1111-1111-111111111111\n", "", 1)
	if got := mustParse(t, data, nil).Tenants["contoso"]; !got.ManagedIdentity || got.ManagedIdentityClientID != "55555555-5555-5555-5555-555555555555" {
		t.Errorf("managed identity tenant = %+v", got)
	}
}
