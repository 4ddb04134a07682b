package connector

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/jobs"
)

func TestNewValidates(t *testing.T) {
	t.Parallel()
	good := Tenant{TenantID: "t", ClientID: "c", ClientSecret: "s3cr3t-value"}
	tests := []struct {
		name    string
		tenant  Tenant
		wantErr string // "" for none
	}{
		{"defaults", good, ""},
		{"china", with(good, func(t *Tenant) { t.Cloud = "china" }), ""},
		{"unknown cloud", with(good, func(t *Tenant) { t.Cloud = "usgov" }), `tenant contoso: cloud "usgov"`},
		{"http authority", with(good, func(t *Tenant) { t.AuthorityURL = "http://127.0.0.1:8443" }), "tenant contoso: authority_url: \"http://127.0.0.1:8443\" is not an absolute https URL"},
		{"relative graph", with(good, func(t *Tenant) { t.GraphURL = "graph.local" }), "tenant contoso: graph_url:"},
		{"https overrides", with(good, func(t *Tenant) { t.AuthorityURL, t.GraphURL = "https://127.0.0.1:1/", "https://127.0.0.1:1" }), ""},
		{"missing ids", Tenant{ClientSecret: "x"}, "tenant_id is empty"},
		{"missing secret", with(good, func(t *Tenant) { t.ClientSecret = "" }), "tenant contoso: client_secret is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := New(Config{Tenants: map[string]Tenant{"contoso": tt.tenant}})
			if tt.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("New = %v, %v; want a client", c, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("New error = %v, want it to contain %q", err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "s3cr3t-value") {
				t.Errorf("New error %q holds the client secret", err)
			}
		})
	}
}

func with(t Tenant, f func(*Tenant)) Tenant {
	f(&t)
	return t
}

func TestClientRejectsBeforeCalling(t *testing.T) {
	t.Parallel()
	c, err := New(Config{Tenants: map[string]Tenant{"contoso": {TenantID: "t", ClientID: "c", ClientSecret: "s"}}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		tenant, id, code string
	}{
		{"contoso", "../../users", CodeInvalidConnectorID},
		{"fabrikam", "7b3a0c1e-aaaa-bbbb-cccc-000000000001", CodeUnknownTenant},
	}
	for _, tt := range tests {
		_, err := c.Get(t.Context(), tt.tenant, tt.id)
		f := jobs.AsFailure(err)
		if f == nil || f.Class != jobs.ClassPermanent || f.Code != tt.code {
			t.Errorf("Get(%s, %s) = %v, want a permanent %s", tt.tenant, tt.id, err, tt.code)
		}
		var gerr *GraphError
		if errors.As(err, &gerr) {
			t.Errorf("Get(%s, %s) holds a GraphError, but no request should have been made", tt.tenant, tt.id)
		}
	}
}

func TestTenantHidesSecret(t *testing.T) {
	t.Parallel()
	cfg := Config{Tenants: map[string]Tenant{"contoso": {TenantID: "t", ClientID: "c", ClientSecret: "s3cr3t-value"},
		"fabrikam": {TenantID: "t", ClientID: "c", ClientCertificateFile: "/etc/app.pfx", ClientCertificatePassword: "s3cr3t-value"}}}
	var logs strings.Builder
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("tenant", "tenant", cfg.Tenants["contoso"], "other", cfg.Tenants["fabrikam"])
	out := fmt.Sprintf("%v %+v %#v %s", cfg, cfg, cfg, logs.String())
	if strings.Contains(out, "s3cr3t-value") {
		t.Errorf("the secret appears in %s", out)
	}
	if !strings.Contains(out, "ClientID:c") {
		t.Errorf("the tenant was not printed at all: %s", out)
	}
}
