package worker

import (
	"slices"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/statuspage"
)

// TestRemainingKeepsKeySets: a retry narrowed to the targets not yet done
// keeps the job's key sets, and drops those done.
func TestRemainingKeepsKeySets(t *testing.T) {
	job := jobs.Job{
		Name:       "api",
		Connectors: []jobs.ConnectorRef{{Tenant: "t", ID: "7b3a0c1e-aaaa-bbbb-cccc-000000000001"}, {Tenant: "t", ID: "7b3a0c1e-aaaa-bbbb-cccc-000000000002"}},
		KeySets:    []jobs.KeySetRef{{Tenant: "t", ID: "B2C_1A_One"}, {Tenant: "t", ID: "B2C_1A_Two"}},
	}
	got := remaining(job, jobs.Request{}, []string{"7b3a0c1e-aaaa-bbbb-cccc-000000000001", "B2C_1A_One"})
	if want := []string{"7b3a0c1e-aaaa-bbbb-cccc-000000000002", "B2C_1A_Two"}; !slices.Equal(got, want) {
		t.Errorf("remaining %v, want %v", got, want)
	}
	got = remaining(job, jobs.Request{Connectors: got}, []string{"7b3a0c1e-aaaa-bbbb-cccc-000000000002"})
	if want := []string{"B2C_1A_Two"}; !slices.Equal(got, want) {
		t.Errorf("second retry: remaining %v, want %v", got, want)
	}
	fails := failEach(job, jobs.Request{Connectors: []string{"B2C_1A_Two"}}, &jobs.ErrorInfo{Code: "internal"}, false)
	if len(fails) != 1 || fails[0].TargetKind != jobs.KindKeySet || fails[0].Connector != "B2C_1A_Two" {
		t.Errorf("failEach %+v, want the one key set", fails)
	}
}

// TestCheckRequestAcceptsKeySetIDs: a request may name a job's key set in
// connectors; an id the job binds under neither kind is still refused.
func TestCheckRequestAcceptsKeySetIDs(t *testing.T) {
	job := jobs.Job{
		Name:       "api",
		Connectors: []jobs.ConnectorRef{{Tenant: "t", ID: "7b3a0c1e-aaaa-bbbb-cccc-000000000001"}},
		KeySets:    []jobs.KeySetRef{{Tenant: "t", ID: "B2C_1A_One"}},
	}
	s := &shared{jobs: map[string]jobs.Job{"api": job}}
	if _, err := s.checkRequest(jobs.Request{Job: "api", Connectors: []string{"B2C_1A_One", "7b3a0c1e-aaaa-bbbb-cccc-000000000001"}}, "api"); err != nil {
		t.Errorf("naming a key set and a connector: %v", err)
	}
	if _, err := s.checkRequest(jobs.Request{Job: "api", Connectors: []string{"B2C_1A_Two"}}, "api"); err == nil {
		t.Error("a key set the job does not bind was accepted")
	}
}

// TestKeySetStatusIsConfigured: a configured key set's status entry is
// never pruned as a removed connector's.
func TestKeySetStatusIsConfigured(t *testing.T) {
	job := jobs.Job{Name: "api", KeySets: []jobs.KeySetRef{{Tenant: "t", ID: "B2C_1A_One"}}}
	s := &shared{jobs: map[string]jobs.Job{"api": job}}
	now := time.Now()
	for id, want := range map[string]bool{"B2C_1A_One": true, "B2C_1A_Gone": false} {
		o := jobs.Outcome{Job: "api", Connector: id, TargetKind: jobs.KindKeySet, Status: jobs.StatusSucceeded, Final: true}
		if got := s.configured(&statusEntry{Entry: statuspage.Entry{Key: contract.StatusKeyOf(o), Record: statuspage.RecordOf(contract.NextStatus(nil, o, now)), Updated: now}}); got != want {
			t.Errorf("configured(%s) = %v, want %v", id, got, want)
		}
	}
}
