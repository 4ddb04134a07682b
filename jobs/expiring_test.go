package jobs

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// expiringSetup runs an expired bundle (which never replaces anything)
// against conn1 holding soonCert.
func expiringSetup(t *testing.T, w Warnings, clk *testkit.Clock, warnBefore []time.Duration) (func() []Outcome, *graph) {
	t.Helper()
	job := testJob(1)
	job.WarnBefore = warnBefore
	g := newGraph()
	g.seed(conn1, soonCert)
	b := makeBundle(t, bundleSpec{notBefore: testNow.Add(-100 * day), notAfter: testNow.Add(-day)})
	r, err := New(Config{Source: sourceOf(materialOf(b, 1)), Connector: g.connector(), Warnings: w, NowFunc: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return func() []Outcome { return r.Rotate(t.Context(), job, Request{Job: job.Name}) }, g
}

func TestRotateExpiringOncePerThreshold(t *testing.T) {
	t.Parallel()
	w := &fakeWarnings{}
	clk := testkit.NewClock(testNow)
	rotate, _ := expiringSetup(t, w, clk, nil)
	checkWarning(t, rotate(), "14d", 10)
	if out := rotate(); len(out) != 1 {
		t.Errorf("second run: %d outcomes, want the failure only", len(out))
	}
	clk.Add(5 * day)
	checkWarning(t, rotate(), "7d", 5)
	key := WarningKey("contoso-api", conn1, soonCert.Thumbprint, "14d")
	if len(w.keys) != 3 || w.keys[0] != key || w.keys[1] != key || !strings.HasSuffix(w.keys[2], ".7d") {
		t.Errorf("keys = %q, want %q twice then the 7d key", w.keys, key)
	}
}

func TestRotateExpiringWarningsErrorStillWarns(t *testing.T) {
	t.Parallel()
	rotate, _ := expiringSetup(t, &fakeWarnings{err: errors.New("kv down")}, testkit.NewClock(testNow), nil)
	checkWarning(t, rotate(), "14d", 10)
	checkWarning(t, rotate(), "14d", 10)
}

func TestRotateExpiringThresholds(t *testing.T) {
	t.Parallel()
	clk := testkit.NewClock(soonCert.NotAfter.Add(-30 * time.Hour))
	rotate, _ := expiringSetup(t, nil, clk, []time.Duration{72 * time.Hour, 36 * time.Hour})
	checkWarning(t, rotate(), "36h", 1)
	checkWarning(t, rotate(), "36h", 1) // no Warnings: every run announces
	rotateNone, _ := expiringSetup(t, nil, testkit.NewClock(testNow), []time.Duration{})
	if out := rotateNone(); len(out) != 1 {
		t.Errorf("empty warn_before: %d outcomes, want no warning", len(out))
	}
}

func checkWarning(t *testing.T, out []Outcome, threshold string, days int) {
	t.Helper()
	if len(out) != 2 {
		t.Fatalf("got %d outcomes, want the failure and a warning", len(out))
	}
	w := out[1]
	if w.Status != contract.StatusExpiring || w.Threshold != threshold || w.DaysLeft != days || w.Connector != conn1 || !w.Final ||
		thumbOf(w.Certificate) != soonCert.Thumbprint || thumbOf(w.Previous) != soonCert.Thumbprint || w.Error != nil {
		t.Errorf("warning = %+v, want expiring %s with %d days left on %s", w, threshold, days, soonCert.Thumbprint)
	}
}
