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
// never fires (such as February 30). An @every schedule runs on a fixed
// grid (see gridSchedule). Load parses each job's schedule once into
// jobs.Job.Next.
func ParseSchedule(spec string) (cron.Schedule, error) {
	s, err := parseSchedule(spec)
	if err != nil {
		return nil, fmt.Errorf("parsing schedule %q: %w", spec, err)
	}
	return onGrid(s), nil
}

// gridSchedule runs an @every schedule on a fixed grid (the multiples of
// its delay since Go's zero time) rather than relative to when each worker
// started, so that replicas started at different moments fire the same
// slots and the Msg-Id dedupe keeps one request per tick.
type gridSchedule struct{ every time.Duration }

// Next is the first grid point after t.
func (g gridSchedule) Next(t time.Time) time.Time { return t.Truncate(g.every).Add(g.every) }

// onGrid puts an @every schedule on its grid and leaves cron expressions,
// which have one already, as they are.
func onGrid(s cron.Schedule) cron.Schedule {
	if c, ok := s.(cron.ConstantDelaySchedule); ok && c.Delay > 0 {
		return gridSchedule{every: c.Delay}
	}
	return s
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
	s, err = scheduleParser.Parse(inUTC(spec))
	if err != nil {
		return nil, err
	}
	if s.Next(scheduleProbeTime).IsZero() {
		return nil, errors.New("it never fires")
	}
	if c, ok := s.(cron.ConstantDelaySchedule); ok && c.Delay < EveryMin {
		return nil, fmt.Errorf("@every must be at least %s", EveryMin)
	}
	return s, nil
}

// inUTC gives a spec without a zone prefix the zone UTC: robfig/cron would
// read its fields in the host's local zone (time.Local), so one config
// would fire at different instants on a laptop and in a UTC container, and
// replicas on hosts of different zones would fire different slots.
func inUTC(spec string) string {
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return spec
	}
	return "CRON_TZ=UTC " + spec
}
