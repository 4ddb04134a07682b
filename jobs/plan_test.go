package jobs

import (
	"testing"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/contract"
)

func TestPlanChangesNothing(t *testing.T) {
	t.Parallel()
	job := testJob(2)
	job.Connectors = append(job.Connectors, ConnectorRef{Tenant: tenant, ID: "absent"})
	b := validBundle(t)
	w := &fakeWarnings{}
	r, g, src := setup(t, job, b, w)
	g.lists = map[string][]Certificate{job.Connectors[0].ID: {soonCert}, job.Connectors[1].ID: {bundleCert(b)}}
	ds := r.Plan(t.Context(), job, Request{Job: job.Name})
	if len(ds) != 3 {
		t.Fatalf("got %d decisions, want 3", len(ds))
	}
	if d := ds[0]; d.Action != ActionUpload || d.Reason != "" || thumbOf(d.Active) != soonCert.Thumbprint ||
		d.ActiveDaysLeft == nil || *d.ActiveDaysLeft != 10 || thumbOf(d.Bundle) != b.Thumbprint || d.Error != nil {
		t.Errorf("decision 0 = %+v, want upload over soonCert with 10 days left", d)
	}
	if d := ds[1]; d.Action != ActionSkip || d.Reason != contract.ReasonAlreadyPresent {
		t.Errorf("decision 1 = %+v, want skip already_present", d)
	}
	if d := ds[2]; d.Action != ActionFail || d.Error == nil || d.Error.Code != "Request_ResourceNotFound" {
		t.Errorf("decision 2 = %+v, want fail Request_ResourceNotFound", d)
	}
	if len(g.uploaded) != 0 || len(w.keys) != 0 || src.calls.Load() != 1 {
		t.Errorf("plan uploaded %d, warned %d, fetched %d times", len(g.uploaded), len(w.keys), src.calls.Load())
	}
}

func TestPlanInvalidBundleAndBadRequest(t *testing.T) {
	t.Parallel()
	job := testJob(1)
	b := makeBundle(t, bundleSpec{notBefore: testNow.Add(-100 * day), notAfter: testNow.Add(-day)})
	r, g, _ := setup(t, job, b, nil)
	g.seed(conn1, soonCert)
	ds := r.Plan(t.Context(), job, Request{Job: job.Name})
	if len(ds) != 1 || ds[0].Action != ActionFail || ds[0].Error.Code != string(bundle.CodeExpired) || thumbOf(ds[0].Active) != soonCert.Thumbprint {
		t.Errorf("decisions = %+v, want fail bundle_expired with the active certificate", ds)
	}
	ds = r.Plan(t.Context(), job, Request{Job: job.Name, Connectors: []string{"nope"}})
	if len(ds) != 1 || ds[0].Action != ActionFail || ds[0].Connector != "" || ds[0].Error.Code != contract.CodeBadRequest {
		t.Errorf("decisions = %+v, want one bad_request", ds)
	}
}
