package contract

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestSubjectsAndKeys(t *testing.T) {
	t.Parallel()
	for got, want := range map[string]string{
		RequestSubject("certrotation", "api"):       "certrotation.request.api",
		ResultSubject("certrotation", "api", ""):    "certrotation.result.api._",
		ResultSubject("x", "api", "c1"):             "x.result.api.c1",
		ResultsOf("certrotation", "api"):            "certrotation.result.api.>",
		StatusKey("api", ""):                        "api._",
		StatusKey("api", "7b3a0c1e-aaaa-bbbb-cccc"): "api.7b3a0c1e-aaaa-bbbb-cccc",
	} {
		if got != want {
			t.Errorf("got %q, want %q", got, want)
		}
	}
}

func TestEventIsCloudEvent(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 10, 0, 0, 123456789, time.FixedZone("x", 3600))
	ev := NewEvent("rotator-1", Outcome{Job: "api", Connector: "c1", Status: StatusSucceeded}, now)
	body, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"specversion":"1.0"`, `"source":"certrotator/rotator-1"`,
		`"type":"certrotator.rotation.succeeded"`, `"subject":"api/c1"`, `"time":"2026-11-25T09:00:00.123Z"`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("event %s lacks %s", body, want)
		}
	}
	if other := NewEvent("rotator-1", ev.Data, now); other.ID == ev.ID {
		t.Error("two events share an id")
	}
}
