package graphsim_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

const (
	certClient = "33333333-aaaa-bbbb-cccc-000000000003"
	wiClient   = "44444444-aaaa-bbbb-cccc-000000000004"
	domain     = "contoso.onmicrosoft.com"
	issuer     = "https://oidc.aks.example/tenant/issuer/"
	saSubject  = "system:serviceaccount:certrotator:worker"
)

// credFixture is an emulator with a certificate app, an SNI-trusted
// subject, a federated credential and a domain, plus the keys behind them.
type credFixture struct {
	s      *graphsim.Server
	clock  *testkit.Clock
	leaf   testkit.Cert // registered on certClient
	caLeaf testkit.Cert // signed by ca, not registered: SNI only
}

func credSetup(t *testing.T) credFixture {
	t.Helper()
	now := time.Now()
	clock := testkit.NewClock(now)
	leaf := testkit.NewCert(t, testkit.CertSpec{CN: "certrotator", Key: testkit.RSAKey(t, 2048), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	ca := testkit.NewCert(t, testkit.CertSpec{CN: "Contoso Issuing CA", Key: testkit.ECKey(t), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour)})
	caLeaf := testkit.NewCert(t, testkit.CertSpec{CN: "certrotator.contoso.example", Key: testkit.OtherRSAKey(t), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), Issuer: &ca})
	s := graphsim.NewTest(t).WithClock(clock.Now).
		AddTenant(tenantID, certClient, "").
		AddTenant(tenantID, wiClient, "").
		AddDomain(tenantID, domain).
		AddConnector(tenantID, connID, "contoso-api").
		AddCertificate(tenantID, certClient, leaf.Cert).
		AddTrustedSubject(tenantID, certClient, "certrotator.contoso.example", ca.Cert).
		AddFederatedCredential(tenantID, wiClient, graphsim.FederatedCredential{Issuer: issuer, Subject: saSubject}).
		AddIssuerKey(issuer, testkit.OtherRSAKey(t).Public()).
		Start()
	return credFixture{s: s, clock: clock, leaf: leaf, caLeaf: caLeaf}
}

func clientOptions(s *graphsim.Server) azcore.ClientOptions {
	return azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: s.URL() + "/"},
		Transport: s.Client(),
		Retry:     policy.RetryOptions{MaxRetries: -1},
	}
}

func certCredential(t *testing.T, s *graphsim.Server, tenant string, c testkit.Cert, x5c bool) *azidentity.ClientCertificateCredential {
	t.Helper()
	cred, err := azidentity.NewClientCertificateCredential(tenant, certClient, []*x509.Certificate{c.Cert}, c.Key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOptions(s), DisableInstanceDiscovery: true, SendCertificateChain: x5c})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

var graphScope = policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}}

// wantAADSTS checks that err is Entra's answer with code and holds none of
// the secrets.
func wantAADSTS(t *testing.T, err error, status int, code string, secrets ...string) {
	t.Helper()
	var afe *azidentity.AuthenticationFailedError
	if !errors.As(err, &afe) || afe.RawResponse == nil {
		t.Fatalf("err = %v, want an answer of the token endpoint", err)
	}
	if afe.RawResponse.StatusCode != status || !strings.Contains(err.Error(), code) {
		t.Errorf("status %d, error %q: want %d and %s", afe.RawResponse.StatusCode, err, status, code)
	}
	testkit.NoSecrets(t, "error", []byte(err.Error()), secrets...)
}

func TestCertificateCredentialGetsGraphToken(t *testing.T) {
	t.Parallel()
	f := credSetup(t)
	for _, tenant := range []string{tenantID, domain, strings.ToUpper(domain)} {
		tok, err := certCredential(t, f.s, tenant, f.leaf, false).GetToken(t.Context(), graphScope)
		if err != nil {
			t.Fatalf("tenant %s: %s", tenant, err)
		}
		if c := testkit.GetConnector(t, f.s, tok.Token, connID); c.ID != connID {
			t.Errorf("tenant %s: connector %q", tenant, c.ID)
		}
	}
	var byDomain bool
	for _, r := range f.s.Requests() {
		if r.Path == "/"+domain+"/v2.0/.well-known/openid-configuration" && r.TenantID == tenantID {
			byDomain = true
		}
	}
	if !byDomain {
		t.Error("no request named the tenant by its domain; the token URL must use what the user gave")
	}
}

func TestCertificateRefusals(t *testing.T) {
	t.Parallel()
	f := credSetup(t)
	now := time.Now()
	stranger := testkit.NewCert(t, testkit.CertSpec{CN: "certrotator", Key: testkit.OtherRSAKey(t), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)})
	_, err := certCredential(t, f.s, tenantID, stranger, false).GetToken(t.Context(), graphScope)
	wantAADSTS(t, err, http.StatusUnauthorized, "AADSTS700027")
	if !strings.Contains(err.Error(), "The key was not found") {
		t.Errorf("error %q does not say the key is unknown", err)
	}

	// The chain of an SNI-trusted leaf is accepted only when sent.
	if _, err := certCredential(t, f.s, tenantID, f.caLeaf, true).GetToken(t.Context(), graphScope); err != nil {
		t.Errorf("subject-name/issuer with x5c: %s", err)
	}
	_, err = certCredential(t, f.s, tenantID, f.caLeaf, false).GetToken(t.Context(), graphScope)
	wantAADSTS(t, err, http.StatusUnauthorized, "AADSTS700027")

	// MSAL dates its assertion by the wall clock; the emulator's is an hour on.
	f.clock.Set(now.Add(time.Hour))
	_, err = certCredential(t, f.s, tenantID, f.leaf, false).GetToken(t.Context(), graphScope)
	wantAADSTS(t, err, http.StatusUnauthorized, "AADSTS700024")
}

// assertion signs claims with key as alg, naming cert by thumbprint.
func assertion(t testing.TB, key *rsa.PrivateKey, alg string, header, claims map[string]any) string {
	t.Helper()
	header["alg"], header["typ"] = alg, "JWT"
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(header) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	var sig []byte
	var err error
	if alg == "PS256" {
		sig, err = rsa.SignPSS(rand.Reader, key, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	} else {
		sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, sum[:])
	}
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

// postAssertion runs the grant by hand and returns the status and body.
func postAssertion(t *testing.T, s *graphsim.Server, client, jwt string) (int, []byte) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {client}, "scope": {"https://graph.microsoft.com/.default"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {jwt}}
	resp, body := testkit.GraphDo(t, s, http.MethodPost, "/"+tenantID+"/oauth2/v2.0/token", "", "application/x-www-form-urlencoded", form.Encode())
	parts := strings.Split(jwt, ".")
	testkit.NoSecrets(t, "token answer", body, jwt, parts[len(parts)-1])
	return resp.StatusCode, body
}

func TestHandMadeAssertions(t *testing.T) {
	t.Parallel()
	f := credSetup(t)
	now := time.Now()
	s1, s256 := sha1.Sum(f.leaf.Cert.Raw), sha256.Sum256(f.leaf.Cert.Raw)
	x5t := base64.RawURLEncoding.EncodeToString(s1[:])
	aud := f.s.URL() + "/" + tenantID + "/oauth2/v2.0/token"
	claims := func(mod func(map[string]any)) map[string]any {
		c := map[string]any{"aud": aud, "iss": certClient, "sub": certClient, "jti": "1",
			"nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
		if mod != nil {
			mod(c)
		}
		return c
	}
	cases := []struct {
		name   string
		key    *rsa.PrivateKey
		alg    string
		header map[string]any
		claims map[string]any
		status int
		code   string
	}{
		{"RS256 with x5t", testkit.RSAKey(t, 2048), "RS256", map[string]any{"x5t": x5t}, claims(nil), 200, ""},
		{"PS256 with x5t#S256", testkit.RSAKey(t, 2048), "PS256", map[string]any{"x5t#S256": base64.StdEncoding.EncodeToString(s256[:])}, claims(nil), 200, ""},
		{"audience by domain", testkit.RSAKey(t, 2048), "RS256", map[string]any{"x5t": x5t},
			claims(func(c map[string]any) { c["aud"] = f.s.URL() + "/" + domain + "/oauth2/v2.0/token" }), 200, ""},
		{"wrong audience", testkit.RSAKey(t, 2048), "RS256", map[string]any{"x5t": x5t},
			claims(func(c map[string]any) {
				c["aud"] = "https://login.microsoftonline.com/" + tenantID + "/oauth2/v2.0/token"
			}), 401, "AADSTS700023"},
		{"sub is not the client", testkit.RSAKey(t, 2048), "RS256", map[string]any{"x5t": x5t},
			claims(func(c map[string]any) { c["sub"] = otherClient }), 401, "AADSTS700021"},
		{"expired", testkit.RSAKey(t, 2048), "RS256", map[string]any{"x5t": x5t},
			claims(func(c map[string]any) { c["exp"] = now.Add(-time.Hour).Unix() }), 401, "AADSTS700024"},
		{"not yet valid", testkit.RSAKey(t, 2048), "RS256", map[string]any{"x5t": x5t},
			claims(func(c map[string]any) { c["nbf"] = now.Add(time.Hour).Unix() }), 401, "AADSTS700024"},
		{"signed by another key", testkit.OtherRSAKey(t), "RS256", map[string]any{"x5t": x5t}, claims(nil), 401, "AADSTS700027"},
		{"alg none", testkit.RSAKey(t, 2048), "none", map[string]any{"x5t": x5t}, claims(nil), 401, "AADSTS700027"},
	}
	for _, c := range cases {
		status, body := postAssertion(t, f.s, certClient, assertion(t, c.key, c.alg, c.header, c.claims))
		if status != c.status || !strings.Contains(string(body), c.code) {
			t.Errorf("%s: %d %s, want %d %s", c.name, status, body, c.status, c.code)
		}
	}
	if status, body := postAssertion(t, f.s, certClient, "not.a-jwt"); status != 400 || !strings.Contains(string(body), "AADSTS50027") {
		t.Errorf("malformed: %d %s", status, body)
	}
}

func federatedToken(t *testing.T, key *rsa.PrivateKey, iss, sub, aud string, exp time.Time) string {
	t.Helper()
	return assertion(t, key, "RS256", map[string]any{"kid": "k1"}, map[string]any{
		"iss": iss, "sub": sub, "aud": []string{aud}, "exp": exp.Unix(), "nbf": exp.Add(-time.Hour).Unix(), "iat": exp.Add(-time.Hour).Unix()})
}

func TestWorkloadIdentityFederation(t *testing.T) {
	t.Parallel()
	f := credSetup(t)
	exp := time.Now().Add(30 * time.Minute)
	var calls int
	cred, err := azidentity.NewClientAssertionCredential(tenantID, wiClient, func(ctx context.Context) (string, error) {
		calls++
		return federatedToken(t, testkit.OtherRSAKey(t), issuer, saSubject, graphsim.FederatedAudienceDefault, exp), nil
	}, &azidentity.ClientAssertionCredentialOptions{ClientOptions: clientOptions(f.s), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(t.Context(), graphScope)
	if err != nil {
		t.Fatal(err)
	}
	if c := testkit.GetConnector(t, f.s, tok.Token, connID); c.ID != connID || calls != 1 {
		t.Errorf("connector %q after %d assertion calls", c.ID, calls)
	}

	cases := []struct {
		name, jwt, code string
	}{
		{"unknown subject", federatedToken(t, testkit.OtherRSAKey(t), issuer, "system:serviceaccount:default:default", graphsim.FederatedAudienceDefault, exp), "AADSTS700213"},
		{"wrong audience", federatedToken(t, testkit.OtherRSAKey(t), issuer, saSubject, "api://AzureADMyOrg", exp), "AADSTS700212"},
		{"unknown issuer", federatedToken(t, testkit.OtherRSAKey(t), "https://evil.example/", saSubject, graphsim.FederatedAudienceDefault, exp), "AADSTS700211"},
		{"not the issuer's key", federatedToken(t, testkit.RSAKey(t, 2048), issuer, saSubject, graphsim.FederatedAudienceDefault, exp), "AADSTS700027"},
		{"expired", federatedToken(t, testkit.OtherRSAKey(t), issuer, saSubject, graphsim.FederatedAudienceDefault, time.Now().Add(-time.Hour)), "AADSTS700024"},
	}
	for _, c := range cases {
		status, body := postAssertion(t, f.s, wiClient, c.jwt)
		if status != http.StatusUnauthorized || !strings.Contains(string(body), c.code) {
			t.Errorf("%s: %d %s, want 401 %s", c.name, status, body, c.code)
		}
	}
}

func TestAppWithoutSecretRefusesSecrets(t *testing.T) {
	t.Parallel()
	f := credSetup(t)
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {certClient}, "client_secret": {"guess"},
		"scope": {"https://graph.microsoft.com/.default"}}
	resp, body := testkit.GraphDo(t, f.s, http.MethodPost, "/"+tenantID+"/oauth2/v2.0/token", "", "application/x-www-form-urlencoded", form.Encode())
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "AADSTS7000215") {
		t.Errorf("secret for an app without one: %d %s", resp.StatusCode, body)
	}
}

func TestManagedIdentityEndpoint(t *testing.T) {
	t.Parallel()
	s := graphsim.NewTest(t).AddTenant(tenantID, clientID, clientSecret).AddConnector(tenantID, connID, "contoso-api").
		AddManagedIdentity(tenantID, certClient).AddManagedIdentity(tenantID, wiClient).Start()
	endpoint, header := s.ManagedIdentityEndpoint()
	get := func(hdr, query string) (int, map[string]any) {
		req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, endpoint+"?"+query, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("X-IDENTITY-HEADER", hdr)
		resp, err := s.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, out
	}
	q := "api-version=2019-08-01&resource=" + url.QueryEscape("https://graph.microsoft.com")
	status, out := get(header, q)
	if status != 200 || out["client_id"] != certClient {
		t.Fatalf("system-assigned: %d %v", status, out)
	}
	if c := testkit.GetConnector(t, s, out["access_token"].(string), connID); c.ID != connID {
		t.Errorf("connector %q with a managed identity token", c.ID)
	}
	if status, out := get(header, q+"&client_id="+wiClient); status != 200 || out["client_id"] != wiClient {
		t.Errorf("user-assigned: %d %v", status, out)
	}
	if status, _ := get("wrong", q); status != http.StatusUnauthorized {
		t.Errorf("wrong header: %d", status)
	}
	if status, _ := get(header, q+"&client_id="+otherClient); status != http.StatusBadRequest {
		t.Errorf("unknown identity: %d", status)
	}
	for _, r := range s.Requests() {
		if r.Header.Get("X-IDENTITY-HEADER") != "" {
			t.Errorf("request %s recorded the identity header", r.Path)
		}
	}
}
