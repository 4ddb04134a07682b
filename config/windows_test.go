package config

import (
	"strings"
	"testing"
	"time"
)

// windowsBlock adds two change windows to the valid config after
// max_attempts (line 24): `windows` is on line 25, its items on 26 and 27,
// the second item's duration on 28, emergency_within on 29.
const windowsBlock = `max_attempts: 8
    windows:
      - {start: "CRON_TZ=Europe/Amsterdam 0 8 * * 1-5", duration: 8h}
      - start: "CRON_TZ=Europe/Amsterdam 0 10 * 1-11 6"
        duration: 4h
    emergency_within: 72h`

func TestParseWindows(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, "max_attempts: 8", windowsBlock), nil)
	j := c.Jobs[0]
	if len(j.Windows) != 2 || j.EmergencyWithin != 72*time.Hour {
		t.Fatalf("windows = %+v, emergency_within = %s", j.Windows, j.EmergencyWithin)
	}
	if sum := c.Summary(); !strings.Contains(sum, "policy on-change, 2 change window(s), emergency within 72h0m0s\n") {
		t.Errorf("summary does not show the windows:\n%s", sum)
	}
	w := j.Windows[0]
	if w.Spec != "CRON_TZ=Europe/Amsterdam 0 8 * * 1-5" || w.Duration != 8*time.Hour || w.Start == nil {
		t.Fatalf("window 0 = %+v", w)
	}
	// Friday 27 November 2026, 16:30 in Amsterdam (15:30 UTC): closed; the
	// next window is Saturday's 10:00 (09:00 UTC). A week later the
	// Saturday window is frozen (months 1-11): the next is Monday's 08:00.
	fri := time.Date(2026, time.November, 27, 15, 30, 0, 0, time.UTC)
	if st := j.WindowAt(fri); st.Open || !st.Next.Equal(time.Date(2026, time.November, 28, 9, 0, 0, 0, time.UTC)) {
		t.Errorf("Friday 16:30 Amsterdam: %+v, want closed, next Saturday 09:00 UTC", st)
	}
	if st := j.WindowAt(fri.AddDate(0, 0, 7)); st.Open || !st.Next.Equal(time.Date(2026, time.December, 7, 7, 0, 0, 0, time.UTC)) {
		t.Errorf("Friday 16:30 Amsterdam in December: %+v, want closed, next Monday 07:00 UTC", st)
	}
	if st := j.WindowAt(fri.Add(-time.Hour)); !st.Open || !st.Until.Equal(time.Date(2026, time.November, 27, 15, 0, 0, 0, time.UTC)) {
		t.Errorf("Friday 15:30 Amsterdam: %+v, want open until 15:00 UTC", st)
	}
	plain := mustParse(t, valid, nil).Jobs[0]
	if plain.Windows != nil || plain.EmergencyWithin != 0 || !plain.WindowAt(fri).Open {
		t.Errorf("a job without windows: %+v %s, want none and always open", plain.Windows, plain.EmergencyWithin)
	}
}

func TestParseWindowsRules(t *testing.T) {
	t.Parallel()
	tests := []editCase{
		{"start not cron", "0 8 * * 1-5", "0 8 * * mon-fry", 26, "jobs[0].windows[0].start", `"CRON_TZ=Europe/Amsterdam 0 8 * * mon-fry" is not a schedule`},
		{"unknown zone", "CRON_TZ=Europe/Amsterdam 0 8", "CRON_TZ=Europe/Amsterdamm 0 8", 26, "jobs[0].windows[0].start", "\"CRON_TZ=Europe/Amsterdamm"},
		{"start required", `{start: "CRON_TZ=Europe/Amsterdam 0 8 * * 1-5", duration: 8h}`, "{duration: 8h}", 26, "jobs[0].windows[0].start", "required"},
		{"duration required", "\n        duration: 4h", "", 27, "jobs[0].windows[1].duration", "required"},
		{"duration not a duration", "duration: 4h", "duration: long", 28, "jobs[0].windows[1].duration", `"long" is not a duration`},
		{"duration too short", "duration: 4h", "duration: 30s", 28, "jobs[0].windows[1].duration", "30s is shorter than 1m0s"},
		{"unknown window key", "duration: 4h", "duration: 4h\n        end: 14:00", 29, "jobs[0].windows[1].end", "unknown key"},
		{"not a list", "    windows:\n      - {start: \"CRON_TZ=Europe/Amsterdam 0 8 * * 1-5\", duration: 8h}\n      - start: \"CRON_TZ=Europe/Amsterdam 0 10 * 1-11 6\"\n        duration: 4h\n",
			"    windows: {start: \"0 8 * * *\", duration: 8h}\n", 25, "jobs[0].windows", "expected a list"},
		{"empty list", "    windows:\n      - {start: \"CRON_TZ=Europe/Amsterdam 0 8 * * 1-5\", duration: 8h}\n      - start: \"CRON_TZ=Europe/Amsterdam 0 10 * 1-11 6\"\n        duration: 4h\n",
			"    windows: []\n", 25, "jobs[0].windows", "an empty list"},
		{"emergency_within not a duration", "emergency_within: 72h", "emergency_within: soon", 29, "jobs[0].emergency_within", `"soon" is not a duration`},
		{"emergency_within negative", "emergency_within: 72h", "emergency_within: -1h", 29, "jobs[0].emergency_within", "must be positive"},
		{"emergency_within without windows", "    windows:\n      - {start: \"CRON_TZ=Europe/Amsterdam 0 8 * * 1-5\", duration: 8h}\n      - start: \"CRON_TZ=Europe/Amsterdam 0 10 * 1-11 6\"\n        duration: 4h\n",
			"", 25, "jobs[0].emergency_within", "has no effect without windows"},
	}
	base := edit(t, "max_attempts: 8", windowsBlock)
	mustParse(t, base, nil)
	wantEditProblems(t, base, tests)
}
