package config

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/robfig/cron/v3"
)

// TestRobfigPanicsOnBareZonePrefix documents why ParseSchedule guards the
// prefix: robfig/cron v3.0.1 slices to the first space and panics without
// one. If this starts failing, the library was fixed and the guard could go.
func TestRobfigPanicsOnBareZonePrefix(t *testing.T) {
	t.Parallel()
	panicked := func() (p bool) {
		defer func() { p = recover() != nil }()
		_, _ = scheduleParser.Parse("CRON_TZ=UTC")
		return false
	}()
	if !panicked {
		t.Error("robfig/cron no longer panics on \"CRON_TZ=UTC\"")
	}
}

func TestParseScheduleRejectsWithoutPanicking(t *testing.T) {
	t.Parallel()
	for _, spec := range []string{
		"CRON_TZ=UTC", "TZ=UTC", "CRON_TZ=", "TZ=", "CRON_TZ=UTC\t0 * * * *", "CRON_TZ=UTC ",
		"CRON_TZ=Nowhere/City 0 3 * * *", "", "   ", "* * * *", "0 0 * * * *", "61 * * * *",
		"@every", "@every nonsense", "@yearly-ish", "0 0 30 2 *", "0 0 31 4 *",
	} {
		s, err := ParseSchedule(spec)
		if err == nil || s != nil {
			t.Errorf("ParseSchedule(%q) = %v, %v; want an error", spec, s, err)
			continue
		}
		if want := fmt.Sprintf("parsing schedule %q: ", spec); !strings.HasPrefix(err.Error(), want) {
			t.Errorf("ParseSchedule(%q) error = %q, want it to start with %q", spec, err.Error(), want)
		}
	}
}

func TestParseScheduleNext(t *testing.T) {
	t.Parallel()
	from := time.Date(2026, time.March, 2, 0, 0, 0, 0, time.UTC) // a Monday
	tests := []struct {
		spec string
		want time.Time
	}{
		{"0 */6 * * *", time.Date(2026, time.March, 2, 6, 0, 0, 0, time.UTC)},
		{"@every 90m", from.Add(90 * time.Minute)},
		{"@hourly", from.Add(time.Hour)},
		// 03:00 in Berlin in winter is 02:00 UTC.
		{"CRON_TZ=Europe/Berlin 0 3 * * *", time.Date(2026, time.March, 2, 2, 0, 0, 0, time.UTC)},
		{"TZ=UTC 30 2 * * 1-5", time.Date(2026, time.March, 2, 2, 30, 0, 0, time.UTC)},
		{"0 0 29 2 *", time.Date(2028, time.February, 29, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		s, err := ParseSchedule(tt.spec)
		if err != nil {
			t.Errorf("ParseSchedule(%q): %s", tt.spec, err.Error())
			continue
		}
		// Specs without a zone run in time.Local; compare instants from a
		// UTC start only for zoned or interval specs, and in Local otherwise.
		start := from
		want := tt.want
		if !strings.Contains(tt.spec, "TZ=") && !strings.HasPrefix(tt.spec, "@every") && !strings.HasPrefix(tt.spec, "@hourly") {
			start = time.Date(2026, time.March, 2, 0, 0, 0, 0, time.Local)
			want = time.Date(tt.want.Year(), tt.want.Month(), tt.want.Day(), tt.want.Hour(), tt.want.Minute(), 0, 0, time.Local)
		}
		if got := s.Next(start); !got.Equal(want) {
			t.Errorf("ParseSchedule(%q).Next(%v) = %v, want %v", tt.spec, start, got, want)
		}
	}
}

// TestEveryOnGrid: replicas started at different moments fire the same
// @every slots, so their cron Msg-Ids match and the stream keeps one.
func TestEveryOnGrid(t *testing.T) {
	t.Parallel()
	sched := onGrid(mustSchedule(t, "@every 15m"))
	a := sched.Next(time.Date(2026, 11, 25, 10, 1, 7, 0, time.UTC))
	b := sched.Next(time.Date(2026, 11, 25, 10, 13, 59, 0, time.UTC))
	want := time.Date(2026, 11, 25, 10, 15, 0, 0, time.UTC)
	if !a.Equal(want) || !b.Equal(want) {
		t.Errorf("Next = %s and %s, want both %s", a, b, want)
	}
	if next := sched.Next(want); !next.Equal(want.Add(15 * time.Minute)) {
		t.Errorf("Next(%s) = %s, want the following grid point", want, next)
	}
	if _, ok := onGrid(mustSchedule(t, "0 3 * * *")).(gridSchedule); ok {
		t.Error("a cron expression was put on a grid")
	}
}

func mustSchedule(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := parseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestScheduleWithoutZoneIsUTC: a spec without CRON_TZ= runs in UTC, as
// docs/config.md says, whatever the host's zone (robfig/cron would take
// time.Local); a CRON_TZ= prefix keeps its zone.
func TestScheduleWithoutZoneIsUTC(t *testing.T) {
	t.Parallel()
	for spec, want := range map[string]string{
		"0 3 * * *":                       "UTC",
		"@daily":                          "UTC",
		"CRON_TZ=Europe/Berlin 0 3 * * *": "Europe/Berlin",
	} {
		s, err := ParseSchedule(spec)
		if err != nil {
			t.Fatalf("%s: %v", spec, err)
		}
		spec2, ok := s.(*cron.SpecSchedule)
		if !ok {
			t.Fatalf("%s parsed to %T", spec, s)
		}
		if spec2.Location != time.UTC && want == "UTC" || spec2.Location.String() != want {
			t.Errorf("%s runs in %v, want %s", spec, spec2.Location, want)
		}
	}
}
