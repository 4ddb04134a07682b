package e2e

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// faultTarget is what a Graph fault scenario rotates: the first connector,
// or the B2C policy key container alone. The scenarios are the same for
// both; the target says how to bind a job to it and how to read it back.
type faultTarget struct {
	name    string // the subtest's name
	suffix  string // added to the scenario's path, password, instance and request id
	kind    string // the outcomes' TargetKind
	bundle  func(t *testing.T, password string) testkit.Bundle
	job     func(path string) jobs.Job
	uploads func(s *stack) []string // the thumbprints uploaded, in order
	active  func(t *testing.T, s *stack) string
}

// faultTargets are the targets every Graph fault scenario runs on.
var faultTargets = []faultTarget{
	{
		name:    "connector",
		kind:    jobs.KindConnector,
		bundle:  func(t *testing.T, pw string) testkit.Bundle { return validFor(t, 60*24*time.Hour, pw) },
		job:     func(path string) jobs.Job { return job(path, connectorIDs[0]) },
		uploads: func(s *stack) []string { return s.uploads(connectorIDs[0]) },
		active:  func(t *testing.T, s *stack) string { return s.active(t, connectorIDs[0]) },
	},
	{
		name:    "keyset",
		suffix:  "-ks",
		kind:    jobs.KindKeySet,
		bundle:  func(t *testing.T, pw string) testkit.Bundle { return rsaBundle(t, 60*24*time.Hour, pw) },
		job:     keySetJob,
		uploads: (*stack).keyUploads,
		active:  func(_ *testing.T, s *stack) string { return s.activeKey() },
	},
}

// onEachTarget runs scenario on every fault target, each a parallel
// subtest named for its target.
func onEachTarget(t *testing.T, scenario func(*testing.T, faultTarget)) {
	t.Parallel()
	for _, tg := range faultTargets {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			scenario(t, tg)
		})
	}
}

// targetRun is one fault scenario on a target: the stack with its fault
// points, the bundle written at b2c/<scenario><suffix>, the job rotating
// it, the fleet its worker runs on, and the id of the scenario's request.
type targetRun struct {
	*faultStack
	f  *fleet
	b  testkit.Bundle
	j  jobs.Job
	id string
}

// start sets the scenario named name up on the target and starts its
// worker; the request is not sent yet, so that the fault goes in first.
func (tg faultTarget) start(t *testing.T, name string) *targetRun {
	t.Helper()
	fs := setupFaults(t)
	path := "b2c/" + name + tg.suffix
	r := &targetRun{faultStack: fs, b: fs.put(t, path, tg.bundle(t, "p4ss-"+name+tg.suffix)), j: tg.job(path), id: name + tg.suffix + "-1"}
	r.f = fs.runWorker(t, "w-"+name+tg.suffix, r.j)
	return r
}

// request publishes the scenario's request.
func (r *targetRun) request(t *testing.T) {
	t.Helper()
	r.f.publish(t, r.j.Name, r.id, `{"job":"contoso-api"}`)
}

// lostUploadResponse: Graph applies the target's upload but its answer
// never arrives; the retry finds the certificate active and the intent
// recorded before sending: one final succeeded/confirmed_on_retry on
// attempt 2 with the bundle's certificate, one upload, the bundle active.
func lostUploadResponse(t *testing.T, tg faultTarget) {
	r := tg.start(t, "lost")
	r.tap.dropResponses(1)
	r.request(t)
	fin := finals(t, r.f.ev, r.id)
	if len(fin) != 1 || fin[0].TargetKind != tg.kind || fin[0].Status != contract.StatusSucceeded ||
		fin[0].Reason != contract.ReasonConfirmedOnRetry || fin[0].Attempt != 2 {
		t.Fatalf("finals %+v, want one %s succeeded/%s on attempt 2", fin, tg.kind, contract.ReasonConfirmedOnRetry)
	}
	if c := fin[0].Certificate; c == nil || c.Thumbprint != r.b.Thumbprint {
		t.Errorf("certificate %+v, want the bundle's %s", c, r.b.Thumbprint)
	}
	if got := tg.uploads(r.stack); len(got) != 1 {
		t.Errorf("uploads %v, want exactly one", got)
	}
	if got := tg.active(t, r.stack); got != r.b.Thumbprint {
		t.Errorf("active %s, want the bundle's %s", got, r.b.Thumbprint)
	}
}

// graph503: Graph answering 503 past the client's retries fails the
// target's first attempt transient and not final; the worker retries the
// request and the next attempt uploads the bundle once.
func graph503(t *testing.T, tg faultTarget) {
	r := tg.start(t, "503")
	r.graph.FailNext(connector.MaxRetriesDefault+1, graphsim.Fault{Status: 503, RetryAfter: "1"})
	r.request(t)
	fail := waitFailure(t, r.f.ev, r.id, "")
	if fail.Final || fail.Error.Class != jobs.ClassTransient || fail.Attempt != 1 || fail.TargetKind != tg.kind {
		t.Errorf("503: %+v %+v, want a transient, retried %s failure on attempt 1", fail, fail.Error, tg.kind)
	}
	t.Logf("503 past the client's retries: code %s", fail.Error.Code)
	fin := finals(t, r.f.ev, r.id)
	if len(fin) != 1 || fin[0].Status != contract.StatusSucceeded || fin[0].Attempt != 2 {
		t.Fatalf("finals %+v, want one succeeded on attempt 2", fin)
	}
	if got := tg.uploads(r.stack); len(got) != 1 || got[0] != r.b.Thumbprint {
		t.Errorf("uploads %v, want exactly the bundle's", got)
	}
}
