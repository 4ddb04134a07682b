package graphsim_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	tenantID     = "11111111-aaaa-bbbb-cccc-000000000001"
	clientID     = "22222222-aaaa-bbbb-cccc-000000000002"
	clientSecret = "s3cr3t-value~abc"
	connID       = "7b3a0c1e-aaaa-bbbb-cccc-000000000001"
	otherTenant  = "11111111-aaaa-bbbb-cccc-000000000009"
	otherClient  = "22222222-aaaa-bbbb-cccc-000000000009"
	otherSecret  = "other-secret"
	otherConnID  = "7b3a0c1e-aaaa-bbbb-cccc-000000000009"
)

// setup starts an emulator with two tenants, one connector each, and
// returns it with a token for tenantID.
func setup(t *testing.T, configure ...func(*graphsim.Server)) (*graphsim.Server, string) {
	t.Helper()
	s := graphsim.NewTest(t).
		AddTenant(tenantID, clientID, clientSecret).
		AddTenant(otherTenant, otherClient, otherSecret).
		AddConnector(tenantID, connID, "contoso-api").
		AddConnector(otherTenant, otherConnID, "fabrikam-api")
	for _, f := range configure {
		f(s)
	}
	s.Start()
	return s, fetchToken(t, s, tenantID, clientID, clientSecret)
}

// fetchToken runs the client-credentials grant by hand.
func fetchToken(t *testing.T, s *graphsim.Server, tenant, id, secret string) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret},
		"scope": {"https://graph.microsoft.com/.default"}}
	resp, body := do(t, s, http.MethodPost, "/"+tenant+"/oauth2/v2.0/token", "", "application/x-www-form-urlencoded", form.Encode())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: status %d: %s", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	mustJSON(t, body, &tok)
	return tok.AccessToken
}

// do sends one request to the emulator and returns the response and body.
func do(t *testing.T, s *graphsim.Server, method, path, token, contentType, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %s", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func mustJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("decoding %s: %s", b, err)
	}
}

// graphErr is Graph's error body.
type graphErr struct {
	Error struct {
		Code       string `json:"code"`
		Message    string `json:"message"`
		InnerError struct {
			Code            string `json:"code"`
			Date            string `json:"date"`
			RequestID       string `json:"request-id"`
			ClientRequestID string `json:"client-request-id"`
		} `json:"innerError"`
	} `json:"error"`
}

func wantGraphError(t *testing.T, resp *http.Response, body []byte, status int, code string) graphErr {
	t.Helper()
	if resp.StatusCode != status {
		t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	var e graphErr
	mustJSON(t, body, &e)
	if e.Error.Code != code {
		t.Fatalf("error.code = %q, want %q; body %s", e.Error.Code, code, body)
	}
	if e.Error.InnerError.RequestID == "" || e.Error.InnerError.RequestID != resp.Header.Get("request-id") {
		t.Errorf("innerError.request-id %q, header %q", e.Error.InnerError.RequestID, resp.Header.Get("request-id"))
	}
	if _, err := time.Parse("2006-01-02T15:04:05", e.Error.InnerError.Date); err != nil {
		t.Errorf("innerError.date %q has not Graph's zone-less form: %s", e.Error.InnerError.Date, err)
	}
	return e
}

// connectorJSON is the identityApiConnector entity.
type connectorJSON struct {
	Context        string `json:"@odata.context"`
	ID             string `json:"id"`
	DisplayName    string `json:"displayName"`
	TargetURL      string `json:"targetUrl"`
	Authentication struct {
		Type     string `json:"@odata.type"`
		Username string `json:"username"`
		Password string `json:"password"`
		List     []struct {
			Thumbprint string `json:"thumbprint"`
			NotBefore  int64  `json:"notBefore"`
			NotAfter   int64  `json:"notAfter"`
			IsActive   bool   `json:"isActive"`
		} `json:"certificateList"`
	} `json:"authenticationConfiguration"`
}

var rsaKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// testCert is a certificate and its key; issuer nil means self-signed.
type testCert struct {
	cert *x509.Certificate
	key  crypto.Signer
}

func newCert(t testing.TB, cn string, key crypto.Signer, notBefore, notAfter time.Time, issuer *testCert) testCert {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             notBefore,
		NotAfter:              notAfter,
		BasicConstraintsValid: true,
		IsCA:                  issuer == nil,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	parent, signer := tmpl, key
	if issuer != nil {
		parent, signer = issuer.cert, issuer.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return testCert{cert: c, key: key}
}

// testBundle is a PFX, its password and its leaf's thumbprint.
type testBundle struct {
	pfx        []byte
	password   string
	thumbprint string
	notBefore  time.Time
	notAfter   time.Time
}

func (b testBundle) uploadBody() string {
	v, _ := json.Marshal(map[string]string{"pkcs12Value": base64.StdEncoding.EncodeToString(b.pfx), "password": b.password})
	return string(v)
}

func thumbprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// newBundle makes an EC leaf valid between nb and na, encoded with enc.
func newBundle(t *testing.T, enc *pkcs12.Encoder, nb, na time.Time) testBundle {
	t.Helper()
	leaf := newCert(t, "api.contoso.example", ecKey(t), nb, na, nil)
	return encodeBundle(t, enc, leaf, leaf.cert, nil)
}

func encodeBundle(t *testing.T, enc *pkcs12.Encoder, leaf testCert, first *x509.Certificate, rest []*x509.Certificate) testBundle {
	t.Helper()
	password := "pfx-pass-0123"
	if enc == pkcs12.Passwordless {
		password = ""
	}
	pfx, err := enc.Encode(leaf.key, first, rest, password)
	if err != nil {
		t.Fatal(err)
	}
	return testBundle{pfx: pfx, password: password, thumbprint: thumbprint(leaf.cert),
		notBefore: leaf.cert.NotBefore, notAfter: leaf.cert.NotAfter}
}

func upload(t *testing.T, s *graphsim.Server, token string, b testBundle) (*http.Response, []byte) {
	t.Helper()
	return do(t, s, http.MethodPost, "/v1.0/identity/apiConnectors/"+connID+"/uploadClientCertificate", token, "application/json", b.uploadBody())
}

func getConnector(t *testing.T, s *graphsim.Server, token string) connectorJSON {
	t.Helper()
	resp, body := do(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+connID, token, "", "")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET connector: %d %s", resp.StatusCode, body)
	}
	var c connectorJSON
	mustJSON(t, body, &c)
	return c
}

func noSecrets(t *testing.T, what string, b []byte, secrets ...string) {
	t.Helper()
	for _, sec := range secrets {
		if sec != "" && bytes.Contains(b, []byte(sec)) {
			t.Errorf("%s holds a secret (%d bytes long)", what, len(sec))
		}
	}
}
