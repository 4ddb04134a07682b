package e2e

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// TestWorkerChangeWindows runs a job with a daily one-hour change window
// through a worker, real Vault and graphsim, on a rotator clock the test
// moves: outside the window a due upload is skipped with the next window's
// start, an expiring certificate goes ahead (emergency), a forced request
// goes ahead and says so, and the request the window's start makes uploads
// what was held back.
func TestWorkerChangeWindows(t *testing.T) {
	t.Parallel()
	// Half past an hour near the real time (the bundle is valid from an
	// hour ago); the window opens two hours later.
	base := time.Now().UTC().Truncate(time.Hour).Add(30 * time.Minute)
	next := base.Truncate(time.Hour).Add(2 * time.Hour)
	var clock atomic.Int64
	clock.Store(base.UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()).UTC() }

	held, soon, other := connectorIDs[0], connectorIDs[1], connectorIDs[2]
	oldCert := func(name string, left time.Duration) graphsim.Cert {
		return graphsim.Cert{Thumbprint: fmt.Sprintf("%040X", len(name)), NotBefore: base.Add(-300 * 24 * time.Hour), NotAfter: base.Add(left)}
	}
	s := setup(t, map[string][]graphsim.Cert{
		held:  {oldCert("a", 60*24*time.Hour)},
		soon:  {oldCert("bb", 48*time.Hour)},
		other: {oldCert("ccc", 60*24*time.Hour)},
	})
	b := s.put(t, "b2c/window", validFor(t, 90*24*time.Hour, "p4ss-window"))

	spec := fmt.Sprintf("CRON_TZ=UTC 0 %d * * *", next.Hour())
	start, err := config.ParseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	j := job("b2c/window", connectorIDs...)
	j.Windows = []jobs.Window{{Spec: spec, Start: start, Duration: time.Hour}}
	j.EmergencyWithin = 72 * time.Hour
	rot, err := jobs.New(jobs.Config{Source: s.source, Connector: s.conn, Logger: loggerTo(s.logs), NowFunc: now})
	if err != nil {
		t.Fatal(err)
	}
	f := newFleet(t)
	f.start(t, s, "w1", j, rot)

	// Outside the window: held back, except the one expiring within 72h.
	f.publish(t, j.Name, "outside-1", fmt.Sprintf(`{"job":%q,"connectors":[%q,%q]}`, j.Name, held, soon))
	got := outcomesOf(t, f.ev, "outside-1", 2)
	if o := got[held]; o.Status != contract.StatusSkipped || o.Reason != jobs.ReasonOutsideWindow || o.NextWindow == nil || !o.NextWindow.Equal(next) {
		t.Errorf("held connector: %s/%s next_window %v, want skipped/outside_window next_window %s", o.Status, o.Reason, o.NextWindow, next)
	}
	if o := got[soon]; o.Status != contract.StatusSucceeded || o.Reason != jobs.ReasonEmergency {
		t.Errorf("expiring connector: %s/%s, want succeeded/emergency", o.Status, o.Reason)
	}
	if len(s.uploads(held)) != 0 || s.active(t, soon) != b.Thumbprint {
		t.Errorf("uploads to the held connector %v; active on the expiring one %s", s.uploads(held), s.active(t, soon))
	}

	// A person's forced request goes ahead outside the window and says so.
	f.publish(t, j.Name, "forced-1", fmt.Sprintf(`{"job":%q,"connectors":[%q],"force":true,"trigger":"manual","requested_by":"alice"}`, j.Name, other))
	if o := outcomesOf(t, f.ev, "forced-1", 1)[other]; o.Status != contract.StatusSucceeded || o.Reason != jobs.ReasonForcedOutsideWindow || o.RequestedBy != "alice" {
		t.Errorf("forced: %s/%s by %q, want succeeded/forced_outside_window by alice", o.Status, o.Reason, o.RequestedBy)
	}

	// The window opens: the request its start makes uploads what was held.
	clock.Store(next.Add(time.Minute).UnixNano())
	id := contract.WindowMsgID(j.Name, next)
	f.publish(t, j.Name, id, fmt.Sprintf(`{"job":%q,"trigger":"window"}`, j.Name))
	got = outcomesOf(t, f.ev, id, 3)
	if o := got[held]; o.Status != contract.StatusSucceeded || o.Reason != "" || o.Trigger != contract.TriggerWindow || o.NextWindow != nil {
		t.Errorf("held connector in the window: %s/%q trigger %s, want succeeded by the window", o.Status, o.Reason, o.Trigger)
	}
	for _, c := range []string{soon, other} {
		if o := got[c]; o.Status != contract.StatusSkipped || o.Reason != contract.ReasonAlreadyPresent {
			t.Errorf("connector %s in the window: %s/%s, want already_present", c, o.Status, o.Reason)
		}
	}
	for _, c := range connectorIDs {
		if n := len(s.uploads(c)); n != 1 || s.active(t, c) != b.Thumbprint {
			t.Errorf("connector %s: %d uploads, active %s; want 1 and the bundle", c, n, s.active(t, c))
		}
	}
}

// outcomesOf waits for n rotation outcomes of the request and returns them
// by connector.
func outcomesOf(t *testing.T, c *workertest.Events, requestID string, n int) map[string]jobs.Outcome {
	t.Helper()
	evs := c.Wait(t, requestID, n)
	outs := make([]jobs.Outcome, 0, len(evs))
	for _, ev := range evs {
		outs = append(outs, ev.Data)
	}
	return byConnector(t, outs)
}
