package graphsim

import (
	"crypto"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"strings"
)

// FederatedAudienceDefault is the audience Entra proposes for a federated
// identity credential, and the one AKS workload identity requests for the
// projected service-account token.
const FederatedAudienceDefault = "api://AzureADTokenExchange"

// FederatedCredential is a federated identity credential of an app
// registration: Entra accepts, in place of a secret, a JWT from Issuer whose
// sub is Subject and whose aud holds one of Audiences.
type FederatedCredential struct {
	Issuer  string // e.g. the cluster's OIDC issuer URL, compared exactly
	Subject string // e.g. system:serviceaccount:certrotator:worker
	// Audiences defaults to FederatedAudienceDefault.
	Audiences []string
}

// trustedSubject is subject-name/issuer (SNI) authentication: a leaf sent in
// x5c that chains to roots and whose subject common name is subject.
type trustedSubject struct {
	subject string
	roots   *x509.CertPool
}

// appCredentials are an app's credentials other than its secret.
type appCredentials struct {
	certs     []*x509.Certificate
	subjects  []trustedSubject
	federated []FederatedCredential
}

// identity is a managed identity: a service principal of a tenant whose
// tokens the hosting platform's local endpoint hands out.
type identity struct {
	tenant   *tenant
	clientID string
}

// credentialState is what the emulator knows about credentials that are
// not client secrets; it lives under Server.mu.
type credentialState struct {
	issuers        map[string][]crypto.PublicKey // OIDC issuer -> signing keys
	identities     []identity                    // the first is the system-assigned one
	identityHeader string                        // the secret X-IDENTITY-HEADER value
}

// appLocked returns the credentials of an app, creating them; the tenant
// must exist.
func (s *Server) appLocked(method, tenantID, clientID string) *appCredentials {
	t := s.knownTenantLocked(method, tenantID)
	if _, ok := t.clients[clientID]; !ok {
		panic(fmt.Sprintf("graphsim: %s: unknown app %q in tenant %q; call AddTenant first", method, clientID, tenantID))
	}
	if t.creds == nil {
		t.creds = map[string]*appCredentials{}
	}
	if t.creds[clientID] == nil {
		t.creds[clientID] = &appCredentials{}
	}
	return t.creds[clientID]
}

// AddDomain makes a verified domain name (such as contoso.onmicrosoft.com)
// name the tenant, at the authority and in Graph, as Entra does. It panics
// after Start or for an unknown tenant.
func (s *Server) AddDomain(tenantID, domain string) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.setupTenantLocked("AddDomain", tenantID)
	s.tenants[strings.ToLower(domain)] = t
	return s
}

// AddCertificate registers a certificate credential (its public part, as
// uploaded to the app registration) for an app added with AddTenant. A
// client assertion naming it by x5t or x5t#S256 and signed with its key is
// accepted. Give AddTenant an empty secret for an app that has none. It
// panics after Start.
func (s *Server) AddCertificate(tenantID, clientID string, cert *x509.Certificate) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustNotBeStarted("AddCertificate")
	a := s.appLocked("AddCertificate", tenantID, clientID)
	a.certs = append(a.certs, cert)
	return s
}

// AddTrustedSubject enables subject-name/issuer authentication for an app:
// an assertion that sends its chain in x5c is accepted when the leaf chains
// to root (at the injected clock's now) and its subject common name is
// subject, whether or not the leaf was registered. It panics after Start.
func (s *Server) AddTrustedSubject(tenantID, clientID, subject string, root *x509.Certificate) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustNotBeStarted("AddTrustedSubject")
	a := s.appLocked("AddTrustedSubject", tenantID, clientID)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	a.subjects = append(a.subjects, trustedSubject{subject: subject, roots: pool})
	return s
}

// AddFederatedCredential registers a federated identity credential for an
// app. The issuer's signing keys are given with AddIssuerKey (the emulator
// fetches no discovery document). It panics after Start.
func (s *Server) AddFederatedCredential(tenantID, clientID string, fc FederatedCredential) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustNotBeStarted("AddFederatedCredential")
	if len(fc.Audiences) == 0 {
		fc.Audiences = []string{FederatedAudienceDefault}
	}
	a := s.appLocked("AddFederatedCredential", tenantID, clientID)
	a.federated = append(a.federated, fc)
	return s
}

// AddIssuerKey adds an RSA public key that OIDC issuer signs its tokens
// with, standing in for the issuer's JWKS. It panics after Start.
func (s *Server) AddIssuerKey(issuer string, key crypto.PublicKey) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mustNotBeStarted("AddIssuerKey")
	if s.creds.issuers == nil {
		s.creds.issuers = map[string][]crypto.PublicKey{}
	}
	s.creds.issuers[issuer] = append(s.creds.issuers[issuer], key)
	return s
}

// AddManagedIdentity registers a managed identity of a tenant (its client
// id), served by ManagedIdentityEndpoint; the first one added is the
// system-assigned identity. It panics after Start or for an unknown tenant.
func (s *Server) AddManagedIdentity(tenantID, clientID string) *Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.setupTenantLocked("AddManagedIdentity", tenantID)
	if s.creds.identityHeader == "" {
		var b [24]byte
		_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
		s.creds.identityHeader = base64.RawURLEncoding.EncodeToString(b[:])
	}
	s.creds.identities = append(s.creds.identities, identity{tenant: t, clientID: clientID})
	return s
}

// ManagedIdentityEndpoint returns what App Service puts in IDENTITY_ENDPOINT
// and IDENTITY_HEADER for the identities added with AddManagedIdentity; the
// header is a secret. Both are "" before Start or without identities.
func (s *Server) ManagedIdentityEndpoint() (endpoint, header string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.url == "" || s.creds.identityHeader == "" {
		return "", ""
	}
	return s.url + managedIdentityPath, s.creds.identityHeader
}

// certThumbprints are the two ways an assertion header names a certificate.
func certThumbprints(c *x509.Certificate) (sha1Sum, sha256Sum []byte) {
	s1 := sha1.Sum(c.Raw) // #nosec G401 -- x5t is SHA-1 by definition (RFC 7515)
	s256 := sha256.Sum256(c.Raw)
	return s1[:], s256[:]
}
