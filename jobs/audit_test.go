package jobs

import (
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// TestOutcomesCarryTheAuditTrail: every kind of outcome the Rotator builds
// (a run, an expiry warning, a bad request) says what asked for it, who and
// why.
func TestOutcomesCarryTheAuditTrail(t *testing.T) {
	t.Parallel()
	req := Request{Reason: "new bundle written", RequestedBy: "ci-pipeline", Trigger: contract.TriggerManual}
	check := func(what string, o Outcome) {
		t.Helper()
		if o.RequestReason != req.Reason || o.RequestedBy != req.RequestedBy || o.Trigger != req.Trigger {
			t.Errorf("%s: reason %q by %q trigger %q, want %q by %q trigger %q",
				what, o.RequestReason, o.RequestedBy, o.Trigger, req.Reason, req.RequestedBy, req.Trigger)
		}
	}

	job := testJob(2)
	r, _, _ := setup(t, job, validBundle(t), nil)
	run := req
	run.Job = job.Name
	out := r.Rotate(t.Context(), job, run)
	if len(out) != 2 {
		t.Fatalf("%d outcomes, want 2", len(out))
	}
	for _, o := range out {
		check("run", o)
	}

	expJob := testJob(1)
	g := newGraph()
	g.seed(conn1, soonCert)
	b := makeBundle(t, bundleSpec{notBefore: testNow.Add(-100 * day), notAfter: testNow.Add(-day)})
	er, err := New(Config{Source: sourceOf(materialOf(b, 1)), Connector: g.connector(), NowFunc: testkit.NewClock(testNow).Now})
	if err != nil {
		t.Fatal(err)
	}
	exp := req
	exp.Job = expJob.Name
	var warned bool
	for _, o := range er.Rotate(t.Context(), expJob, exp) {
		check("outcome "+o.Status, o)
		warned = warned || o.Status == contract.StatusExpiring
	}
	if !warned {
		t.Error("no expiring outcome to check")
	}

	check("bad request", BadRequest("contoso-api", req, errors.New("unknown connector")))
}

// TestOutcomeAuditJSON: the request's reason does not collide with the skip
// reason in the event data.
func TestOutcomeAuditJSON(t *testing.T) {
	t.Parallel()
	o := Outcome{Status: contract.StatusSkipped, Reason: contract.ReasonAlreadyPresent}
	Request{Reason: "rollback", RequestedBy: "alice@host", Trigger: contract.TriggerManual}.Stamp(&o)
	body, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"reason":"already_present"`, `"request_reason":"rollback"`, `"requested_by":"alice@host"`, `"trigger":"manual"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("%s lacks %s", body, want)
		}
	}
	kept := Outcome{Trigger: contract.TriggerCron, RequestedBy: "scheduler"}
	Request{Trigger: contract.TriggerManual, RequestedBy: "bob"}.Stamp(&kept)
	if kept.Trigger != contract.TriggerCron || kept.RequestedBy != "scheduler" {
		t.Errorf("Stamp overwrote what the outcome had: %+v", kept)
	}
}

// TestOutcomeLogLineCarriesTheAuditTrail: the one log line per outcome says
// who asked for the run and why, as the event does.
func TestOutcomeLogLineCarriesTheAuditTrail(t *testing.T) {
	t.Parallel()
	job := testJob(1)
	g := newGraph()
	g.seed(job.Connectors[0].ID)
	var buf testkit.LogBuffer
	r, err := New(Config{Source: sourceOf(materialOf(validBundle(t), 1)), Connector: g.connector(),
		Logger: slog.New(slog.NewJSONHandler(&buf, nil)), NowFunc: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	r.Rotate(t.Context(), job, Request{Job: job.Name, Reason: "rollback", RequestedBy: "alice@host", Trigger: contract.TriggerManual})
	logs := buf.String()
	for _, want := range []string{`"trigger":"manual"`, `"request_reason":"rollback"`, `"requested_by":"alice@host"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the outcome line lacks %s:\n%s", want, logs)
		}
	}
}
