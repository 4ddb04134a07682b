package vaultsrc

import (
	"slices"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

func testSelfCheck(t *testing.T, srv *vaulttest.Server) {
	token := srv.TokenWithPolicy(t, "selfcheck", `path "secret/data/b2c/*" { capabilities = ["read"] }`)

	c, logs := tokenClient(t, srv, token)
	ti, err := c.LookupSelf(testContext(t))
	if err != nil {
		t.Fatalf("LookupSelf: %v", err)
	}
	if !slices.Contains(ti.Policies, "selfcheck") || ti.Root() || ti.TTL <= 0 || !ti.Renewable {
		t.Errorf("LookupSelf of a policy token: %+v, want policy selfcheck, not root, a TTL, renewable", ti)
	}
	caps, err := c.Capabilities(testContext(t), "secret/data/b2c/x", "secret/data/other")
	if err != nil {
		t.Fatalf("Capabilities: %v", err)
	}
	if !CanRead(caps["secret/data/b2c/x"]) || CanRead(caps["secret/data/other"]) {
		t.Errorf("capabilities %v: want read on b2c/x only", caps)
	}

	root, _ := tokenClient(t, srv, srv.Token)
	if ti, err := root.LookupSelf(testContext(t)); err != nil || !ti.Root() || ti.TTL != 0 {
		t.Errorf("LookupSelf of the root token: %+v, %v; want root with no TTL", ti, err)
	}
	if caps, err := root.Capabilities(testContext(t), "anything"); err != nil || !CanRead(caps["anything"]) {
		t.Errorf("root capabilities: %v, %v; want read", caps, err)
	}

	bogus, _ := tokenClient(t, srv, "hvs.bogus-token-value")
	_, err = bogus.LookupSelf(testContext(t))
	if f := jobs.AsFailure(err); f == nil || f.Code != CodeDenied {
		t.Errorf("LookupSelf of a bogus token: %v, want code %s", err, CodeDenied)
	}
	if err != nil && strings.Contains(err.Error(), "bogus-token-value") {
		t.Errorf("the error holds the token: %v", err)
	}
	if strings.Contains(logs.String(), token) {
		t.Error("the logs hold the token")
	}
}
