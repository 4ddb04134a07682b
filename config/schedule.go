package config

import (
	"errors"
	"fmt"
	"strings"
	"time"
	// Embedded zone data, so that a CRON_TZ= schedule validates and runs the
	// same on a host or image without /usr/share/zoneinfo.
	_ "time/tzdata"

	"github.com/robfig/cron/v3"
)

// scheduleParser accepts five fields (minute to day of week), descriptors
// such as @hourly and @every 10m, and a CRON_TZ= or TZ= prefix. It is
// immutable.
var scheduleParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// scheduleProbeTime is where ParseSchedule looks for a first firing; any
// fixed instant works since robfig/cron searches five years ahead.
var scheduleProbeTime = time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)

// ParseSchedule parses a job's schedule the way config validates it: five
// cron fields, @every/@hourly descriptors, and an optional "CRON_TZ=Zone "
// or "TZ=Zone " prefix. It never panics, and it refuses a schedule that
// never fires (such as February 30). The worker uses it to run cron.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := parseSchedule(spec)
	if err != nil {
		return nil, fmt.Errorf("parsing schedule %q: %w", spec, err)
	}
	return s, nil
}

func parseSchedule(spec string) (s cron.Schedule, err error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("empty schedule")
	}
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		// robfig/cron slices up to the first space and panics without one.
		if !strings.Contains(spec, " ") {
			return nil, errors.New(`a time zone prefix needs a space and the schedule after it, as in "CRON_TZ=UTC 0 3 * * *"`)
		}
	}
	defer func() {
		// Belt and braces for input robfig/cron does not expect.
		if r := recover(); r != nil {
			s, err = nil, errors.New("the cron parser cannot read it")
		}
	}()
	s, err = scheduleParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	if s.Next(scheduleProbeTime).IsZero() {
		return nil, errors.New("it never fires")
	}
	return s, nil
}
