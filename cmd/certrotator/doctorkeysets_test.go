package main

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/jobs"
)

// TestDoctorKeySetFindings reads key sets from graphsim as doctor does: a
// container with an active key is ok, a missing one says how to create it,
// a denied app is told the permission.
func TestDoctorKeySetFindings(t *testing.T) {
	t.Parallel()
	const (
		tid, cid, sec = "00000000-0000-4000-8000-0000000000e5", "11111111-1111-4111-8111-1111111111e5", "doctor-keyset-secret"
		id            = "B2C_1A_RestApiClientCertificate"
	)
	now := time.Now()
	sim := graphsim.NewTest(t).AddTenant(tid, cid, sec).
		AddKeySet(tid, id, graphsim.Key{Kid: "k1", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour)}).
		AddKeySet(tid, "B2C_1A_Empty").
		Start()
	transport := sim.Client().Transport.(*http.Transport)
	t.Cleanup(transport.CloseIdleConnections)
	c, err := connector.New(connector.Config{
		Tenants:   map[string]connector.Tenant{"contoso": {TenantID: tid, ClientID: cid, ClientSecret: sec, AuthorityURL: sim.URL(), GraphURL: sim.URL()}},
		Transport: transport,
	})
	if err != nil {
		t.Fatal(err)
	}
	tenant := config.Tenant{TenantID: tid, ClientID: cid}
	judge := func(ksID string) finding {
		ref := jobs.KeySetRef{Tenant: "contoso", ID: ksID}
		st, err := c.GetKeySet(t.Context(), ref.Tenant, ref.ID)
		var active jobs.PolicyKey
		var ok bool
		if err == nil {
			active, ok, err = c.ActiveKey(t.Context(), ref.Tenant, ref.ID)
		}
		return keySetFinding(ref, "doctor-job", tenant, st, active, ok, err)
	}
	if f := judge(id); f.Verdict != verdictOK || !strings.Contains(f.Detail, "active k1") {
		t.Errorf("healthy key set: %+v", f)
	}
	if f := judge("B2C_1A_Empty"); f.Verdict != verdictWarn || !strings.Contains(f.Detail, "none active") {
		t.Errorf("empty key set: %+v", f)
	}
	if f := judge("B2C_1A_Missing"); f.Verdict != verdictFail || !strings.Contains(f.Fix, "create it in the portal") {
		t.Errorf("missing key set: %+v", f)
	}
	sim.DenyKeySets(tid, cid, true)
	if f := judge(id); f.Verdict != verdictFail || !strings.Contains(f.Fix, keySetPermission) {
		t.Errorf("denied: %+v", f)
	}
}
