package connector

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

func TestUploadBodyIsBuiltOncePerBundle(t *testing.T) {
	t.Parallel()
	var u uploadBodies
	pfx := []byte("pfx bytes of one bundle")
	first, secrets, err := u.get(pfx, "pw")
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	again, _, _ := u.get(pfx, "pw")
	if &first[0] != &again[0] {
		t.Error("the same bundle's body was built twice")
	}
	if len(secrets) != 2 || secrets[1] != "pw" || !bytes.Contains(first, []byte(secrets[0])) {
		t.Errorf("secrets = %q, want the body's base64 and the password", secrets)
	}
	// Equal bytes in another slice, or another password, are another
	// bundle as far as the cache knows: built afresh, never mixed up.
	other, _, _ := u.get(bytes.Clone(pfx), "pw")
	if &other[0] == &first[0] || !bytes.Equal(other, first) {
		t.Error("a copy of the bundle should get a body of its own with the same bytes")
	}
	if withPW, _, _ := u.get(pfx, "other"); bytes.Equal(withPW, first) {
		t.Error("another password got the first password's body")
	}
	if n := u.kept(); n != 3 {
		t.Errorf("kept = %d, want 3", n)
	}
	for range uploadBodyMax + 4 {
		if _, _, err := u.get([]byte("another bundle"), ""); err != nil {
			t.Fatalf("get: %v", err)
		}
	}
	if n := u.kept(); n != uploadBodyMax {
		t.Errorf("kept = %d, want at most %d", n, uploadBodyMax)
	}
}

// kept is how many bodies u keeps.
func (u *uploadBodies) kept() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.entries)
}

// countingCredential counts the tokens asked of the credential it wraps.
type countingCredential struct {
	inner azcore.TokenCredential
	n     atomic.Int32
}

func (c *countingCredential) GetToken(ctx context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.n.Add(1)
	return c.inner.GetToken(ctx, o)
}

// countTokens wraps the tenant's credential, and the ones built after a
// refresh.
func countTokens(t *testing.T, h *harness) *countingCredential {
	tc := h.client.tenants[testTenantKey]
	counted := &countingCredential{}
	cred, _, err := tc.credential(t.Context())
	if err != nil {
		t.Fatalf("credential: %v", err)
	}
	counted.inner, tc.cred = cred, counted
	build := tc.build
	tc.build = func(ctx context.Context) (azcore.TokenCredential, error) {
		cred, err := build(ctx)
		counted.inner = cred
		return counted, err
	}
	return counted
}

func TestTokenIsKeptBetweenCalls(t *testing.T) {
	t.Parallel()
	h := setup(t)
	counted := countTokens(t, h)
	for range 5 {
		if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
			t.Fatalf("Get: %v", err)
		}
	}
	if n := counted.n.Load(); n != 1 {
		t.Errorf("tokens asked of the credential = %d, want 1 for 5 calls", n)
	}
}

func TestRefusedTokenIsNotKept(t *testing.T) {
	t.Parallel()
	h := setup(t)
	counted := countTokens(t, h)
	if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
		t.Fatalf("Get: %v", err)
	}
	h.sim.ExpireTokens()
	if _, err := h.client.Get(t.Context(), testTenantKey, testConnectorID); err != nil {
		t.Fatalf("Get after the token expired: %v", err)
	}
	if n := counted.n.Load(); n != 2 {
		t.Errorf("tokens asked = %d, want 2 (the refused one is not kept)", n)
	}
	if n := h.tokenCalls(); n != 2 {
		t.Errorf("token requests = %d, want 2", n)
	}
}
