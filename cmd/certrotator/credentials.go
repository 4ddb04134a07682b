package main

import (
	"context"
	"errors"
	"maps"
	"slices"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/vaultsrc"
	"github.com/certrotator/certrotator/worker"
)

// ownCredentials lists the worker's own credentials whose expiry can be
// known, in tenant order then Vault's: each tenant's client certificate
// file, each client secret with client_secret_expires, and the AppRole
// secret id (looked up through src, which may be nil when Vault could not
// be reached: then it is left out). Workload and managed identity
// credentials are short-lived tokens the platform renews: nothing to watch.
func ownCredentials(cfg *config.Config, src *vaultsrc.Client) []worker.Credential {
	var out []worker.Credential
	for _, key := range slices.Sorted(maps.Keys(cfg.Tenants)) {
		t := cfg.Tenants[key]
		if t.ClientCertificateFile != "" {
			ct := connector.Tenant{ClientCertificateFile: t.ClientCertificateFile, ClientCertificatePassword: t.ClientCertificatePassword}
			out = append(out, worker.Credential{Kind: worker.CredentialClientCertificate, Tenant: key,
				Expiry: func(ctx context.Context) (time.Time, error) {
					at, _, err := ct.CertificateExpiry(ctx)
					return at, err
				}})
		}
		if !t.ClientSecretExpires.IsZero() {
			at := t.ClientSecretExpires
			out = append(out, worker.Credential{Kind: worker.CredentialClientSecret, Tenant: key,
				Expiry: func(context.Context) (time.Time, error) { return at, nil }})
		}
	}
	if src != nil && cfg.Vault.Auth.Method == vaultsrc.MethodAppRole && cfg.Vault.Auth.SecretIDFile != "" {
		out = append(out, worker.Credential{Kind: worker.CredentialVaultSecretID, Expiry: func(ctx context.Context) (time.Time, error) {
			at, err := src.SecretIDExpiry(ctx)
			if errors.Is(err, vaultsrc.ErrNoSecretID) {
				return time.Time{}, nil
			}
			return at, err
		}})
	}
	return out
}
