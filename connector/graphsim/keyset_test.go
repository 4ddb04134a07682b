package graphsim_test

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

const keySetID = "B2C_1A_RestApiClientCertificate"

var ksNow = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type keyJSON struct {
	Kid string   `json:"kid"`
	Use string   `json:"use"`
	Kty string   `json:"kty"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	X5c []string `json:"x5c"`
	X5t string   `json:"x5t"`
	Nbf int64    `json:"nbf"`
	Exp int64    `json:"exp"`
}

func ksPath(rest string) string { return "/beta/trustFramework/keySets/" + keySetID + rest }

func ksSetup(t *testing.T, clock *testkit.Clock, seed ...graphsim.Key) (*graphsim.Server, string) {
	t.Helper()
	return setup(t, func(s *graphsim.Server) {
		s.WithClock(clock.Now).AddKeySet(tenantID, keySetID, seed...)
	})
}

func rsaBundle(t *testing.T, nb, na time.Time) (testkit.Bundle, string) {
	t.Helper()
	leaf := testkit.NewCert(t, testkit.CertSpec{CN: "api.contoso.example", Key: testkit.RSAKey(t, 2048), NotBefore: nb, NotAfter: na})
	b := testkit.BundleOf(t, pkcs12.LegacyDES, leaf, testkit.DefaultPassword, leaf.Cert)
	sum := sha1.Sum(leaf.Cert.Raw)
	return b, base64.RawURLEncoding.EncodeToString(sum[:])
}

func uploadKey(t *testing.T, s *graphsim.Server, token string, b testkit.Bundle) (*http.Response, []byte) {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"key": base64.StdEncoding.EncodeToString(b.PFX), "password": b.Password})
	return testkit.GraphDo(t, s, http.MethodPost, ksPath("/uploadPkcs12"), token, "application/json", string(body))
}

func activeKid(t *testing.T, s *graphsim.Server, token string) (string, int) {
	t.Helper()
	resp, body := testkit.GraphDo(t, s, http.MethodGet, ksPath("/getActiveKey"), token, "", "")
	if resp.StatusCode != http.StatusOK {
		return "", resp.StatusCode
	}
	var k keyJSON
	testkit.MustJSON(t, body, &k)
	return k.Kid, resp.StatusCode
}

// TestKeySetActiveKeyOverTime walks the clock through three keys: the
// active key is the latest by nbf that is valid, whatever the upload order,
// and the next valid one takes over when it expires.
func TestKeySetActiveKeyOverTime(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(ksNow)
	seed := []graphsim.Key{
		// Uploaded first but activating last.
		{Kid: "late", NotBefore: ksNow.Add(10 * 24 * time.Hour), NotAfter: ksNow.Add(100 * 24 * time.Hour)},
		{Kid: "old", NotBefore: ksNow.Add(-30 * 24 * time.Hour), NotAfter: ksNow.Add(20 * 24 * time.Hour)},
		{Kid: "mid", NotBefore: ksNow.Add(-time.Hour), NotAfter: ksNow.Add(5 * 24 * time.Hour)},
	}
	s, token := ksSetup(t, clock, seed...)
	steps := []struct {
		at   time.Time
		want string // "" for none
	}{
		{ksNow, "mid"},                           // latest nbf that has passed
		{ksNow.Add(6 * 24 * time.Hour), "old"},   // mid expired: the next valid takes over
		{ksNow.Add(10 * 24 * time.Hour), "late"}, // late's nbf passed
		{ksNow.Add(100 * 24 * time.Hour), ""},    // everything expired
		{ksNow.Add(-40 * 24 * time.Hour), ""},    // nothing active yet
		{ksNow.Add(10*24*time.Hour - time.Second), "old"},
	}
	for _, st := range steps {
		clock.Set(st.at)
		kid, status := activeKid(t, s, token)
		if kid != st.want {
			t.Errorf("at %s: active %q (status %d), want %q", st.at, kid, status, st.want)
		}
		if st.want == "" && status != http.StatusNotFound {
			t.Errorf("at %s: no active key answered %d, want 404", st.at, status)
		}
		var active string
		for _, k := range s.Keys(tenantID, keySetID) {
			if k.Active {
				active = k.Kid
			}
		}
		if active != st.want {
			t.Errorf("at %s: Keys marks %q active, want %q", st.at, active, st.want)
		}
	}
}

// TestKeySetUploadPkcs12 uploads a certificate and reads the key back: the
// JWK fields, x5t as base64url SHA-1, nbf/exp from the certificate; an upload
// appends even for an x5t already present; a key with an earlier nbf than the
// active one does not become active by being uploaded.
func TestKeySetUploadPkcs12(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(ksNow)
	later := graphsim.Key{Kid: "by-hand", NotBefore: ksNow.Add(-time.Minute), NotAfter: ksNow.Add(400 * 24 * time.Hour)}
	s, token := ksSetup(t, clock, later)
	b, x5t := rsaBundle(t, ksNow.Add(-time.Hour), ksNow.Add(90*24*time.Hour))
	resp, body := uploadKey(t, s, token, b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("upload: %d %s", resp.StatusCode, body)
	}
	testkit.NoSecrets(t, "upload answer", body, b.Password)
	var k keyJSON
	testkit.MustJSON(t, body, &k)
	if k.X5t != x5t || k.Nbf != b.NotBefore.Unix() || k.Exp != b.NotAfter.Unix() || k.Kty != "RSA" || k.Use != "sig" ||
		k.N == "" || k.E != "AQAB" || len(k.X5c) != 1 || k.Kid == "" {
		t.Errorf("uploaded key %+v, want x5t %s nbf %d exp %d", k, x5t, b.NotBefore.Unix(), b.NotAfter.Unix())
	}
	if kid, _ := activeKid(t, s, token); kid != "by-hand" {
		t.Errorf("active key %q: a key with an earlier nbf must not take over by upload", kid)
	}
	if resp, body := uploadKey(t, s, token, b); resp.StatusCode != http.StatusOK {
		t.Fatalf("second upload: %d %s", resp.StatusCode, body)
	}
	if got := s.KeyUploads(tenantID, keySetID); len(got) != 2 || got[0] != x5t || got[1] != x5t {
		t.Errorf("KeyUploads %v, want the x5t twice", got)
	}
	resp, body = testkit.GraphDo(t, s, http.MethodGet, ksPath(""), token, "", "")
	var ks struct {
		ID   string    `json:"id"`
		Keys []keyJSON `json:"keys"`
	}
	testkit.MustJSON(t, body, &ks)
	if resp.StatusCode != http.StatusOK || ks.ID != keySetID || len(ks.Keys) != 3 {
		t.Errorf("GET keyset: %d %s", resp.StatusCode, body)
	}
}

func TestKeySetErrors(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(ksNow)
	s, token := ksSetup(t, clock)
	good, _ := rsaBundle(t, ksNow.Add(-time.Hour), ksNow.Add(90*24*time.Hour))
	wrongPass := good
	wrongPass.Password = "not-the-password"
	expired, _ := rsaBundle(t, ksNow.Add(-90*24*time.Hour), ksNow.Add(-time.Hour))
	aesLeaf := testkit.NewCert(t, testkit.CertSpec{CN: "aes", Key: testkit.RSAKey(t, 2048), NotBefore: ksNow.Add(-time.Hour), NotAfter: ksNow.Add(90 * 24 * time.Hour)})
	aes := testkit.BundleOf(t, pkcs12.Modern2023, aesLeaf, testkit.DefaultPassword, aesLeaf.Cert)
	ec := newBundle(t, pkcs12.LegacyDES, ksNow.Add(-time.Hour), ksNow.Add(90*24*time.Hour))

	resp, body := testkit.GraphDo(t, s, http.MethodGet, "/beta/trustFramework/keySets/B2C_1A_Missing", token, "", "")
	testkit.WantGraphError(t, resp, body, http.StatusNotFound, "Request_ResourceNotFound")
	resp, body = testkit.GraphDo(t, s, http.MethodPost, "/beta/trustFramework/keySets/B2C_1A_Missing/uploadPkcs12", token, "application/json", `{"key":"","password":""}`)
	testkit.WantGraphError(t, resp, body, http.StatusNotFound, "Request_ResourceNotFound")
	resp, body = testkit.GraphDo(t, s, http.MethodGet, "/v1.0/trustFramework/keySets/"+keySetID, token, "", "")
	testkit.WantGraphError(t, resp, body, http.StatusBadRequest, "BadRequest")

	for _, tc := range []struct {
		name string
		b    testkit.Bundle
		code string
	}{
		{"wrong password", wrongPass, "AADB2C90213"},
		{"AES-protected", aes, "AADB2C90213"},
		{"expired", expired, "AADB2C90214"},
		{"EC key", ec, "AADB2C90215"},
	} {
		resp, body := uploadKey(t, s, token, tc.b)
		testkit.WantGraphError(t, resp, body, http.StatusBadRequest, tc.code)
		testkit.NoSecrets(t, tc.name, body, tc.b.Password)
	}
	resp, body = testkit.GraphDo(t, s, http.MethodPost, ksPath("/uploadPkcs12"), token, "application/json", `{"key":"!!","password":""}`)
	testkit.WantGraphError(t, resp, body, http.StatusBadRequest, "AADB2C90215")

	s.DenyKeySets(tenantID, clientID, true)
	resp, body = testkit.GraphDo(t, s, http.MethodGet, ksPath(""), token, "", "")
	testkit.WantGraphError(t, resp, body, http.StatusForbidden, "Authorization_RequestDenied")
	resp, body = uploadKey(t, s, token, good)
	testkit.WantGraphError(t, resp, body, http.StatusForbidden, "Authorization_RequestDenied")
	if n := len(s.KeyUploads(tenantID, keySetID)); n != 0 {
		t.Errorf("%d uploads reached a denied container", n)
	}
	s.DenyKeySets(tenantID, clientID, false)
	if resp, body := uploadKey(t, s, token, good); resp.StatusCode != http.StatusOK {
		t.Errorf("granted again: %d %s", resp.StatusCode, body)
	}
}

func TestKeySetListPages(t *testing.T) {
	t.Parallel()
	s := graphsim.NewTest(t).AddTenant(tenantID, clientID, clientSecret)
	ids := []string{"B2C_1A_One", "B2C_1A_Two", "B2C_1A_Three"}
	for _, id := range ids {
		s.AddKeySet(tenantID, id)
	}
	s.Start()
	s.SetPageSize(2)
	token := testkit.GraphToken(t, s, tenantID, clientID, clientSecret)
	var got []string
	path := "/beta/trustFramework/keySets"
	for pages := 0; path != "" && pages < 5; pages++ {
		resp, body := testkit.GraphDo(t, s, http.MethodGet, path, token, "", "")
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("page %d: %d %s", pages, resp.StatusCode, body)
		}
		var p struct {
			Value []struct {
				ID string `json:"id"`
			} `json:"value"`
			Next string `json:"@odata.nextLink"`
		}
		testkit.MustJSON(t, body, &p)
		for _, v := range p.Value {
			got = append(got, v.ID)
		}
		path = ""
		if p.Next != "" {
			path = p.Next[len(s.URL()):]
		}
	}
	if len(got) != 3 || got[0] != ids[0] || got[2] != ids[2] {
		t.Errorf("listed %v, want %v", got, ids)
	}
}

// TestKeySetRateLimited: key set calls count against the same per-app and
// per-tenant limits as API-connector calls, and are refused the same way.
func TestKeySetRateLimited(t *testing.T) {
	t.Parallel()
	clock := testkit.NewClock(ksNow)
	s, token := ksSetup(t, clock)
	s.SetLimits(graphsim.Limits{AppPerWindow: 2, Window: time.Minute})
	if resp, body := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors/"+connID, token, "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("connector GET: %d %s", resp.StatusCode, body)
	}
	if resp, body := testkit.GraphDo(t, s, http.MethodGet, ksPath(""), token, "", ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("key set GET: %d %s", resp.StatusCode, body)
	}
	resp, body := testkit.GraphDo(t, s, http.MethodGet, ksPath("/getActiveKey"), token, "", "")
	testkit.WantGraphError(t, resp, body, http.StatusTooManyRequests, "TooManyRequests")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	clock.Set(ksNow.Add(time.Minute))
	if resp, body := testkit.GraphDo(t, s, http.MethodGet, ksPath(""), token, "", ""); resp.StatusCode != http.StatusOK {
		t.Errorf("next window: %d %s", resp.StatusCode, body)
	}
}
