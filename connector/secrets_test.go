package connector

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

func TestNoSecretsInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	h := setup(t)
	b := newBundle(t, pkcs12.LegacyDES, testPassword)
	aes := newBundle(t, pkcs12.Modern2023, testPassword)
	var errs []error
	collect := func(_ jobs.ConnectorState, err error) { errs = append(errs, err) }

	collect(h.client.Get(t.Context(), testTenantKey, testConnectorID))
	h.sim.FailNext(1, graphsimFault(429, "", "1"))
	collect(h.client.Upload(t.Context(), testTenantKey, testConnectorID, b.PFX, b.Password))
	collect(h.client.Upload(t.Context(), testTenantKey, testConnectorID, aes.PFX, aes.Password))
	collect(h.client.Upload(t.Context(), testTenantKey, testConnectorID, b.PFX, "wrong-pa55word"))
	h.sim.ExpireTokens()
	h.sim.FailNext(10, graphsimFault(503, "", ""))
	collect(h.client.Upload(t.Context(), testTenantKey, missingConn, b.PFX, b.Password))

	wrong := setup(t, func(c *Config) {
		ten := c.Tenants[testTenantKey]
		ten.ClientSecret = "wrong-" + testSecret
		c.Tenants[testTenantKey] = ten
	})
	collect(wrong.client.Upload(t.Context(), testTenantKey, testConnectorID, b.PFX, b.Password))

	var text strings.Builder
	failures := 0
	for _, err := range errs {
		if err != nil {
			failures++
			fmt.Fprintf(&text, "%s\n%+v\n%#v\n", err, err, jobs.AsFailure(err))
		}
	}
	if failures != 4 {
		t.Fatalf("got %d failures, want 4 (AES, wrong password, retries exhausted, wrong secret): %v", failures, errs)
	}
	text.WriteString(h.logs.String())
	text.WriteString(wrong.logs.String())
	secrets := map[string]string{
		"client secret":   testSecret,
		"pfx password":    testPassword,
		"wrong password":  "wrong-pa55word",
		"base64 pfx":      base64.StdEncoding.EncodeToString(b.PFX),
		"base64 AES pfx":  base64.StdEncoding.EncodeToString(aes.PFX),
		"base64 pfx head": base64.StdEncoding.EncodeToString(b.PFX)[:24],
	}
	tokens := h.tokens.all()
	if len(tokens) < 2 {
		t.Fatalf("recorded %d bearer tokens, want at least 2 (before and after ExpireTokens)", len(tokens))
	}
	for i, tok := range tokens {
		secrets[fmt.Sprintf("token %d", i)] = tok
	}
	for name, v := range secrets {
		if strings.Contains(text.String(), v) {
			t.Errorf("the %s appears in errors or logs", name)
		}
	}
	if !strings.Contains(text.String(), "AADB2C90213") || !strings.Contains(text.String(), "AADSTS7000215") {
		t.Errorf("errors and logs lack the failure codes, so the check above saw too little:\n%s", text.String())
	}
}

// sslHelperEnv switches TestSSLCertFile into the child process's role.
const sslHelperEnv = "CONNECTOR_TEST_SSL_HELPER_URL"

// TestSSLCertFile checks that a Client with the default transport trusts
// the CA named by SSL_CERT_FILE. crypto/x509 reads the variable once per
// process, so the check runs in a child process of this test binary.
func TestSSLCertFile(t *testing.T) {
	t.Parallel()
	if url := os.Getenv(sslHelperEnv); url != "" {
		sslHelper(t, url)
		return
	}
	sim := graphsim.NewTest(t).AddTenant(testTenantID, testClientID, testSecret).
		AddConnector(testTenantID, testConnectorID, "contoso-api", seedCert).Start()
	caFile := testkit.WriteFile(t, t.TempDir(), "graphsim-ca.pem", string(sim.CACertPEM()))
	run := func(certFile string) (string, error) {
		cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestSSLCertFile$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), sslHelperEnv+"="+sim.URL(), "SSL_CERT_FILE="+certFile, "SSL_CERT_DIR="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := run(caFile); err != nil {
		t.Errorf("with SSL_CERT_FILE=%s the child failed: %v\n%s", caFile, err, out)
	}
	// The control: without the CA the same child must fail, or the test
	// above proves nothing.
	empty := testkit.WriteFile(t, t.TempDir(), "empty.pem", "")
	if out, err := run(empty); err == nil || !strings.Contains(out, "x509") {
		t.Errorf("without the CA the child succeeded or failed for another reason: %v\n%s", err, out)
	}
}

// sslHelper is the child: a Client with no Transport reads the connector.
func sslHelper(t *testing.T, url string) {
	c, err := New(Config{
		Tenants: map[string]Tenant{testTenantKey: {
			TenantID: testTenantID, ClientID: testClientID, ClientSecret: testSecret,
			AuthorityURL: url, GraphURL: url,
		}},
		MaxRetries: -1,
	})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer c.cfg.Transport.(*http.Transport).CloseIdleConnections()
	st, err := c.Get(t.Context(), testTenantKey, testConnectorID)
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if st.ID != testConnectorID {
		t.Fatalf("Get = %+v, want connector %s", st, testConnectorID)
	}
}
