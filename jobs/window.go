package jobs

import (
	"time"

	"github.com/certrotator/certrotator/contract"
)

// Window reasons: why an upload outside every change window was skipped or
// went ahead anyway.
const (
	// ReasonOutsideWindow: the upload was due but no change window of the
	// job is open; Outcome.NextWindow says when the next one opens, and the
	// worker requests the job again then.
	ReasonOutsideWindow = contract.ReasonOutsideWindow
	// ReasonEmergency: outside every window, the upload went ahead because
	// the active certificate expires within the job's emergency_within (or
	// the connector has none active).
	ReasonEmergency = contract.ReasonEmergency
	// ReasonForcedOutsideWindow: outside every window, a forced request (a
	// person's rotate --force or rollback) went ahead.
	ReasonForcedOutsideWindow = contract.ReasonForcedOutsideWindow
)

// Window is one recurring change window: it opens at every firing of Start
// and stays open for Duration.
type Window struct {
	Spec     string        // the start's cron spec as written, for messages
	Start    Schedule      // parsed once by config
	Duration time.Duration // how long the window stays open; positive
}

// WindowState is where now stands among a job's change windows.
type WindowState struct {
	// Open says whether now is inside a window (always true for a job with
	// no windows); Until is when the latest-closing open window closes, and
	// Opened when that window opened.
	Open   bool
	Until  time.Time
	Opened time.Time
	// Next is the next window start strictly after now; zero when the job
	// has no windows or none fires again.
	Next time.Time
}

// WindowAt says where now stands among the job's change windows, for
// plan, status and the status page. A window holds now when one of its
// starts s satisfies s <= now < s+Duration, that is when its first start
// after now-Duration is not after now.
func (j Job) WindowAt(now time.Time) WindowState { return windowState(j.Windows, now) }

func windowState(ws []Window, now time.Time) WindowState {
	if len(ws) == 0 {
		return WindowState{Open: true}
	}
	var st WindowState
	for _, w := range ws {
		if w.Start == nil || w.Duration <= 0 {
			continue
		}
		if s := w.Start.Next(now.Add(-w.Duration)); !s.IsZero() && !s.After(now) {
			st.Open = true
			if end := s.Add(w.Duration); end.After(st.Until) {
				st.Until, st.Opened = end, s
			}
		}
		if n := w.Start.Next(now); !n.IsZero() && (st.Next.IsZero() || n.Before(st.Next)) {
			st.Next = n
		}
	}
	return st
}

// windowVerdict is gate's answer for an upload the rotation rules call for.
type windowVerdict struct {
	skip   bool      // outside every window: skip with ReasonOutsideWindow
	reason string    // when going ahead outside a window: emergency or forced_outside_window
	next   time.Time // the next window start, set when outside every window
}

// gate applies the job's change windows to an upload the rules already
// decided is due, at now. Inside a window (or with no windows) it goes
// ahead unmarked. Outside every window a forced request goes ahead, marked
// forced_outside_window; so does an upload whose connector's active
// certificate expires within emergency_within (or that has none active),
// marked emergency, when the job sets emergency_within; every other upload
// is skipped until the next window.
func gate(job Job, active *Certificate, force bool, now time.Time) windowVerdict {
	st := windowState(job.Windows, now)
	if st.Open {
		return windowVerdict{}
	}
	v := windowVerdict{next: st.Next}
	switch {
	case force:
		v.reason = ReasonForcedOutsideWindow
	case job.EmergencyWithin > 0 && (active == nil || active.NotAfter.Sub(now) < job.EmergencyWithin):
		v.reason = ReasonEmergency
	default:
		v.skip = true
	}
	return v
}
