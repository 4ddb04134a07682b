package contract

import (
	"reflect"
	"testing"
	"time"
)

// A status written without reading the former record is the one that
// reading it would have given.
func TestReadsPrevious(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 8, 4, 0, 0, 0, time.UTC)
	old, cur, next := &CertInfo{Thumbprint: "OLD"}, &CertInfo{Thumbprint: "CUR"}, &CertInfo{Thumbprint: "NEXT"}
	prev := &StatusRecord{Active: old, LastSuccess: &LastSuccess{At: now.Add(-time.Hour), Certificate: old}}
	cases := []struct {
		name  string
		o     Outcome
		reads bool
	}{
		{"succeeded", Outcome{Status: StatusSucceeded, Certificate: next, Previous: cur}, false},
		{"succeeded, staged, previous known", Outcome{Status: StatusSucceeded, Staged: true, Certificate: next, Previous: cur}, false},
		{"succeeded, staged, previous unknown", Outcome{Status: StatusSucceeded, Staged: true, Certificate: next}, true},
		{"skipped, already present", Outcome{Status: StatusSkipped, Reason: ReasonAlreadyPresent, Certificate: next}, true},
		{"skipped, not newer", Outcome{Status: StatusSkipped, Reason: ReasonNotNewer, Certificate: next, Previous: cur}, true},
		{"failed before the read", Outcome{Status: StatusFailed}, true},
		{"failed after the read", Outcome{Status: StatusFailed, Previous: cur}, true},
	}
	for _, c := range cases {
		if got := ReadsPrevious(c.o); got != c.reads {
			t.Errorf("%s: ReadsPrevious = %v, want %v", c.name, got, c.reads)
		}
		if ReadsPrevious(c.o) {
			continue
		}
		if with, without := NextStatus(prev, c.o, now), NextStatus(nil, c.o, now); !reflect.DeepEqual(with, without) {
			t.Errorf("%s: the status without the former record is %+v, want %+v", c.name, without, with)
		}
	}
}
