package jobs

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// dailyAt is a window start at hour:00 every day in loc, standing in for
// the cron schedule config parses (jobs knows no cron library).
type dailyAt struct {
	hour int
	loc  *time.Location
}

func (d dailyAt) Next(t time.Time) time.Time {
	l := t.In(d.loc)
	s := time.Date(l.Year(), l.Month(), l.Day(), d.hour, 0, 0, 0, d.loc)
	if !s.After(t) {
		s = s.AddDate(0, 0, 1)
	}
	return s
}

// never is a schedule that does not fire again: a freeze with no window.
type never struct{}

func (never) Next(time.Time) time.Time { return time.Time{} }

// testNow is 10:00 UTC: the 08:00-16:00 window is open, the 18:00-20:00
// one is not.
var (
	workHours = Window{Spec: "0 8 * * *", Start: dailyAt{8, time.UTC}, Duration: 8 * time.Hour}
	evening   = Window{Spec: "0 18 * * *", Start: dailyAt{18, time.UTC}, Duration: 2 * time.Hour}
)

func at(h, m int) time.Time { return time.Date(2026, 11, 25, h, m, 0, 0, time.UTC) }

func TestWindowState(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		windows []Window
		now     time.Time
		open    bool
		until   time.Time
		next    time.Time
		opened  time.Time
	}{
		{"no windows is always open", nil, testNow, true, time.Time{}, time.Time{}, time.Time{}},
		{"inside", []Window{workHours}, at(10, 0), true, at(16, 0), at(8, 0).AddDate(0, 0, 1), at(8, 0)},
		{"at the start", []Window{workHours}, at(8, 0), true, at(16, 0), at(8, 0).AddDate(0, 0, 1), at(8, 0)},
		{"at the end it is closed", []Window{workHours}, at(16, 0), false, time.Time{}, at(8, 0).AddDate(0, 0, 1), time.Time{}},
		{"before the start", []Window{workHours}, at(7, 59), false, time.Time{}, at(8, 0), time.Time{}},
		{"the sooner of two", []Window{workHours, evening}, at(17, 0), false, time.Time{}, at(18, 0), time.Time{}},
		{"inside the second", []Window{workHours, evening}, at(19, 0), true, at(20, 0), at(8, 0).AddDate(0, 0, 1), at(18, 0)},
		{"a freeze: no start ahead", []Window{{Spec: "never", Start: never{}, Duration: time.Hour}}, testNow, false, time.Time{}, time.Time{}, time.Time{}},
	} {
		got := windowState(tc.windows, tc.now)
		if got.Open != tc.open || !got.Until.Equal(tc.until) || !got.Next.Equal(tc.next) || !got.Opened.Equal(tc.opened) {
			t.Errorf("%s: windowState = %+v, want open=%v until=%s next=%s", tc.name, got, tc.open, tc.until, tc.next)
		}
	}
}

func TestWindowStateInZone(t *testing.T) {
	t.Parallel()
	ams, err := time.LoadLocation("Europe/Amsterdam")
	if err != nil {
		t.Skipf("no zone data: %v", err)
	}
	w := Window{Start: dailyAt{8, ams}, Duration: 8 * time.Hour} // 07:00-15:00 UTC in November
	if st := windowState([]Window{w}, at(7, 30)); !st.Open || !st.Until.Equal(at(15, 0)) {
		t.Errorf("07:30 UTC = 08:30 Amsterdam: %+v, want open until 15:00 UTC", st)
	}
	if st := windowState([]Window{w}, at(15, 30)); st.Open || !st.Next.Equal(at(7, 0).AddDate(0, 0, 1)) {
		t.Errorf("15:30 UTC = 16:30 Amsterdam: %+v, want closed, next 07:00 UTC tomorrow", st)
	}
}

func TestGate(t *testing.T) {
	t.Parallel()
	closed := at(20, 30) // outside both windows; the next opens at 08:00 tomorrow
	tomorrow := at(8, 0).AddDate(0, 0, 1)
	expiresIn := func(d time.Duration) *Certificate { c := cert("a", closed.Add(-300*day), closed.Add(d)); return &c }
	job := func(emergency time.Duration) Job {
		return Job{Windows: []Window{workHours, evening}, EmergencyWithin: emergency}
	}
	for _, tc := range []struct {
		name   string
		job    Job
		active *Certificate
		force  bool
		now    time.Time
		want   windowVerdict
	}{
		{"no windows", Job{}, expiresIn(60 * day), false, closed, windowVerdict{}},
		{"inside", job(0), expiresIn(60 * day), false, at(10, 0), windowVerdict{}},
		{"outside", job(72 * time.Hour), expiresIn(60 * day), false, closed, windowVerdict{skip: true, next: tomorrow}},
		{"outside, expiring but no emergency_within", job(0), expiresIn(time.Hour), false, closed, windowVerdict{skip: true, next: tomorrow}},
		{"emergency", job(72 * time.Hour), expiresIn(71 * time.Hour), false, closed, windowVerdict{reason: ReasonEmergency, next: tomorrow}},
		{"emergency_within is exclusive", job(72 * time.Hour), expiresIn(72 * time.Hour), false, closed, windowVerdict{skip: true, next: tomorrow}},
		{"emergency: already expired", job(72 * time.Hour), expiresIn(-time.Hour), false, closed, windowVerdict{reason: ReasonEmergency, next: tomorrow}},
		{"emergency: nothing active", job(72 * time.Hour), nil, false, closed, windowVerdict{reason: ReasonEmergency, next: tomorrow}},
		{"forced", job(0), expiresIn(60 * day), true, closed, windowVerdict{reason: ReasonForcedOutsideWindow, next: tomorrow}},
		{"forced and expiring says forced", job(72 * time.Hour), expiresIn(time.Hour), true, closed, windowVerdict{reason: ReasonForcedOutsideWindow, next: tomorrow}},
		{"forced inside is an ordinary force", job(0), expiresIn(60 * day), true, at(9, 0), windowVerdict{}},
	} {
		if got := gate(tc.job, tc.active, tc.force, tc.now); got != tc.want {
			t.Errorf("%s: gate = %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestRotateWindows runs the whole pipeline on the fixed clock (10:00 UTC)
// with windows open and closed at that time.
func TestRotateWindows(t *testing.T) {
	t.Parallel()
	open := func(j *Job) { j.Windows = []Window{workHours} }
	shut := func(emergency time.Duration) func(*Job) {
		return func(j *Job) { j.Windows, j.EmergencyWithin = []Window{evening}, emergency }
	}
	withReason := func(w ruleWant, reason string) ruleWant { w.reason = reason; return w }
	outside := skipped(ReasonOutsideWindow, oldCert.Thumbprint)
	outsideSoon := skipped(ReasonOutsideWindow, soonCert.Thumbprint)
	outsideSoon.warn = "14d" // the active certificate stays until the window: rule 8 still warns
	for _, tc := range []ruleCase{
		{name: "inside", seed: seedOf(oldCert), job: open, want: succeeded(oldCert.Thumbprint, 1)},
		{name: "outside", seed: seedOf(oldCert), job: shut(72 * time.Hour), want: outside},
		{name: "outside warns", seed: seedOf(soonCert), job: shut(72 * time.Hour), want: outsideSoon},
		{name: "emergency", seed: seedOf(soonCert), job: shut(11 * day), want: withReason(succeeded(soonCert.Thumbprint, 1), ReasonEmergency)},
		{name: "forced", seed: seedOf(oldCert), job: shut(0), req: Request{Force: true, Trigger: contract.TriggerManual},
			want: withReason(succeeded(oldCert.Thumbprint, 1), ReasonForcedOutsideWindow)},
		{name: "forced rollback", seed: seedOf(oldCert), job: shut(0), req: Request{Force: true, Version: 3, Trigger: contract.TriggerManual},
			want: withReason(succeeded(oldCert.Thumbprint, 1), ReasonForcedOutsideWindow)},
		{name: "already present stays already_present", seed: func(b testkit.Bundle) []Certificate { c := bundleCert(b); c.IsActive = true; return []Certificate{c} },
			job: shut(0), want: skipped(contract.ReasonAlreadyPresent, "bundle")},
		{name: "not newer stays not_newer", seed: seedOf(newer), job: shut(0), want: skipped(contract.ReasonNotNewer, newer.Thumbprint)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runRuleCase(t, tc)
		})
	}
}

func TestRotateOutsideWindowNamesNextWindow(t *testing.T) {
	t.Parallel()
	job := testJob(1)
	job.Windows = []Window{evening}
	r, g, _ := setup(t, job, validBundle(t), nil)
	out := r.Rotate(t.Context(), job, Request{Job: job.Name, ID: "msg-1"})
	if len(out) != 1 || out[0].Reason != ReasonOutsideWindow {
		t.Fatalf("outcomes = %+v, want one outside_window skip", out)
	}
	if n := out[0].NextWindow; n == nil || !n.Equal(at(18, 0)) || n.Location() != time.UTC {
		t.Errorf("next_window = %v, want %s in UTC", n, at(18, 0))
	}
	if _, uploads := g.counts(conn1); uploads != 0 {
		t.Errorf("uploads = %d, want 0", uploads)
	}

	job.Windows = []Window{workHours}
	out = r.Rotate(t.Context(), job, Request{Job: job.Name, ID: "msg-2"})
	if len(out) != 1 || out[0].Status != contract.StatusSucceeded || out[0].NextWindow != nil {
		t.Fatalf("inside the window: %+v, want succeeded without next_window", out)
	}
}

func TestPlanShowsWindows(t *testing.T) {
	t.Parallel()
	job := testJob(1)
	job.Windows = []Window{evening}
	r, _, _ := setup(t, job, validBundle(t), nil)
	d := r.Plan(t.Context(), job, Request{Job: job.Name})
	if len(d) != 1 || d[0].Action != ActionSkip || d[0].Reason != ReasonOutsideWindow || d[0].WindowOpen ||
		d[0].NextWindow == nil || !d[0].NextWindow.Equal(at(18, 0)) {
		t.Fatalf("plan = %+v, want skip outside_window, next window 18:00", d)
	}
	d = r.Plan(t.Context(), job, Request{Job: job.Name, Force: true})
	if d[0].Action != ActionUpload || d[0].Reason != ReasonForcedOutsideWindow {
		t.Errorf("forced plan = %+v, want upload forced_outside_window", d[0])
	}
}

// TestHeldBackCostsNoGet: a run over listed connectors that are due but
// outside every window costs the list call alone, as a run where nothing is
// due does; an emergency among them is read again before its upload.
func TestHeldBackCostsNoGet(t *testing.T) {
	t.Parallel()
	g := newGraph()
	job := testJob(3)
	job.Windows, job.EmergencyWithin = []Window{evening}, 72*time.Hour
	for i, ref := range job.Connectors {
		left := 60 * day
		if i == 0 {
			left = 48 * time.Hour
		}
		g.seed(ref.ID, cert("old-"+ref.ID, testNow.Add(-30*day), testNow.Add(left)))
	}
	r, lc := newListingRotator(t, g)
	out := r.Rotate(t.Context(), job, Request{ID: "r1", Attempt: 1})
	if len(out) != 3 || out[0].Reason != ReasonEmergency || out[1].Reason != ReasonOutsideWindow || out[2].Reason != ReasonOutsideWindow {
		t.Fatalf("outcomes = %+v", out)
	}
	for i, ref := range job.Connectors {
		want := 0
		if i == 0 {
			want = 1
		}
		if gets, uploads := g.counts(ref.ID); gets != want || uploads != want {
			t.Errorf("%s: %d GETs and %d uploads, want %d and %d", ref.ID, gets, uploads, want, want)
		}
	}
	if n := lc.lists.Load(); n != 1 {
		t.Errorf("%d list calls, want 1", n)
	}
}
