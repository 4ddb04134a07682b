package graphsim_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestUploadAcceptedBundles(t *testing.T) {
	t.Parallel()
	now := time.Now()
	nb, na := now.Add(-time.Hour), now.AddDate(1, 0, 0)
	chain := func(t *testing.T) testkit.Bundle {
		root := testkit.NewCert(t, testkit.CertSpec{CN: "root", Key: testkit.ECKey(t), NotBefore: nb, NotAfter: na})
		leaf := testkit.NewCert(t, testkit.CertSpec{CN: "leaf", Key: testkit.ECKey(t), NotBefore: nb, NotAfter: na, Issuer: &root})
		// The leaf sits after the CA: it must be found by its key.
		return testkit.BundleOf(t, pkcs12.LegacyDES, leaf, testkit.DefaultPassword, root.Cert, leaf.Cert)
	}
	tests := []struct {
		name   string
		bundle func(t *testing.T) testkit.Bundle
	}{
		{"LegacyDES EC", func(t *testing.T) testkit.Bundle { return newBundle(t, pkcs12.LegacyDES, nb, na) }},
		{"LegacyRC2", func(t *testing.T) testkit.Bundle { return newBundle(t, pkcs12.LegacyRC2, nb, na) }},
		{"Passwordless", func(t *testing.T) testkit.Bundle { return newBundle(t, pkcs12.Passwordless, nb, na) }},
		{"LegacyDES RSA", func(t *testing.T) testkit.Bundle {
			leaf := testkit.NewCert(t, testkit.CertSpec{CN: "rsa", Key: testkit.RSAKey(t, 2048), NotBefore: nb, NotAfter: na})
			return testkit.BundleOf(t, pkcs12.LegacyDES, leaf, testkit.DefaultPassword, leaf.Cert)
		}},
		{"chain, leaf last", chain},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s, token := setup(t)
			b := tt.bundle(t)
			resp, body := testkit.Upload(t, s, token, connID, b)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, body)
			}
			var c testkit.ConnectorJSON
			testkit.MustJSON(t, body, &c)
			var raw map[string]any
			testkit.MustJSON(t, body, &raw)
			if _, wrapped := raw["value"]; wrapped || c.ID != connID {
				t.Errorf("upload must answer the entity itself: %s", body)
			}
			a := c.Authentication
			if a.Type != "#microsoft.graph.clientCertificateAuthentication" || len(a.List) != 1 {
				t.Fatalf("authenticationConfiguration %+v", a)
			}
			if got := a.List[0]; got.Thumbprint != b.Thumbprint || got.NotAfter != b.NotAfter.Unix() || !got.IsActive {
				t.Errorf("certificate %+v, want thumbprint %s", got, b.Thumbprint)
			}
			if got := s.Uploads(tenantID, connID); !slices.Equal(got, []string{b.Thumbprint}) {
				t.Errorf("Uploads = %v", got)
			}
			if tp, err := s.Thumbprint(b.PFX, b.Password); err != nil || tp != b.Thumbprint {
				t.Errorf("Thumbprint = %q, %v", tp, err)
			}
		})
	}
}

func TestUploadRejectedBundles(t *testing.T) {
	t.Parallel()
	now := time.Now()
	nb, na := now.Add(-time.Hour), now.AddDate(1, 0, 0)
	good := newBundle(t, pkcs12.LegacyDES, nb, na)
	body := func(pfx []byte, password string) string {
		v, _ := json.Marshal(map[string]string{"pkcs12Value": base64.StdEncoding.EncodeToString(pfx), "password": password})
		return string(v)
	}
	modern := newBundle(t, pkcs12.Modern2023, nb, na)
	modern26 := newBundle(t, pkcs12.Modern2026, nb, na)
	passwordless := newBundle(t, pkcs12.Passwordless, nb, na)
	noKey, err := pkcs12.LegacyDES.EncodeTrustStore([]*x509.Certificate{testkit.NewCert(t, testkit.CertSpec{CN: "ca", Key: testkit.ECKey(t), NotBefore: nb, NotAfter: na}).Cert}, "pw")
	if err != nil {
		t.Fatal(err)
	}
	other := testkit.NewCert(t, testkit.CertSpec{CN: "other", Key: testkit.ECKey(t), NotBefore: nb, NotAfter: na})
	mismatch, err := pkcs12.LegacyDES.Encode(testkit.ECKey(t), other.Cert, nil, "pw")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, body, code string
	}{
		{"AES Modern2023 with the right password", body(modern.PFX, modern.Password), "AADB2C90213"},
		{"AES Modern2026 with the right password", body(modern26.PFX, modern26.Password), "AADB2C90213"},
		{"wrong password", body(good.PFX, "not-the-password"), "AADB2C90213"},
		{"passwordless file given a password", body(passwordless.PFX, "pw"), "AADB2C90213"},
		{"no private key", body(noKey, "pw"), "AADB2C90176"},
		{"key matches no certificate", body(mismatch, "pw"), "AADB2C90215"},
		{"not base64", `{"pkcs12Value":"%%%not base64","password":"pw"}`, "AADB2C90215"},
		{"not PKCS#12", body([]byte("hello, world"), "pw"), "AADB2C90215"},
		{"empty value", `{"pkcs12Value":"","password":""}`, "AADB2C90215"},
		{"missing password", `{"pkcs12Value":"AAAA"}`, "BadRequest"},
		{"missing pkcs12Value", `{"password":"pw"}`, "BadRequest"},
		{"unknown parameter", `{"key":"AAAA","password":"pw"}`, "BadRequest"},
		{"not JSON", `pkcs12Value=AAAA`, "BadRequest"},
	}
	s, token := setup(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			resp, b := testkit.GraphDo(t, s, http.MethodPost, "/v1.0/identity/apiConnectors/"+connID+"/uploadClientCertificate", token, "application/json", tt.body)
			testkit.WantGraphError(t, resp, b, http.StatusBadRequest, tt.code)
			testkit.NoSecrets(t, "error body", b, "not-the-password", good.Password)
		})
	}
	t.Cleanup(func() {
		if got := s.Uploads(tenantID, connID); len(got) != 0 {
			t.Errorf("rejected uploads were stored: %v", got)
		}
	})
}

func TestUploadNeedsJSONContentType(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	b := newBundle(t, pkcs12.LegacyDES, time.Now().Add(-time.Hour), time.Now().AddDate(1, 0, 0))
	resp, body := testkit.GraphDo(t, s, http.MethodPost, "/v1.0/identity/apiConnectors/"+connID+"/uploadClientCertificate", token, "text/plain", testkit.UploadBody(b))
	testkit.WantGraphError(t, resp, body, http.StatusUnsupportedMediaType, "UnsupportedMediaType")
	resp, body = testkit.GraphDo(t, s, http.MethodPost, "/v1.0/identity/apiConnectors/"+connID+"/microsoft.graph.uploadClientCertificate", token, "application/json; charset=utf-8", testkit.UploadBody(b))
	if resp.StatusCode != http.StatusOK {
		t.Errorf("qualified action with charset: %d %s", resp.StatusCode, body)
	}
}

func TestDuplicateUploadAppends(t *testing.T) {
	t.Parallel()
	s, token := setup(t)
	now := time.Now()
	a := newBundle(t, pkcs12.LegacyDES, now.Add(-2*time.Hour), now.AddDate(1, 0, 0))
	b := newBundle(t, pkcs12.LegacyDES, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	for _, x := range []testkit.Bundle{a, b, a} {
		if resp, body := testkit.Upload(t, s, token, connID, x); resp.StatusCode != http.StatusOK {
			t.Fatalf("upload: %d %s", resp.StatusCode, body)
		}
	}
	list := testkit.GetConnector(t, s, token, connID).Authentication.List
	if len(list) != 3 || list[0].Thumbprint != a.Thumbprint || list[2].Thumbprint != a.Thumbprint {
		t.Fatalf("list = %+v, want a, b, a", list)
	}
	// Re-uploading makes a the newest valid one again: that is rollback.
	if !list[2].IsActive || list[0].IsActive || list[1].IsActive {
		t.Errorf("active flags = %v %v %v, want only the last", list[0].IsActive, list[1].IsActive, list[2].IsActive)
	}
	if got := s.Uploads(tenantID, connID); !slices.Equal(got, []string{a.Thumbprint, b.Thumbprint, a.Thumbprint}) {
		t.Errorf("Uploads = %v", got)
	}
}

func TestPatchReplacesTheList(t *testing.T) {
	t.Parallel()
	now := time.Now()
	seed := []graphsim.Cert{
		{Thumbprint: "AA00000000000000000000000000000000000001", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)},
		{Thumbprint: "AA00000000000000000000000000000000000002", NotBefore: now.Add(-time.Hour), NotAfter: now.AddDate(1, 0, 0)},
	}
	s, token := setup(t, func(s *graphsim.Server) { s.AddConnector(tenantID, "patched", "patched-api", seed...) })
	b := newBundle(t, pkcs12.LegacyDES, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	patch, _ := json.Marshal(map[string]any{"authenticationConfiguration": map[string]string{
		"@odata.type": "#microsoft.graph.pkcs12Certificate",
		"pkcs12Value": base64.StdEncoding.EncodeToString(b.PFX), "password": b.Password}})
	resp, body := testkit.GraphDo(t, s, http.MethodPatch, "/v1.0/identity/apiConnectors/patched", token, "application/json", string(patch))
	if resp.StatusCode != http.StatusNoContent || len(body) != 0 {
		t.Fatalf("PATCH: %d %s", resp.StatusCode, body)
	}
	got := s.Certificates(tenantID, "patched")
	if len(got) != 1 || got[0].Thumbprint != b.Thumbprint || !got[0].IsActive {
		t.Errorf("after PATCH: %+v, want only %s", got, b.Thumbprint)
	}
	if len(s.Uploads(tenantID, "patched")) != 0 {
		t.Error("a PATCH counted as an upload")
	}
	bad, _ := json.Marshal(map[string]any{"authenticationConfiguration": map[string]string{"@odata.type": "#microsoft.graph.pkcs12Certificate", "password": "x"}})
	resp, body = testkit.GraphDo(t, s, http.MethodPatch, "/v1.0/identity/apiConnectors/patched", token, "application/json", string(bad))
	testkit.WantGraphError(t, resp, body, http.StatusBadRequest, "BadRequest")
	basic := `{"displayName":"renamed","authenticationConfiguration":{"@odata.type":"#microsoft.graph.basicAuthentication","username":"u","password":"p"}}`
	if resp, body := testkit.GraphDo(t, s, http.MethodPatch, "/v1.0/identity/apiConnectors/patched", token, "application/json", basic); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("PATCH basic: %d %s", resp.StatusCode, body)
	}
	if got := s.Certificates(tenantID, "patched"); got != nil {
		t.Errorf("basic authentication kept certificates: %+v", got)
	}
}
