package graphsim_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestInventoryKeySetsReadOnly: an app with TrustFrameworkKeySet.Read.All
// only lists and reads containers (enough for the inventory) but may not
// upload; with no key set permission at all even the list is refused.
func TestInventoryKeySetsReadOnly(t *testing.T) {
	t.Parallel()
	s, token := ksSetup(t, testkit.NewClock(ksNow))
	good, _ := rsaBundle(t, ksNow.Add(-time.Hour), ksNow.Add(90*24*time.Hour))
	s.KeySetsReadOnly(tenantID, clientID, true)
	for _, p := range []string{"/beta/trustFramework/keySets", ksPath("")} {
		if resp, body := testkit.GraphDo(t, s, http.MethodGet, p, token, "", ""); resp.StatusCode != http.StatusOK {
			t.Errorf("read-only GET %s: %d %s", p, resp.StatusCode, body)
		}
	}
	resp, body := uploadKey(t, s, token, good)
	testkit.WantGraphError(t, resp, body, http.StatusForbidden, "Authorization_RequestDenied")
	if n := len(s.KeyUploads(tenantID, keySetID)); n != 0 {
		t.Errorf("%d uploads reached the container of a read-only app", n)
	}
	s.DenyKeySets(tenantID, clientID, true)
	resp, body = testkit.GraphDo(t, s, http.MethodGet, "/beta/trustFramework/keySets", token, "", "")
	testkit.WantGraphError(t, resp, body, http.StatusForbidden, "Authorization_RequestDenied")
	s.DenyKeySets(tenantID, clientID, false)
	s.KeySetsReadOnly(tenantID, clientID, false)
	if resp, body := uploadKey(t, s, token, good); resp.StatusCode != http.StatusOK {
		t.Errorf("read-write again: %d %s", resp.StatusCode, body)
	}
}
