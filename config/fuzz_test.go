package config

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

// FuzzParse checks that no input panics the loader (robfig/cron and YAML
// corners included) and that a rejected input always lists its problems,
// sorted by line.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"example.yaml", "problems.yaml"} {
		data, err := readTestdataFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(valid))
	f.Add([]byte("jobs: [{name: a, schedule: \"TZ=x\"}]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Add([]byte(strings.Replace(valid, "max_attempts: 8", windowsBlock, 1)))
	f.Add([]byte("jobs: [{name: a, windows: [{start: \"CRON_TZ=x\", duration: 1h}, {}], emergency_within: x}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Parse(data, env(map[string]string{"VAULT_ADDR": "http://v:8200"}))
		if err == nil {
			return
		}
		ve, ok := errors.AsType[*ValidationError](err)
		if !ok || len(ve.Problems) == 0 {
			t.Fatalf("Parse error = %v, want a *ValidationError with problems", err)
		}
		if !slices.IsSortedFunc(ve.Problems, func(a, b Problem) int { return a.Line - b.Line }) {
			t.Fatalf("problems not sorted by line: %v", ve.Problems)
		}
	})
}

// FuzzParseSchedule checks that ParseSchedule never panics and that what
// it accepts has a next firing.
func FuzzParseSchedule(f *testing.F) {
	for _, s := range []string{"CRON_TZ=UTC", "TZ=UTC 0 * * * *", "@every 1h", "0 */6 * * *", "0 0 30 2 *"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		s, err := ParseSchedule(spec)
		if err == nil && s.Next(scheduleProbeTime).IsZero() {
			t.Fatalf("ParseSchedule(%q) accepted a schedule that never fires", spec)
		}
	})
}
