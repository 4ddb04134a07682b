package contract

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestMsgIDs(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 26, 8, 0, 0, 0, time.FixedZone("CET", 3600))
	if got := CronMsgID("api", at); got != "cron-api-1795676400" {
		t.Errorf("CronMsgID = %q", got)
	}
	if got := WindowMsgID("api", at); got != "window-api-1795676400" {
		t.Errorf("WindowMsgID = %q", got)
	}
}

// TestNextWindowIsAdditive: an outcome without next_window encodes as
// before; one with it carries the instant in UTC.
func TestNextWindowIsAdditive(t *testing.T) {
	t.Parallel()
	plain, err := json.Marshal(NewEvent("r1", Outcome{Job: "api", Connector: "c1", Status: StatusSkipped}, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "next_window") {
		t.Errorf("an outcome without a window encodes next_window: %s", plain)
	}
	next := time.Date(2026, 11, 26, 7, 0, 0, 0, time.UTC)
	held, err := json.Marshal(NewEvent("r1", Outcome{Job: "api", Connector: "c1", Status: StatusSkipped,
		Reason: ReasonOutsideWindow, NextWindow: &next}, time.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(held), `"reason":"outside_window"`) || !strings.Contains(string(held), `"next_window":"2026-11-26T07:00:00Z"`) {
		t.Errorf("held outcome = %s", held)
	}
}
