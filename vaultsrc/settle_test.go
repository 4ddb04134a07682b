package vaultsrc

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// answerLosingProxy forwards every request to Vault; the first write to
// dataPath reaches Vault and is applied, but its answer is lost: replaced
// by a 502 (a proxy's) or by a reset connection. It counts the writes.
type answerLosingProxy struct {
	*httptest.Server
	writes atomic.Int32
}

func newAnswerLosingProxy(t *testing.T, vaultAddr, dataPath string, reset bool) *answerLosingProxy {
	t.Helper()
	target, err := url.Parse(vaultAddr)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(target)
	p := &answerLosingProxy{}
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		isWrite := (r.Method == http.MethodPut || r.Method == http.MethodPost) && r.URL.Path == "/v1/"+dataPath
		if !isWrite || p.writes.Add(1) > 1 {
			rp.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		rp.ServeHTTP(rec, r) // Vault applies the write
		if reset {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				if tc, ok := conn.(*net.TCPConn); ok {
					_ = tc.SetLinger(0) // an RST, not a FIN
				}
				conn.Close()
			}
			return
		}
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(p.Close)
	return p
}

// testIssuanceLostAnswer: the check-and-set write of an issued bundle is
// applied by Vault but its answer is lost. The run must neither retry it
// blindly (a retry meets its own version as a conflict) nor revoke the
// certificate it rolls out: it reads version 1 back, finds its own
// thumbprint and rolls it out, and the serial stays valid.
func testIssuanceLostAnswer(t *testing.T, srv *vaulttest.Server) {
	for _, tc := range []struct {
		name  string
		reset bool
	}{{"502", false}, {"reset", true}} {
		t.Run(tc.name, func(t *testing.T) {
			pki := srv.EnablePKI(t, vaulttest.PKIOptions{Mount: "pki-lost-" + tc.name})
			g := newGraphRig(t)
			job := pkiJob("b2c/lost-"+tc.name, pki)
			proxy := newAnswerLosingProxy(t, srv.Addr, "secret/data/"+job.Source.Path, tc.reset)
			logger, _ := testLogger(t)
			c, err := New(testContext(t), Config{Address: proxy.URL, Auth: Auth{Token: srv.Token}, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			stopOnCleanup(t, c)
			r, err := jobs.New(jobs.Config{Source: c, Connector: g.conn, Issuer: c, Writer: c, Versions: c, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			out := r.Rotate(testContext(t), job, jobs.Request{Job: job.Name, ID: "lost"})
			if n := proxy.writes.Load(); n != 1 {
				t.Errorf("%d writes reached the proxy, want 1: the lost answer was retried", n)
			}
			root, _ := tokenClient(t, srv, srv.Token)
			h, err := root.Versions(testContext(t), job.Source)
			if err != nil || h.Current != 1 {
				t.Fatalf("versions %+v, %v; want exactly version 1", h, err)
			}
			serials := issuedSerials(t, srv, pki)
			if len(serials) != 1 || srv.Revoked(t, pki.Mount, serials[0]) {
				t.Fatalf("serials %v: want one, not revoked (it is the one in KV)", serials)
			}
			if len(out) != 1 || out[0].Status != contract.StatusSucceeded || out[0].Certificate.SourceVersion != 1 {
				t.Fatalf("outcomes %+v, want version 1 uploaded", out)
			}
			if active := activeThumbprint(g); !strings.EqualFold(active, out[0].Certificate.Thumbprint) {
				t.Errorf("active %s, want the issued %s", active, out[0].Certificate.Thumbprint)
			}
		})
	}
}
