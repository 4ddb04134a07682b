package graphsim_test

import (
	"net/http"
	"slices"
	"testing"
	"time"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestPFXCacheDecodesEachBundleOnce(t *testing.T) {
	t.Parallel()
	now := time.Now()
	good := newBundle(t, pkcs12.LegacyDES, now.Add(-time.Hour), now.AddDate(1, 0, 0))
	wrong := good
	wrong.Password = "not-the-password"
	for _, cached := range []bool{false, true} {
		s, token := setup(t)
		s.SetPFXCache(cached)
		for range 3 {
			if resp, body := testkit.Upload(t, s, token, connID, good); resp.StatusCode != http.StatusOK {
				t.Fatalf("cache %v: upload: %d %s", cached, resp.StatusCode, body)
			}
		}
		// The same PFX with another password is another verdict.
		for range 2 {
			resp, body := testkit.Upload(t, s, token, connID, wrong)
			testkit.WantGraphError(t, resp, body, http.StatusBadRequest, "AADB2C90213")
		}
		want := 5
		if cached {
			want = 2
		}
		if got := s.PFXDecodes(); got != want {
			t.Errorf("cache %v: %d decodes, want %d", cached, got, want)
		}
		if got := s.Uploads(tenantID, connID); !slices.Equal(got, []string{good.Thumbprint, good.Thumbprint, good.Thumbprint}) {
			t.Errorf("cache %v: uploads %v, want the bundle's thumbprint three times", cached, got)
		}
	}
}

func TestHTTP2IsOptIn(t *testing.T) {
	t.Parallel()
	for _, h2 := range []bool{false, true} {
		s, _ := setup(t, func(s *graphsim.Server) {
			if h2 {
				s.WithHTTP2()
			}
		})
		resp, _ := testkit.GraphDo(t, s, http.MethodGet, "/v1.0/identity/apiConnectors", "", "", "")
		want := 1
		if h2 {
			want = 2
		}
		if resp.ProtoMajor != want {
			t.Errorf("WithHTTP2 %v: the client spoke %s, want HTTP/%d", h2, resp.Proto, want)
		}
		if n := s.Connections(); n < 1 {
			t.Errorf("WithHTTP2 %v: %d connections counted, want at least the one just made", h2, n)
		}
	}
}
