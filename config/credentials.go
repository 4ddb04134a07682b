package config

import (
	"regexp"
	"strings"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// credentialOptionKeys are the tenant keys that qualify a credential or
// the TLS trust, beyond those in tenantKeys.
var credentialOptionKeys = []string{
	"client_certificate_password", "client_certificate_password_file", "send_certificate_chain",
	"federated_token_file", "managed_identity", "managed_identity_client_id", "ca_file",
	"client_secret_expires",
}

// credentialKinds are the ways a tenant authenticates to Graph; exactly
// one is set. The booleans count only when true.
var credentialKinds = []string{
	"client_secret", "client_secret_file", "client_certificate_file", "workload_identity", "managed_identity",
}

// federatedTokenEnv is where AKS's workload identity webhook names the
// projected service-account token.
const federatedTokenEnv = "AZURE_FEDERATED_TOKEN_FILE"

// domainName matches a verified domain name such as contoso.onmicrosoft.com:
// at least two dot-separated labels, the last alphabetic.
var domainName = regexp.MustCompile(`^(?i)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)

// tenantID checks tenant_id: Entra names a tenant by its GUID or by any of
// its verified domain names, and the token URL takes either.
func (d *decoder) tenantID(s section, v string) {
	switch {
	case !s.has("tenant_id"):
		s.problem("tenant_id", "required")
	case !jobs.IsGUID(v) && !domainName.MatchString(v):
		s.problem("tenant_id", "%q is neither a GUID nor a domain name of the tenant (such as contoso.onmicrosoft.com)", v)
	}
}

// cloudName checks cloud, with its own words for the US Government clouds
// people will try.
func cloudName(s section, v string) {
	switch strings.ToLower(strings.NewReplacer("-", "", "_", "", " ", "").Replace(v)) {
	case CloudGlobal, CloudChina:
		return
	case "usgov", "usgovernment", "usgovernmentl4", "usgovernmentl5", "usgovl4", "usgovl5", "dod", "gcchigh", "azureusgovernment":
		s.problem("cloud", "%q: US Government clouds are not supported: Microsoft Graph's uploadClientCertificate for API connectors exists only in the global and China clouds; use global or china", v)
		return
	}
	s.problem("cloud", "%q is not global or china", v)
}

// credential reads the tenant's one credential and its options, loading
// client_secret_file and client_certificate_password_file.
func (d *decoder) credential(s section, t *Tenant) {
	if s.has("client_secret") {
		t.ClientSecret = d.secretString(s, "client_secret")
	}
	if s.has("client_secret_file") {
		t.ClientSecretFile, t.ClientSecret = d.secretFile(s, "client_secret_file")
	}
	t.ManagedIdentity = s.boolean("managed_identity", false)
	var set []string
	for _, k := range credentialKinds {
		if s.has(k) && (k != "workload_identity" || t.WorkloadIdentity) && (k != "managed_identity" || t.ManagedIdentity) {
			set = append(set, k)
		}
	}
	switch len(set) {
	case 0:
		d.add(s.line, s.path, "needs one credential: client_secret, client_secret_file, client_certificate_file, workload_identity: true or managed_identity: true")
	case 1:
	default:
		s.problem(set[1], "set only one of %s (%s is set too)", strings.Join(credentialKinds, ", "), set[0])
	}
	d.certificateOptions(s, t)
	secretExpiry(s, t)
	d.workloadIdentity(s, t)
	d.managedIdentity(s, t)
	// The certificate and CA files are read when the Graph client is
	// built, not here: `validate` runs where they may not be mounted.
	t.CAFile = s.str("ca_file", "")
}

// certificateOptions reads client_certificate_file and what only it uses.
func (d *decoder) certificateOptions(s section, t *Tenant) {
	t.SendCertificateChain = s.boolean("send_certificate_chain", false)
	if s.has("client_certificate_password") {
		t.ClientCertificatePassword = d.secretString(s, "client_certificate_password")
	}
	if s.has("client_certificate_password_file") {
		t.ClientCertificatePasswordFile, t.ClientCertificatePassword = d.secretFile(s, "client_certificate_password_file")
		if s.has("client_certificate_password") {
			s.problem("client_certificate_password_file", "set client_certificate_password or client_certificate_password_file, not both")
		}
	}
	for _, k := range []string{"client_certificate_password", "client_certificate_password_file", "send_certificate_chain"} {
		if s.has(k) && t.ClientCertificateFile == "" {
			s.problem(k, "applies to client_certificate_file only, which is not set")
		}
	}
}

// workloadIdentity reads federated_token_file, defaulting to what AKS puts
// in $AZURE_FEDERATED_TOKEN_FILE (through the decoder's lookup, so tests
// and Parse callers control it).
func (d *decoder) workloadIdentity(s section, t *Tenant) {
	t.FederatedTokenFile = s.str("federated_token_file", "")
	if !t.WorkloadIdentity {
		if t.FederatedTokenFile != "" {
			s.problem("federated_token_file", "applies to workload_identity only: set workload_identity: true too")
		}
		return
	}
	if t.FederatedTokenFile == "" {
		t.FederatedTokenFile, _ = d.lookup(federatedTokenEnv)
	}
	// Still empty is no problem here: `validate` runs outside the pod too.
	// The Graph client refuses to start without the file.
}

// managedIdentity checks managed_identity_client_id and client_id, which
// a managed identity does not use.
func (d *decoder) managedIdentity(s section, t *Tenant) {
	t.ManagedIdentityClientID = s.str("managed_identity_client_id", "")
	if t.ManagedIdentityClientID != "" {
		switch {
		case !t.ManagedIdentity:
			s.problem("managed_identity_client_id", "applies to managed_identity only: set managed_identity: true too")
		case !jobs.IsGUID(t.ManagedIdentityClientID):
			s.problem("managed_identity_client_id", "%q is not a GUID (the client id of the user-assigned identity)", t.ManagedIdentityClientID)
		}
	}
	if t.ManagedIdentity && s.has("client_id") {
		s.problem("client_id", "not used with managed_identity: true; name a user-assigned identity with managed_identity_client_id instead")
	}
}

// secretExpiry reads client_secret_expires: the client secret's end date as
// Entra shows it, which the worker cannot read itself; it exports it and
// warns before it passes.
func secretExpiry(s section, t *Tenant) {
	v := s.str("client_secret_expires", "")
	if v == "" {
		return
	}
	if t.ClientSecret == "" && t.ClientSecretFile == "" {
		s.problem("client_secret_expires", "applies to client_secret or client_secret_file only, which is not set")
		return
	}
	for _, layout := range []string{time.DateOnly, time.RFC3339} {
		if at, err := time.Parse(layout, v); err == nil {
			t.ClientSecretExpires = at
			return
		}
	}
	s.problem("client_secret_expires", "%q is not a date: write the secret's end date as Entra shows it, such as 2027-06-30 (or an RFC 3339 time)", v)
}
