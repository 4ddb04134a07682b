package main

import (
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

var textNow = time.Date(2026, 12, 2, 12, 0, 0, 0, time.UTC)

func TestOutcomeText(t *testing.T) {
	t.Parallel()
	cert := &jobs.CertInfo{Thumbprint: "8E71A2B4C3D4E5F60718293A4B5C6D7E8F901234", NotAfter: textNow.Add(89*24*time.Hour + time.Hour), SourceVersion: 3}
	old := &jobs.CertInfo{Thumbprint: "0EB2000000000000000000000000000000000000", NotAfter: textNow.Add(5 * 24 * time.Hour)}
	tests := []struct {
		name string
		o    jobs.Outcome
		want string
	}{
		{"success", jobs.Outcome{Status: contract.StatusSucceeded, Certificate: cert, Previous: old},
			"thumbprint 8E71A2B4C3D4…, 89 days left, version 3"},
		{"not newer keeps the old", jobs.Outcome{Status: contract.StatusSkipped, Reason: contract.ReasonNotNewer, Certificate: cert, Previous: old},
			"not_newer, thumbprint 0EB200000000…, 5 days left, version 3"},
		{"staged keeps the old", jobs.Outcome{Status: contract.StatusSucceeded, Staged: true, Certificate: cert, Previous: old},
			"staged, thumbprint 0EB200000000…, 5 days left, version 3"},
		{"retrying failure", jobs.Outcome{Status: contract.StatusFailed, Attempt: 2, Error: &jobs.ErrorInfo{Code: "graph_throttled", Message: "429"}},
			"graph_throttled: 429 (attempt 2, will retry)"},
		{"expiring", jobs.Outcome{Status: contract.StatusExpiring, Certificate: old, Previous: old, Threshold: "168h", Final: true},
			"thumbprint 0EB200000000…, 5 days left, threshold 168h"},
	}
	for _, tt := range tests {
		if got := detail(tt.o, textNow); got != tt.want {
			t.Errorf("%s: detail = %q, want %q", tt.name, got, tt.want)
		}
	}
	ev := contract.Event{Time: textNow, Data: jobs.Outcome{Job: "api", Status: contract.StatusFailed, Trigger: "manual", RequestedBy: "alice@h",
		RequestReason: "rollback", Final: true, Error: &jobs.ErrorInfo{Code: contract.CodeBadRequest, Message: "unknown connector"}}}
	if got, want := eventLine(ev, textNow), "2026-12-02 12:00:00Z  failed     api/_  bad_request: unknown connector  [manual by alice@h: rollback]"; got != want {
		t.Errorf("eventLine = %q\nwant        %q", got, want)
	}
	var tl tally
	for _, o := range []jobs.Outcome{
		{Status: contract.StatusSucceeded, Final: true}, {Status: contract.StatusFailed}, {Status: contract.StatusFailed, Final: true},
		{Status: contract.StatusSkipped, Final: true}, {Status: contract.StatusExpiring, Final: true},
	} {
		tl.add(o)
	}
	if got := tl.line(1234 * time.Millisecond); got != "1 succeeded, 1 skipped, 1 failed in 1.2s" {
		t.Errorf("tally = %q", got)
	}
	if got := (tally{succeeded: 2}).line(42 * time.Millisecond); got != "2 succeeded, 0 failed in 42ms" {
		t.Errorf("tally = %q", got)
	}
}

func TestPrintStatus(t *testing.T) {
	t.Parallel()
	cert := &jobs.CertInfo{Thumbprint: "8E71A2B4C3D4E5F60718293A4B5C6D7E8F901234", NotAfter: textNow.Add(30 * 24 * time.Hour), SourceVersion: 7}
	uploaded := textNow.Add(-3 * time.Hour)
	entries := []client.StatusEntry{
		{Key: "api.c1", Updated: textNow, Outcome: jobs.Outcome{Job: "api", Connector: "c1", Status: contract.StatusSkipped,
			Reason: contract.ReasonAlreadyPresent, Certificate: cert, Trigger: "cron"}},
		{Key: "api._", Updated: textNow, Outcome: jobs.Outcome{Job: "api", Status: contract.StatusFailed, Trigger: "event", Final: true,
			RequestedBy: "ci", Error: &jobs.ErrorInfo{Code: contract.CodeBadRequest, Message: "unknown connector"}}},
	}
	uploads := map[string]contract.Event{"api.c1": {Time: uploaded}}
	rows := statusRows(entries, uploads, nil, textNow)
	if rows[0].DaysLeft == nil || *rows[0].DaysLeft != 30 || rows[0].LastUpload == nil || !rows[0].LastUpload.Equal(uploaded) || rows[0].NextRun != nil {
		t.Errorf("row = %+v", rows[0])
	}
	var b strings.Builder
	printStatus(&b, rows, textNow)
	out := b.String()
	for _, want := range []string{"DAYS LEFT", "LAST UPLOAD", "NEXT RUN", "VERSION", "already_present", "8E71A2B4C3D4…", " 30 ",
		"2026-12-02 09:00 (3h ago)", " 7 ", "cron", "requests that failed before any connector was in play",
		"bad_request: unknown connector  [event by ci]"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}
	if strings.Count(out, "\napi ") != 1 {
		t.Errorf("the bad request is a connector row:\n%s", out)
	}
	in5h := textNow.Add(5 * time.Hour)
	if got := ago(&in5h, textNow); got != "2026-12-02 17:00 (in 5h)" {
		t.Errorf("ago = %q", got)
	}
	if got := ago(&textNow, textNow.Add(30*time.Second)); got != "2026-12-02 12:00 (<1m ago)" {
		t.Errorf("ago = %q", got)
	}
}
