package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// windowConfig has job api with one change window a day, 08:00-16:00 UTC.
func windowConfig(t *testing.T) *config.Config {
	t.Helper()
	start, err := config.ParseSchedule("CRON_TZ=UTC 0 8 * * *")
	if err != nil {
		t.Fatal(err)
	}
	return &config.Config{Jobs: []jobs.Job{{Name: "api", Windows: []jobs.Window{{Start: start, Duration: 8 * time.Hour}}}}}
}

func TestStatusShowsNextWindow(t *testing.T) {
	t.Parallel()
	next := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	skip := jobs.Outcome{Job: "api", Connector: "c1", Status: contract.StatusSkipped, Reason: jobs.ReasonOutsideWindow, NextWindow: &next, Trigger: "watch"}
	entries := []client.StatusEntry{{Key: "api.c1", Updated: textNow, Outcome: skip}}

	// Without a config: the skip's own next_window.
	rows := statusRows(entries, nil, nil, textNow)
	if rows[0].NextWindow == nil || !rows[0].NextWindow.Equal(next) || rows[0].WindowOpen != nil {
		t.Errorf("row without config = %+v", rows[0])
	}
	var b strings.Builder
	printStatus(&b, rows, textNow)
	if out := b.String(); !strings.Contains(out, "NEXT WINDOW") || !strings.Contains(out, "2026-12-03 08:00 (in 20h)") {
		t.Errorf("status lacks the next window:\n%s", out)
	}
	if got, want := detail(skip, textNow), "outside_window, next window 2026-12-03 08:00 (in 20h)"; got != want {
		t.Errorf("detail = %q, want %q", got, want)
	}

	// With a config at 12:00: a window is open now.
	rows = statusRows(entries, nil, windowConfig(t), textNow)
	if rows[0].WindowOpen == nil || !*rows[0].WindowOpen || rows[0].NextWindow == nil || !rows[0].NextWindow.Equal(next) {
		t.Errorf("row with config = %+v", rows[0])
	}
	b.Reset()
	printStatus(&b, rows, textNow)
	if out := b.String(); !strings.Contains(out, " open ") {
		t.Errorf("status does not say the window is open:\n%s", out)
	}
	js, err := json.Marshal(rows[0])
	if err != nil {
		t.Fatal(err)
	}
	if s := string(js); !strings.Contains(s, `"next_window":"2026-12-03T08:00:00Z"`) || !strings.Contains(s, `"window_open":true`) ||
		strings.Count(s, `"next_window"`) != 1 {
		t.Errorf("status JSON = %s", s)
	}

	// A job without windows: nothing.
	plain := entries[0]
	plain.Outcome = jobs.Outcome{Job: "other", Connector: "c2", Status: contract.StatusSucceeded}
	if r := statusRows([]client.StatusEntry{plain}, nil, windowConfig(t), textNow)[0]; r.NextWindow != nil || r.WindowOpen != nil {
		t.Errorf("a job without windows = %+v", r)
	}
}

func TestPlanShowsWindow(t *testing.T) {
	t.Parallel()
	next := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
	var b strings.Builder
	printPlan(&b, []jobs.Decision{
		{Job: "api", Connector: "c1", Action: jobs.ActionSkip, Reason: jobs.ReasonOutsideWindow, NextWindow: &next},
		{Job: "api", Connector: "c2", Action: jobs.ActionUpload, WindowOpen: true, NextWindow: &next},
		{Job: "other", Connector: "c3", Action: jobs.ActionUpload},
	}, textNow)
	lines := strings.Split(b.String(), "\n")
	if !strings.HasSuffix(strings.TrimSpace(lines[0]), "WINDOW") || !strings.HasSuffix(lines[1], "outside_window  2026-12-03 08:00 (in 20h)") ||
		!strings.HasSuffix(lines[2], "open") || !strings.HasSuffix(lines[3], "-") {
		t.Errorf("plan:\n%s", b.String())
	}
}
