package config

import (
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"30d", 30 * 24 * time.Hour, true},
		{"1d12h", 36 * time.Hour, true},
		{"1.5d", 36 * time.Hour, true},
		{"2d30m15s", 48*time.Hour + 30*time.Minute + 15*time.Second, true},
		{"-1d", -24 * time.Hour, true},
		{"+7d", 7 * 24 * time.Hour, true},
		{"720h", 720 * time.Hour, true},
		{"1h30m", 90 * time.Minute, true},
		{"0", 0, true},
		{"d", 0, false},
		{"30", 0, false},
		{"3dd", 0, false},
		{"1d2", 0, false},
		{"1.2.3d", 0, false},
		{"1d-2h", 0, false},
		{"", 0, false},
		{"300000000d", 0, false}, // overflows
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if got != tt.want || (err == nil) != tt.ok {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v, ok %v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "30d") {
			t.Errorf("ParseDuration(%q) error %q does not say that d is accepted", tt.in, err.Error())
		}
	}
}

func TestParseRenewBefore(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, msg string
		want    jobs.RenewBefore
	}{
		{"33%", "", jobs.RenewBefore{Fraction: 0.33}},
		{"12.5%", "", jobs.RenewBefore{Fraction: 0.125}},
		{"720h", "", jobs.RenewBefore{Duration: 720 * time.Hour}},
		{"30d", "", jobs.RenewBefore{Duration: 720 * time.Hour}},
		{"3O%", `"3O%" is not a duration or a percentage`, jobs.RenewBefore{}},
		{"%", `"%" is not a duration or a percentage`, jobs.RenewBefore{}},
		{"NaN%", `"NaN%" is not a duration or a percentage`, jobs.RenewBefore{}},
		{"0%", `"0%" must be a percentage between 0% and 100%, both excluded`, jobs.RenewBefore{}},
		{"100%", `"100%" must be a percentage between 0% and 100%, both excluded`, jobs.RenewBefore{}},
		{"-5%", `"-5%" must be a percentage between 0% and 100%, both excluded`, jobs.RenewBefore{}},
		{"-1h", `"-1h" must be positive`, jobs.RenewBefore{}},
		{"soon", `"soon" is not a duration or a percentage`, jobs.RenewBefore{}},
	}
	for _, tt := range tests {
		got, msg := parseRenewBefore(tt.in)
		if got != tt.want || msg != tt.msg {
			t.Errorf("parseRenewBefore(%q) = %+v, %q; want %+v, %q", tt.in, got, msg, tt.want, tt.msg)
		}
	}
}

func TestParseRenewBeforeInConfig(t *testing.T) {
	t.Parallel()
	c := mustParse(t, edit(t, "renew_before: 720h", "renew_before: 33%"), nil)
	if got := c.Jobs[0].RenewBefore; got != (jobs.RenewBefore{Fraction: 0.33}) {
		t.Errorf("RenewBefore = %+v, want Fraction 0.33", got)
	}
	c = mustParse(t, edit(t, "min_validity: 168h", "min_validity: 1d12h"), nil)
	if got := c.Jobs[0].MinValidity; got != 36*time.Hour {
		t.Errorf("MinValidity = %v, want 36h", got)
	}
}
