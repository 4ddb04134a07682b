package connector

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/contract"
)

// CertificateFunc returns the certificate chain (leaf first) and the RSA
// private key an app registration authenticates with. It is the seam for a
// certificate kept somewhere other than a file, such as a bundle in Vault
// KV: the Client calls it when it builds the tenant's credential (on the
// first token request and again after Graph refuses a token), never at New,
// so it may do network I/O; ctx is the Graph call's. A *jobs.Failure it
// returns keeps its class; any other error is permanent. It must be safe
// for concurrent use, and its errors must not hold the key or a password.
type CertificateFunc func(ctx context.Context) ([]*x509.Certificate, crypto.PrivateKey, error)

// CertificateFile returns a CertificateFunc that reads a PEM file (the
// certificate and an unencrypted PKCS#8 or PKCS#1 key) or a PKCS#12 file
// protected by password at each call, so that a renewed file is picked up
// when the credential is rebuilt.
func CertificateFile(path, password string) CertificateFunc {
	return func(context.Context) ([]*x509.Certificate, crypto.PrivateKey, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, nil, fmt.Errorf("reading client certificate: %w", err)
		}
		certs, key, err := parseCertificate(data, password)
		if err != nil {
			return nil, nil, fmt.Errorf("parsing client certificate %s: %w", path, err)
		}
		return certs, key, nil
	}
}

// CertificateFromPKCS12 adapts a source of PKCS#12 bundles (such as the
// Vault KV bundle vaultsrc reads: the PFX bytes and their password) into
// a CertificateFunc. fetch is called each time the credential is built.
func CertificateFromPKCS12(fetch func(ctx context.Context) (pfx []byte, password string, err error)) CertificateFunc {
	return func(ctx context.Context) ([]*x509.Certificate, crypto.PrivateKey, error) {
		pfx, password, err := fetch(ctx)
		if err != nil {
			return nil, nil, err
		}
		certs, key, err := decodePKCS12(pfx, password)
		if err != nil {
			return nil, nil, fmt.Errorf("decoding client certificate bundle: %w", err)
		}
		return certs, key, nil
	}
}

// parseCertificate reads PEM through azidentity and PKCS#12 with go-pkcs12,
// which, unlike azidentity, also opens the AES/SHA-256 files that current
// openssl writes. Neither error holds the bytes or the password.
func parseCertificate(data []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	if bytes.Contains(data, []byte("-----BEGIN")) {
		certs, key, err := azidentity.ParseCertificates(data, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("reading PEM (certificate and unencrypted key): %w", err)
		}
		return certs, key, nil
	}
	return decodePKCS12(data, password)
}

// decodePKCS12 returns the leaf first, then the rest of the chain.
func decodePKCS12(pfx []byte, password string) ([]*x509.Certificate, crypto.PrivateKey, error) {
	key, leaf, chain, err := pkcs12.DecodeChain(pfx, password)
	if err != nil {
		return nil, nil, fmt.Errorf("reading PKCS#12: %w", err)
	}
	return append([]*x509.Certificate{leaf}, chain...), key, nil
}

// Credential kinds, as named in errors and by Tenant.Kind.
const (
	KindClientSecret      = "client_secret"
	KindClientCertificate = "client_certificate"
	KindWorkloadIdentity  = "workload_identity"
	KindManagedIdentity   = "managed_identity"
	KindCustom            = "credential"
)

// Kind names the credential the tenant is configured with, "" when none
// is, or a comma-separated list when several are (which New refuses).
func (t Tenant) Kind() string {
	var kinds []string
	for _, k := range []struct {
		set  bool
		name string
	}{
		{t.ClientSecret != "", KindClientSecret},
		{t.ClientCertificateFile != "" || t.Certificate != nil, KindClientCertificate},
		{t.WorkloadIdentity || t.FederatedTokenFile != "", KindWorkloadIdentity},
		{t.ManagedIdentity, KindManagedIdentity},
		{t.Credential != nil, KindCustom},
	} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	return strings.Join(kinds, ",")
}

// validateCredential checks that exactly one credential is set and that
// its options fit it.
func (t Tenant) validateCredential() error {
	var errs []error
	kind := t.Kind()
	switch {
	case kind == "":
		errs = append(errs, errors.New("client_secret is empty: set a client secret, a client certificate, a federated token file or managed identity"))
	case strings.Contains(kind, ","):
		errs = append(errs, fmt.Errorf("set exactly one credential, not %s", kind))
	}
	if t.ClientCertificateFile != "" && t.Certificate != nil {
		errs = append(errs, errors.New("set ClientCertificateFile or Certificate, not both"))
	}
	if t.SendCertificateChain && kind != KindClientCertificate {
		errs = append(errs, errors.New("send_certificate_chain applies to a client certificate only"))
	}
	if t.WorkloadIdentity && t.FederatedTokenFile == "" {
		errs = append(errs, errors.New(`workload identity needs the federated token file: set federated_token_file, or run where AZURE_FEDERATED_TOKEN_FILE is set (AKS sets it in pods labelled azure.workload.identity/use: "true")`))
	}
	if t.ManagedIdentityClientID != "" && !t.ManagedIdentity {
		errs = append(errs, errors.New("managed_identity_client_id applies to managed identity only"))
	}
	if t.ClientID == "" && t.Credential == nil && !t.ManagedIdentity {
		errs = append(errs, errors.New("client_id is empty"))
	}
	return errors.Join(errs...)
}

// credentialBuilder returns the function that builds the tenant's
// credential; it is called again whenever the credential is rebuilt.
func (t Tenant) credentialBuilder(ep endpoints, hc policy.Transporter) func(context.Context) (azcore.TokenCredential, error) {
	opts := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: ep.authority},
		Transport: hc,
		// The Graph call's loop retries token failures with its own
		// backoff and injected sleep; azcore must not retry underneath.
		Retry: policy.RetryOptions{MaxRetries: -1},
	}
	switch t.Kind() {
	case KindClientCertificate:
		certFunc := t.Certificate
		if certFunc == nil {
			certFunc = CertificateFile(t.ClientCertificateFile, t.ClientCertificatePassword)
		}
		return func(ctx context.Context) (azcore.TokenCredential, error) {
			certs, key, err := certFunc(ctx)
			if err != nil {
				return nil, err
			}
			return azidentity.NewClientCertificateCredential(t.TenantID, t.ClientID, certs, key,
				&azidentity.ClientCertificateCredentialOptions{ClientOptions: opts,
					DisableInstanceDiscovery: ep.customAuthority, SendCertificateChain: t.SendCertificateChain})
		}
	case KindWorkloadIdentity:
		return func(context.Context) (azcore.TokenCredential, error) {
			return azidentity.NewClientAssertionCredential(t.TenantID, t.ClientID, federatedToken(t.FederatedTokenFile),
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: ep.customAuthority})
		}
	case KindManagedIdentity:
		return func(context.Context) (azcore.TokenCredential, error) {
			mio := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: opts}
			if t.ManagedIdentityClientID != "" {
				mio.ID = azidentity.ClientID(t.ManagedIdentityClientID)
			}
			return azidentity.NewManagedIdentityCredential(mio)
		}
	case KindCustom:
		return func(context.Context) (azcore.TokenCredential, error) { return t.Credential, nil }
	}
	return func(context.Context) (azcore.TokenCredential, error) {
		return azidentity.NewClientSecretCredential(t.TenantID, t.ClientID, t.ClientSecret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: opts, DisableInstanceDiscovery: ep.customAuthority})
	}
}

// federatedToken reads the federated token file at each token request:
// the kubelet rewrites it (AKS projects a token valid for an hour and
// renews it at 80%), so a copy read once would expire under the worker.
func federatedToken(path string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return "", fmt.Errorf("reading federated token file: %w", err)
		}
		tok := strings.TrimSpace(string(b))
		if tok == "" {
			return "", fmt.Errorf("reading federated token file %s: the file is empty", path)
		}
		return tok, nil
	}
}

// CodeInvalidCredential is the jobs.Failure code of a credential that could
// not be built: an unreadable or malformed certificate file, a key that is
// not RSA or does not match the certificate.
const CodeInvalidCredential = contract.CodeInvalidCredential

// CertificateExpiry returns when the tenant's client certificate expires:
// its leaf's notAfter, read from the file (or the Certificate func) as the
// credential would be built now, so that a renewed file is seen. ok is
// false for a tenant that authenticates otherwise. The worker exports it
// and warns before it passes (worker.Credential). Errors hold no key or
// password.
func (t Tenant) CertificateExpiry(ctx context.Context) (notAfter time.Time, ok bool, err error) {
	if t.Kind() != KindClientCertificate {
		return time.Time{}, false, nil
	}
	certFunc := t.Certificate
	if certFunc == nil {
		certFunc = CertificateFile(t.ClientCertificateFile, t.ClientCertificatePassword)
	}
	certs, _, err := certFunc(ctx)
	if err != nil {
		return time.Time{}, true, err
	}
	if len(certs) == 0 || certs[0] == nil {
		return time.Time{}, true, errors.New("reading client certificate: no certificate in it")
	}
	return certs[0].NotAfter, true, nil
}
