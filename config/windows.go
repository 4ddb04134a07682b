package config

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/certrotator/certrotator/jobs"
)

var windowKeys = []string{"start", "duration"}

// WindowMin is the shortest change window: shorter ones are typos (1m for
// 1h) rather than windows a rotation could start in.
const WindowMin = time.Minute

// windows reads a job's `windows`, nil when absent. Each window's start is
// a schedule as `schedule` accepts it (five cron fields, descriptors and a
// CRON_TZ= prefix); its duration is how long it stays open. An explicit
// empty list is refused: it would read as "never" to one operator and
// "always" to another.
func (d *decoder) windows(s section) []jobs.Window {
	if !s.has("windows") {
		return nil
	}
	items := s.list("windows")
	if s.node("windows").Kind != yaml.SequenceNode {
		return nil // reported by list
	}
	if len(items) == 0 {
		s.problem("windows", "an empty list: leave windows out for no change windows, or list at least one {start, duration}")
		return nil
	}
	out := make([]jobs.Window, 0, len(items))
	for i, n := range items {
		ws := d.section(n, fmt.Sprintf("%s[%d]", s.key("windows"), i), resolve(n).Line, windowKeys...)
		if w, ok := d.window(ws); ok {
			out = append(out, w)
		}
	}
	return out
}

// window reads one {start, duration}; ok is false when it has a problem.
func (d *decoder) window(ws section) (jobs.Window, bool) {
	w := jobs.Window{Spec: ws.str("start", "")}
	ok := true
	if w.Spec == "" {
		ws.problem("start", `required: a cron expression for when the window opens, such as "CRON_TZ=Europe/Amsterdam 0 8 * * 1-5"`)
		ok = false
	} else if sched, err := parseSchedule(w.Spec); err != nil {
		ws.problem("start", "%q is not a schedule: %s", w.Spec, err.Error())
		ok = false
	} else {
		w.Start = onGrid(sched)
	}
	dur, v, parsed := ws.parsedDuration("duration", "8h or 90m")
	switch {
	case !parsed && !ws.has("duration"):
		ws.problem("duration", "required: how long the window stays open, such as 8h")
		return w, false
	case !parsed:
		return w, false
	case dur < WindowMin:
		ws.problem("duration", "%s is shorter than %s", v, WindowMin)
		ok = false
	}
	w.Duration = dur
	return w, ok
}

// emergencyWithin reads `emergency_within`: 0 when absent. It only means
// something beside windows, so it is refused without them.
func (d *decoder) emergencyWithin(s section, windows bool) time.Duration {
	if !s.has("emergency_within") {
		return 0
	}
	e, _, ok := s.parsedDuration("emergency_within", "72h or 3d")
	switch {
	case !ok:
		return 0
	case e <= 0:
		s.problem("emergency_within", "must be positive, such as 72h")
		return 0
	case !windows:
		s.problem("emergency_within", "has no effect without windows: add windows or remove it")
	}
	return e
}
