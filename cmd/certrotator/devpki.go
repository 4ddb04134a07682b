package main

import (
	"context"
	"fmt"

	vault "github.com/hashicorp/vault/api"
)

// The demo's PKI: a root CA at pki-root, an issuing intermediate at pki
// signed by it, and a role that issues short-lived client certificates
// under demo.example, so that the PKI job issues and renews within minutes.
const (
	devPKIMount      = "pki"
	devPKIRootMount  = "pki-root"
	devPKIRole       = "demo-api"
	devPKIDomain     = "demo.example"
	devPKIJob        = "demo-pki"
	devPKISecretKV   = "b2c/demo-pki"
	devPKICommonName = "api-pki.demo.example"
	devPKITTL        = "3m"
)

// enablePKI builds the demo's CA hierarchy and role in the dev server, as
// an operator would with `vault secrets enable pki` and friends. The CA
// keys never leave Vault.
func enablePKI(ctx context.Context, v *devVault) error {
	vc, err := vault.NewClient(&vault.Config{Address: v.addr})
	if err != nil {
		return fmt.Errorf("building vault client: %w", err)
	}
	vc.SetToken(v.token)
	for _, m := range []string{devPKIRootMount, devPKIMount} {
		err := vc.Sys().MountWithContext(ctx, m, &vault.MountInput{Type: "pki", Config: vault.MountConfigInput{MaxLeaseTTL: "87600h"}})
		if err != nil {
			return fmt.Errorf("enabling pki at %s: %w", m, err)
		}
	}
	write := func(path string, data map[string]any) (map[string]any, error) {
		sec, err := vc.Logical().WriteWithContext(ctx, path, data)
		if err != nil {
			return nil, fmt.Errorf("writing %s: %w", path, err)
		}
		if sec == nil {
			return map[string]any{}, nil
		}
		return sec.Data, nil
	}
	if _, err := write(devPKIRootMount+"/root/generate/internal", map[string]any{
		"common_name": "certrotator demo root CA", "key_type": "ec", "key_bits": 256, "ttl": "87600h"}); err != nil {
		return err
	}
	csr, err := write(devPKIMount+"/intermediate/generate/internal", map[string]any{
		"common_name": "certrotator demo issuing CA", "key_type": "ec", "key_bits": 256})
	if err != nil {
		return err
	}
	signed, err := write(devPKIRootMount+"/root/sign-intermediate", map[string]any{
		"csr": csr["csr"], "format": "pem_bundle", "ttl": "43800h"})
	if err != nil {
		return err
	}
	if _, err := write(devPKIMount+"/intermediate/set-signed", map[string]any{"certificate": signed["certificate"]}); err != nil {
		return err
	}
	_, err = write(devPKIMount+"/roles/"+devPKIRole, map[string]any{
		"allowed_domains": devPKIDomain, "allow_subdomains": true,
		"key_type": "rsa", "key_bits": 2048, "max_ttl": "1h",
		"client_flag": true, "server_flag": false,
	})
	return err
}
