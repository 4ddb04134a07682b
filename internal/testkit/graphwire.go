package testkit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
)

// Tests of what goes on Graph's wire speak raw HTTP to the emulator, with
// no client of ours in between: the helpers below send a request, fetch a
// token, and hold the wire shapes of Graph's answers. (graphsim may not
// import testkit in its own package's tests: testkit imports graphsim.)

// GraphDo sends one request to the emulator and returns the response and
// its body. Empty token and contentType send no such header.
func GraphDo(tb testing.TB, s *graphsim.Server, method, path, token, contentType, body string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), method, s.URL()+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %s", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("reading the answer to %s %s: %v", method, path, err)
	}
	return resp, b
}

// GraphToken runs the client-credentials grant by hand and returns the
// access token.
func GraphToken(tb testing.TB, s *graphsim.Server, tenant, id, secret string) string {
	tb.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {id}, "client_secret": {secret},
		"scope": {"https://graph.microsoft.com/.default"}}
	resp, body := GraphDo(tb, s, http.MethodPost, "/"+tenant+"/oauth2/v2.0/token", "", "application/x-www-form-urlencoded", form.Encode())
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("token: status %d: %s", resp.StatusCode, body)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	MustJSON(tb, body, &tok)
	return tok.AccessToken
}

// MustJSON decodes b into v; a body that does not decode fails the test.
func MustJSON(tb testing.TB, b []byte, v any) {
	tb.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		tb.Fatalf("decoding %s: %s", b, err)
	}
}

// GraphError is Graph's error body.
type GraphError struct {
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

// WantGraphError fails the test unless the answer has status and Graph's
// error body with code, a request id matching the header and Graph's
// zone-less date.
func WantGraphError(tb testing.TB, resp *http.Response, body []byte, status int, code string) GraphError {
	tb.Helper()
	if resp.StatusCode != status {
		tb.Fatalf("status = %d, want %d; body %s", resp.StatusCode, status, body)
	}
	var e GraphError
	MustJSON(tb, body, &e)
	if e.Error.Code != code {
		tb.Fatalf("error.code = %q, want %q; body %s", e.Error.Code, code, body)
	}
	if e.Error.InnerError.RequestID == "" || e.Error.InnerError.RequestID != resp.Header.Get("request-id") {
		tb.Errorf("innerError.request-id %q, header %q", e.Error.InnerError.RequestID, resp.Header.Get("request-id"))
	}
	if _, err := time.Parse("2006-01-02T15:04:05", e.Error.InnerError.Date); err != nil {
		tb.Errorf("innerError.date %q has not Graph's zone-less form: %s", e.Error.InnerError.Date, err)
	}
	return e
}

// ConnectorJSON is the identityApiConnector entity.
type ConnectorJSON struct {
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

// GetConnector reads API connector id, which must answer 200.
func GetConnector(tb testing.TB, s *graphsim.Server, token, id string) ConnectorJSON {
	tb.Helper()
	resp, body := GraphDo(tb, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+id, token, "", "")
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET connector: %d %s", resp.StatusCode, body)
	}
	var c ConnectorJSON
	MustJSON(tb, body, &c)
	return c
}

// UploadBody is the JSON body of uploadClientCertificate for b.
func UploadBody(b Bundle) string {
	v, _ := json.Marshal(map[string]string{"pkcs12Value": base64.StdEncoding.EncodeToString(b.PFX), "password": b.Password})
	return string(v)
}

// Upload posts b to API connector id's uploadClientCertificate.
func Upload(tb testing.TB, s *graphsim.Server, token, id string, b Bundle) (*http.Response, []byte) {
	tb.Helper()
	return GraphDo(tb, s, http.MethodPost, "/v1.0/identity/apiConnectors/"+id+"/uploadClientCertificate", token, "application/json", UploadBody(b))
}

// NoSecrets fails the test if b, described by what, holds any of secrets
// (empty ones are skipped). The failure names the secret's length only.
func NoSecrets(tb testing.TB, what string, b []byte, secrets ...string) {
	tb.Helper()
	for _, sec := range secrets {
		if sec != "" && bytes.Contains(b, []byte(sec)) {
			tb.Errorf("%s holds a secret (%d bytes long)", what, len(sec))
		}
	}
}
