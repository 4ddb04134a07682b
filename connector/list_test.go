package connector

import (
	"fmt"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

func TestListFollowsNextLink(t *testing.T) {
	t.Parallel()
	tests := []struct {
		top, pageSize, wantCalls int
	}{
		{top: 0, pageSize: 5, wantCalls: 3},  // 5+5+2
		{top: 4, pageSize: 5, wantCalls: 3},  // 4+4+4
		{top: 50, pageSize: 5, wantCalls: 3}, // $top capped by the page size
		{top: 0, pageSize: 12, wantCalls: 1}, // exactly one page
		{top: 0, pageSize: 100, wantCalls: 1},
		{top: 1, pageSize: 100, wantCalls: 12},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("top %d page %d", tt.top, tt.pageSize), func(t *testing.T) {
			t.Parallel()
			f := newFleet(t, 12, func() time.Time { return testNow }, func(c *Config) { c.ListTop = tt.top })
			f.sim.SetPageSize(tt.pageSize)
			got, err := f.client.List(t.Context(), testTenantKey)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			var ids []string
			for _, st := range got {
				ids = append(ids, st.ID)
			}
			if want := f.ids[testTenantKey]; fmt.Sprint(ids) != fmt.Sprint(want) {
				t.Errorf("List ids = %v, want %v", ids, want)
			}
			if a, ok := got[0].Active(); !ok || a.Thumbprint != seedCert.Thumbprint || got[0].AuthType != AuthTypeClientCertificate {
				t.Errorf("first connector = %+v, want the seeded certificate active", got[0])
			}
			if got[1].AuthType != AuthTypeBasic {
				t.Errorf("second connector auth = %q, want basic", got[1].AuthType)
			}
			if n := f.listCalls(); n != tt.wantCalls {
				t.Errorf("list calls = %d, want %d", n, tt.wantCalls)
			}
		})
	}
}

func TestListRetriesAPage(t *testing.T) {
	t.Parallel()
	f := newFleet(t, 3, func() time.Time { return testNow }, nil)
	f.sim.FailNext(1, graphsimFault(429, "", "1"))
	got, err := f.client.List(t.Context(), otherTenantKey)
	if err != nil || len(got) != 3 {
		t.Fatalf("List = %d connectors, %v; want 3 after one retry", len(got), err)
	}
	if n := f.listCalls(); n != 2 {
		t.Errorf("list calls = %d, want 2 (one throttled)", n)
	}
}

func TestListUnknownTenant(t *testing.T) {
	t.Parallel()
	h := setup(t)
	_, err := h.client.List(t.Context(), "nope")
	if f := jobs.AsFailure(err); f == nil || f.Class != jobs.ClassPermanent || f.Code != CodeUnknownTenant {
		t.Errorf("List(unknown) = %v, want permanent %s", err, CodeUnknownTenant)
	}
}

func TestNextPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		root, next, want string
	}{
		{"https://graph.microsoft.com", "https://graph.microsoft.com/v1.0/identity/apiConnectors?$skiptoken=X1", "/v1.0/identity/apiConnectors?$skiptoken=X1"},
		{"https://GRAPH.microsoft.com", "HTTPS://graph.microsoft.com/v1.0/identity/apiConnectors?$top=5&$skiptoken=a%2Bb", "/v1.0/identity/apiConnectors?$top=5&$skiptoken=a%2Bb"},
		{"https://proxy.example/graph/", "https://proxy.example/graph/v1.0/identity/apiConnectors?$skiptoken=1", "/v1.0/identity/apiConnectors?$skiptoken=1"},
		{"https://graph.microsoft.com", "https://evil.example/v1.0/identity/apiConnectors?$skiptoken=1", ""},
		{"https://graph.microsoft.com", "http://graph.microsoft.com/v1.0/identity/apiConnectors", ""},
		{"https://graph.microsoft.com", "https://graph.microsoft.com.evil.example/v1.0/x", ""},
		{"https://graph.microsoft.com", "https://user@graph.microsoft.com/v1.0/x", ""},
		{"https://proxy.example/graph", "https://proxy.example/graphx/v1.0/x", ""},
		{"https://graph.microsoft.com", "/v1.0/identity/apiConnectors?$skiptoken=1", ""},
	}
	for _, tt := range tests {
		got, err := nextPath(tt.root, tt.next)
		if tt.want == "" {
			if err == nil {
				t.Errorf("nextPath(%q, %q) = %q, want it refused", tt.root, tt.next, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("nextPath(%q, %q) = %q, %v; want %q", tt.root, tt.next, got, err, tt.want)
		}
	}
}
