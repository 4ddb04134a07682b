package config

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/certrotator/certrotator/jobs"
)

// ParseDuration parses a Go duration ("90m", "1h30m") that may also count
// days of 24 hours with d ("30d", "1d12h", "1.5d"). The error says what is
// accepted.
func ParseDuration(s string) (time.Duration, error) {
	d, ok := parseDuration(s)
	if !ok {
		return 0, fmt.Errorf("%q is not a duration (such as 90m, 1h30m, or 30d for days)", s)
	}
	return d, nil
}

func parseDuration(s string) (time.Duration, bool) {
	rest, neg := strings.CutPrefix(s, "-")
	if !neg {
		rest, _ = strings.CutPrefix(rest, "+")
	}
	if rest == "" || !strings.Contains(rest, "d") {
		d, err := time.ParseDuration(s)
		return d, err == nil
	}
	var days float64
	var other strings.Builder
	for rest != "" {
		num := strings.IndexFunc(rest, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
		if num <= 0 {
			return 0, false // no number, or a number without a unit
		}
		unit := strings.IndexFunc(rest[num:], func(r rune) bool { return ('0' <= r && r <= '9') || r == '.' })
		if unit < 0 {
			unit = len(rest) - num
		}
		if rest[num:num+unit] == "d" {
			n, err := strconv.ParseFloat(rest[:num], 64)
			if err != nil {
				return 0, false
			}
			days += n
		} else {
			other.WriteString(rest[:num+unit])
		}
		rest = rest[num+unit:]
	}
	return sumDuration(days, other.String(), neg)
}

// sumDuration adds days to the Go duration text (which may be empty) and
// applies the sign, refusing overflow.
func sumDuration(days float64, text string, neg bool) (time.Duration, bool) {
	var d time.Duration
	if text != "" {
		var err error
		if d, err = time.ParseDuration(text); err != nil {
			return 0, false
		}
	}
	total := float64(d) + days*float64(24*time.Hour)
	if total >= math.MaxInt64 {
		return 0, false
	}
	if neg {
		total = -total
	}
	return time.Duration(total), true
}

// parseRenewBefore reads renew_before: a positive duration, or a share of
// the certificate's lifetime such as "33%" (strictly between 0% and 100%).
// The message of a failure holds s, which is never a secret.
func parseRenewBefore(s string) (jobs.RenewBefore, string) {
	if p, ok := strings.CutSuffix(s, "%"); ok {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		switch {
		case err != nil || math.IsNaN(f):
			return jobs.RenewBefore{}, fmt.Sprintf("%q is not a duration or a percentage", s)
		case f <= 0 || f >= 100:
			return jobs.RenewBefore{}, fmt.Sprintf("%q must be a percentage between 0%% and 100%%, both excluded", s)
		}
		return jobs.RenewBefore{Fraction: f / 100}, ""
	}
	d, ok := parseDuration(s)
	switch {
	case !ok:
		return jobs.RenewBefore{}, fmt.Sprintf("%q is not a duration or a percentage", s)
	case d <= 0:
		return jobs.RenewBefore{}, fmt.Sprintf("%q must be positive", s)
	}
	return jobs.RenewBefore{Duration: d}, ""
}
