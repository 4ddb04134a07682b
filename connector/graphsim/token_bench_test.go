package graphsim_test

import (
	"crypto/sha1"
	"encoding/base64"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

// BenchmarkTokenGrant measures one client-credentials grant through the
// emulator over HTTPS: with a secret, and with a certificate assertion
// whose RSA signature the emulator verifies.
func BenchmarkTokenGrant(b *testing.B) {
	now := time.Now()
	leaf := testkit.NewCert(b, testkit.CertSpec{CN: "certrotator", Key: testkit.RSAKey(b, 2048), NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour)})
	s := graphsim.NewTest(b).AddTenant(tenantID, clientID, clientSecret).AddTenant(tenantID, certClient, "").
		AddCertificate(tenantID, certClient, leaf.Cert).Start()
	hc := s.Client()
	b.Cleanup(hc.CloseIdleConnections)
	sum := sha1.Sum(leaf.Cert.Raw)
	claims := map[string]any{"aud": s.URL() + "/" + tenantID + "/oauth2/v2.0/token", "iss": certClient, "sub": certClient,
		"nbf": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	jwt := assertion(b, testkit.RSAKey(b, 2048), "RS256", map[string]any{"x5t": base64.RawURLEncoding.EncodeToString(sum[:])}, claims)
	forms := map[string]url.Values{
		"secret": {"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {clientSecret},
			"scope": {"https://graph.microsoft.com/.default"}},
		"assertion": {"grant_type": {"client_credentials"}, "client_id": {certClient}, "scope": {"https://graph.microsoft.com/.default"},
			"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {jwt}},
	}
	for _, name := range []string{"secret", "assertion"} {
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				resp, err := hc.PostForm(s.URL()+"/"+tenantID+"/oauth2/v2.0/token", forms[name])
				if err != nil {
					b.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	}
}
