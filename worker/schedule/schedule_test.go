package schedule

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/certrotator/certrotator/config"
)

func mustSchedule(t *testing.T, spec string) cron.Schedule {
	t.Helper()
	s, err := config.ParseSchedule(spec)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestPrevSlot(t *testing.T) {
	t.Parallel()
	monday := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC) // a Monday
	tests := []struct {
		spec string
		now  time.Time
		want time.Time
	}{
		{"0 3 * * *", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)},
		{"0 3 * * *", time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)},
		{"0 */6 * * *", time.Date(2026, 11, 25, 13, 5, 0, 0, time.UTC), time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		{"0 3 * * 1-5", monday, time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)},
		{"CRON_TZ=Europe/Paris 0 3 * * *", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, ok := PrevSlot(mustSchedule(t, tt.spec), tt.now)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("PrevSlot(%q, %s) = %s %v, want %s", tt.spec, tt.now, got, ok, tt.want)
		}
	}
}

func TestMissedSlotEvery(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	slot, ok := PrevSlot(mustSchedule(t, "@every 1h"), now)
	want := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	if !ok || !slot.Equal(want) {
		t.Errorf("PrevSlot(@every 1h) = %s, %v; want the grid point %s", slot, ok, want)
	}
}
