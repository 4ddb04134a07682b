package connector

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

const (
	certClientID = "33333333-3333-3333-3333-333333333333"
	wiClientID   = "44444444-4444-4444-4444-444444444444"
	miClientID   = "55555555-5555-5555-5555-555555555555"
	testDomain   = "contoso.onmicrosoft.com"
	testIssuer   = "https://oidc.aks.example/issuer/"
	testSubject  = "system:serviceaccount:certrotator:worker"
	sniSubject   = "certrotator.contoso.example"
)

// credHarness is an emulator registering every credential kind, and the
// material behind them.
type credHarness struct {
	sim     *graphsim.Server
	clock   *atomic.Pointer[time.Time]
	leaf    *x509.Certificate // registered on certClientID, key testKey
	ca      *x509.Certificate // trusted for sniSubject
	sniLeaf *x509.Certificate // signed by ca, key testkit.OtherRSAKey, not registered
	dir     string
}

func credSetup(t *testing.T) *credHarness {
	t.Helper()
	h := &credHarness{clock: &atomic.Pointer[time.Time]{}, dir: t.TempDir()}
	now := time.Now()
	nb, na := now.Add(-time.Hour), now.Add(48*time.Hour)
	ca := testkit.NewCert(t, testkit.CertSpec{CN: "Contoso CA", Key: testkit.RSAKey(t, 2048), NotBefore: nb, NotAfter: na})
	h.leaf = testkit.NewCert(t, testkit.CertSpec{CN: "certrotator", Key: testkit.RSAKey(t, 2048), NotBefore: nb, NotAfter: na}).Cert
	h.ca = ca.Cert
	h.sniLeaf = testkit.NewCert(t, testkit.CertSpec{CN: sniSubject, Key: testkit.OtherRSAKey(t), NotBefore: nb, NotAfter: na, Issuer: &ca}).Cert
	h.sim = graphsim.NewTest(t).
		WithClock(func() time.Time {
			if p := h.clock.Load(); p != nil {
				return *p
			}
			return time.Now()
		}).
		AddTenant(testTenantID, certClientID, "").
		AddTenant(testTenantID, wiClientID, "").
		AddDomain(testTenantID, testDomain).
		AddConnector(testTenantID, testConnectorID, "contoso-api", seedCert).
		AddCertificate(testTenantID, certClientID, h.leaf).
		AddTrustedSubject(testTenantID, certClientID, sniSubject, h.ca).
		AddFederatedCredential(testTenantID, wiClientID, graphsim.FederatedCredential{Issuer: testIssuer, Subject: testSubject}).
		AddIssuerKey(testIssuer, testkit.OtherRSAKey(t).Public()).
		AddManagedIdentity(testTenantID, miClientID).
		Start()
	return h
}

// client builds a Client for one tenant through the emulator's transport.
func (h *credHarness) client(t *testing.T, ten Tenant, logs *testkit.LogBuffer) (*Client, error) {
	t.Helper()
	ten.AuthorityURL, ten.GraphURL = h.sim.URL(), h.sim.URL()
	tr := h.sim.Client().Transport.(*http.Transport)
	t.Cleanup(tr.CloseIdleConnections)
	cfg := Config{Tenants: map[string]Tenant{testTenantKey: ten}, Transport: tr, MaxRetries: -1,
		SleepFunc: func(ctx context.Context, _ time.Duration) error { return ctx.Err() }}
	if logs != nil {
		cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return New(cfg)
}

func (h *credHarness) mustGet(t *testing.T, c *Client) {
	t.Helper()
	st, err := c.Get(t.Context(), testTenantKey, testConnectorID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if st.ID != testConnectorID {
		t.Fatalf("Get = %+v", st)
	}
}

func (h *credHarness) write(t *testing.T, name string, data []byte) string {
	t.Helper()
	return testkit.WriteFile(t, h.dir, name, string(data))
}

func keyPEM(t *testing.T, key *rsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func certPEM(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func TestCertificateFiles(t *testing.T) {
	t.Parallel()
	h := credSetup(t)
	pemFile := h.write(t, "app.pem", append(certPEM(h.leaf), keyPEM(t, testkit.RSAKey(t, 2048))...))
	pfx, err := pkcs12.LegacyDES.Encode(testkit.RSAKey(t, 2048), h.leaf, nil, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	pfxFile := h.write(t, "app.pfx", pfx)
	aes, err := pkcs12.Modern2023.Encode(testkit.RSAKey(t, 2048), h.leaf, nil, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	aesFile := h.write(t, "aes.pfx", aes)
	sniFile := h.write(t, "sni.pem", append(append(certPEM(h.sniLeaf), certPEM(h.ca)...), keyPEM(t, testkit.OtherRSAKey(t))...))
	for name, ten := range map[string]Tenant{
		"pem":            {TenantID: testTenantID, ClientID: certClientID, ClientCertificateFile: pemFile},
		"pfx":            {TenantID: testTenantID, ClientID: certClientID, ClientCertificateFile: pfxFile, ClientCertificatePassword: testPassword},
		"pfx AES":        {TenantID: testTenantID, ClientID: certClientID, ClientCertificateFile: aesFile, ClientCertificatePassword: testPassword},
		"domain":         {TenantID: testDomain, ClientID: certClientID, ClientCertificateFile: pemFile},
		"x5c subject/CA": {TenantID: testTenantID, ClientID: certClientID, ClientCertificateFile: sniFile, SendCertificateChain: true},
	} {
		c, err := h.client(t, ten, nil)
		if err != nil {
			t.Fatalf("%s: New: %v", name, err)
		}
		h.mustGet(t, c)
	}
	// Without x5c the subject/CA leaf is a certificate Entra never saw.
	c, err := h.client(t, Tenant{TenantID: testTenantID, ClientID: certClientID, ClientCertificateFile: sniFile}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantAuthFailure(t, c, jobs.ClassPermanent, "AADSTS700027")
}

// wantAuthFailure checks that Get fails with an Entra code and class.
func wantAuthFailure(t *testing.T, c *Client, class jobs.Class, code string) error {
	t.Helper()
	_, err := c.Get(t.Context(), testTenantKey, testConnectorID)
	f := jobs.AsFailure(err)
	var ae *AuthError
	if f == nil || f.Class != class || f.Code != code || !errors.As(err, &ae) {
		t.Fatalf("Get error = %v (%+v), want %s %s from the token endpoint", err, f, class, code)
	}
	return err
}

func TestCertificateRefusedByEntra(t *testing.T) {
	t.Parallel()
	h := credSetup(t)
	stranger := testkit.NewCert(t, testkit.CertSpec{CN: "certrotator", Key: testkit.OtherRSAKey(t), NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(48 * time.Hour)}).Cert
	logs := &testkit.LogBuffer{}
	keyText := keyPEM(t, testkit.OtherRSAKey(t))
	c, err := h.client(t, Tenant{TenantID: testTenantID, ClientID: certClientID,
		ClientCertificateFile: h.write(t, "stranger.pem", append(certPEM(stranger), keyText...))}, logs)
	if err != nil {
		t.Fatal(err)
	}
	err = wantAuthFailure(t, c, jobs.ClassPermanent, "AADSTS700027")
	body := strings.Split(string(keyText), "\n")[1] // a line of the key's base64
	if strings.Contains(err.Error(), body) || strings.Contains(logs.String(), body) {
		t.Error("the private key leaked into the error or the logs")
	}

	// The file is replaced by the certificate Entra knows (a renewal): the
	// same Client picks it up at its next token request.
	h.write(t, "stranger.pem", append(certPEM(h.leaf), keyPEM(t, testkit.RSAKey(t, 2048))...))
	h.mustGet(t, c)

	// MSAL dates its assertion by the wall clock; Entra's is a day on.
	later := time.Now().Add(24 * time.Hour)
	h.clock.Store(&later)
	c, err = h.client(t, Tenant{TenantID: testTenantID, ClientID: certClientID,
		ClientCertificateFile: h.write(t, "app.pem", append(certPEM(h.leaf), keyPEM(t, testkit.RSAKey(t, 2048))...))}, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantAuthFailure(t, c, jobs.ClassPermanent, "AADSTS700024")
}

func TestCertificateFuncSeam(t *testing.T) {
	t.Parallel()
	h := credSetup(t)
	var calls atomic.Int32
	seam := func(ctx context.Context) ([]*x509.Certificate, crypto.PrivateKey, error) {
		calls.Add(1)
		return []*x509.Certificate{h.leaf}, testkit.RSAKey(t, 2048), ctx.Err()
	}
	c, err := h.client(t, Tenant{TenantID: testTenantID, ClientID: certClientID, Certificate: seam}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := calls.Load(); n != 0 {
		t.Errorf("New called the CertificateFunc %d times; it may do network I/O and must wait for a call", n)
	}
	h.mustGet(t, c)
	h.mustGet(t, c)
	if n := calls.Load(); n != 1 {
		t.Errorf("CertificateFunc calls after two Gets = %d, want 1 (the credential caches the token)", n)
	}
	h.sim.ExpireTokens() // Graph answers 401: the credential is rebuilt
	h.mustGet(t, c)
	if n := calls.Load(); n != 2 {
		t.Errorf("CertificateFunc calls after a refresh = %d, want 2", n)
	}

	// The Vault seam: a PKCS#12 bundle and its password from memory.
	bundle, err := pkcs12.Modern2023.Encode(testkit.RSAKey(t, 2048), h.leaf, nil, testPassword)
	if err != nil {
		t.Fatal(err)
	}
	vault := CertificateFromPKCS12(func(context.Context) ([]byte, string, error) { return bundle, testPassword, nil })
	c, err = h.client(t, Tenant{TenantID: testTenantID, ClientID: certClientID, Certificate: vault}, nil)
	if err != nil {
		t.Fatal(err)
	}
	h.mustGet(t, c)
	wrongPassword := CertificateFromPKCS12(func(context.Context) ([]byte, string, error) { return bundle, "not-" + testPassword, nil })
	c, err = h.client(t, Tenant{TenantID: testTenantID, ClientID: certClientID, Certificate: wrongPassword}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(t.Context(), testTenantKey, testConnectorID)
	if f := jobs.AsFailure(err); f == nil || f.Class != jobs.ClassPermanent || f.Code != CodeInvalidCredential || strings.Contains(err.Error(), testPassword) {
		t.Errorf("Get with a bundle and the wrong password = %v (%+v), want a permanent %s without the password", err, jobs.AsFailure(err), CodeInvalidCredential)
	}

	failing := func(context.Context) ([]*x509.Certificate, crypto.PrivateKey, error) {
		return nil, nil, jobs.Transient("vault_unavailable", errors.New("vault sealed"))
	}
	c, err = h.client(t, Tenant{TenantID: testTenantID, ClientID: certClientID, Certificate: failing}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Get(t.Context(), testTenantKey, testConnectorID)
	if f := jobs.AsFailure(err); f == nil || f.Class != jobs.ClassTransient || f.Code != "vault_unavailable" {
		t.Errorf("Get with a failing CertificateFunc = %v, want its transient failure", err)
	}
}

// federatedJWT is what the kubelet writes: a token of testIssuer.
func federatedJWT(t *testing.T, sub string) string {
	t.Helper()
	now := time.Now()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT", "kid": "k1"}) + "." + enc(map[string]any{
		"iss": testIssuer, "sub": sub, "aud": []string{graphsim.FederatedAudienceDefault},
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, testkit.OtherRSAKey(t), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestWorkloadIdentityRereadsTokenFile(t *testing.T) {
	t.Parallel()
	h := credSetup(t)
	good := federatedJWT(t, testSubject)
	file := h.write(t, "azure-identity-token", []byte(good+"\n"))
	logs := &testkit.LogBuffer{}
	c, err := h.client(t, Tenant{TenantID: testTenantID, ClientID: wiClientID, FederatedTokenFile: file}, logs)
	if err != nil {
		t.Fatal(err)
	}
	h.mustGet(t, c)

	// The kubelet rotates the file; the next token request must read the
	// new one: a token Entra refuses proves it was read.
	stranger := federatedJWT(t, "system:serviceaccount:default:default")
	h.write(t, "azure-identity-token", []byte(stranger))
	h.sim.ExpireTokens()
	err = wantAuthFailure(t, c, jobs.ClassPermanent, "AADSTS700213")
	for _, tok := range []string{good, stranger} {
		sig := tok[strings.LastIndex(tok, ".")+1:]
		if strings.Contains(err.Error(), sig) || strings.Contains(logs.String(), sig) {
			t.Error("a federated token leaked into the error or the logs")
		}
	}

	h.write(t, "azure-identity-token", []byte(federatedJWT(t, testSubject)))
	h.mustGet(t, c)

	// Without a rebuild either: azidentity asks for a token again when its
	// cached one expires, here another scope's, and must read the file
	// then, not when the credential was built.
	cred, _, err := c.tenants[testTenantKey].credential(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	h.write(t, "azure-identity-token", []byte(stranger))
	_, err = cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://graph.microsoft.com/.default"}})
	if err == nil || !strings.Contains(err.Error(), "AADSTS700213") {
		t.Errorf("second token request of one credential after rotation = %v, want AADSTS700213", err)
	}
}

// TestManagedIdentity runs azidentity's App Service managed identity
// against the emulator's endpoint. It cannot be parallel: azidentity reads
// IDENTITY_ENDPOINT and IDENTITY_HEADER from the process environment.
func TestManagedIdentity(t *testing.T) {
	h := credSetup(t)
	endpoint, header := h.sim.ManagedIdentityEndpoint()
	t.Setenv("IDENTITY_ENDPOINT", endpoint)
	t.Setenv("IDENTITY_HEADER", header)
	for _, id := range []string{"", miClientID} {
		c, err := h.client(t, Tenant{TenantID: testTenantID, ManagedIdentity: true, ManagedIdentityClientID: id}, nil)
		if err != nil {
			t.Fatal(err)
		}
		h.mustGet(t, c)
	}
	c, err := h.client(t, Tenant{TenantID: testTenantID, ManagedIdentity: true, ManagedIdentityClientID: wiClientID}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(t.Context(), testTenantKey, testConnectorID); jobs.AsFailure(err) == nil || !errors.As(err, new(*AuthError)) {
		t.Errorf("Get with an identity not assigned = %v, want an AuthError", err)
	}
	var sawMI bool
	for _, r := range h.sim.Requests() {
		sawMI = sawMI || (r.Path == "/msi/token" && r.Status == 200)
	}
	if !sawMI {
		t.Error("no token came from the managed identity endpoint")
	}
}

func TestCAFile(t *testing.T) {
	t.Parallel()
	h := credSetup(t)
	pemFile := h.write(t, "app.pem", append(certPEM(h.leaf), keyPEM(t, testkit.RSAKey(t, 2048))...))
	ten := Tenant{TenantID: testDomain, ClientID: certClientID, ClientCertificateFile: pemFile,
		AuthorityURL: h.sim.URL(), GraphURL: h.sim.URL()}
	newClient := func(ten Tenant) *Client {
		// The default transport: system roots only, as in production.
		c, err := New(Config{Tenants: map[string]Tenant{testTenantKey: ten}, MaxRetries: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.cfg.Transport.(*http.Transport).CloseIdleConnections)
		return c
	}
	// The control: without ca_file the emulator's certificate is unknown.
	if _, err := newClient(ten).Get(t.Context(), testTenantKey, testConnectorID); err == nil || !strings.Contains(err.Error(), "x509") {
		t.Fatalf("Get without ca_file = %v, want an x509 error", err)
	}
	ten.CAFile = h.write(t, "ca.pem", h.sim.CACertPEM())
	c := newClient(ten)
	h.mustGet(t, c)
	for _, tc := range c.tenants {
		if tc.http.Transport.(*warmTransport).base == c.cfg.Transport {
			t.Error("the tenant with ca_file shares the default transport")
		}
	}
}

func TestNewRefusesCredentialMistakes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	base := Tenant{TenantID: testTenantID, ClientID: testClientID}
	tests := []struct {
		name    string
		tenant  Tenant
		wantErr string
	}{
		{"none", base, "client_secret is empty"},
		{"two kinds", with(base, func(t *Tenant) { t.ClientSecret, t.FederatedTokenFile = "s3cr3t-value", "/tok" }), "set exactly one credential, not client_secret,workload_identity"},
		{"workload identity without a file", with(base, func(t *Tenant) { t.WorkloadIdentity = true }), "workload identity needs the federated token file"},
		{"x5c with a secret", with(base, func(t *Tenant) { t.ClientSecret, t.SendCertificateChain = "s3cr3t-value", true }), "send_certificate_chain applies to a client certificate only"},
		{"missing certificate file", with(base, func(t *Tenant) { t.ClientCertificateFile = filepath.Join(dir, "nope.pem") }), "reading client certificate: open"},
		{"not a certificate", with(base, func(t *Tenant) {
			t.ClientCertificateFile, t.ClientCertificatePassword = notPEM, "s3cr3t-value"
		}), "parsing client certificate " + notPEM},
		{"ca_file missing", with(base, func(t *Tenant) { t.ClientSecret, t.CAFile = "s3cr3t-value", filepath.Join(dir, "ca.pem") }), "reading ca_file: open"},
		{"ca_file not PEM", with(base, func(t *Tenant) { t.ClientSecret, t.CAFile = "s3cr3t-value", notPEM }), "holds no PEM certificate"},
		{"US Government", with(base, func(t *Tenant) { t.ClientSecret, t.Cloud = "s3cr3t-value", "usgovernment" }), "US Government clouds are not supported"},
		{"managed identity without client id", Tenant{TenantID: testTenantID, ManagedIdentity: true, ManagedIdentityClientID: miClientID}, ""},
	}
	for _, tt := range tests {
		_, err := New(Config{Tenants: map[string]Tenant{"contoso": tt.tenant}})
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("%s: New: %v", tt.name, err)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: New error = %v, want %q", tt.name, err, tt.wantErr)
		case err != nil && strings.Contains(err.Error(), "s3cr3t-value"):
			t.Errorf("%s: New error %q holds a secret", tt.name, err)
		}
	}
}
