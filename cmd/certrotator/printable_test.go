package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"unicode"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// hostile is what a publisher may put in the fields it sets: an ANSI colour
// and a window-title sequence, a forged line, a C1 CSI, a bidi override and
// a byte that is not UTF-8.
const hostile = "\x1b[31mred\x1b]0;owned\x07\nforged line\u009b2J\u202eevil\xff"

// controlFree fails when out holds a control character other than the
// newlines and tabs the command itself writes, or a bidi override.
func controlFree(t *testing.T, what, out string) {
	t.Helper()
	for _, r := range out {
		if (unicode.IsControl(r) && r != '\n' && r != '\t') || unicode.Is(unicode.Bidi_Control, r) || r == '\ufffd' {
			t.Errorf("%s holds %U:\n%q", what, r, out)
			return
		}
	}
	if strings.Contains(out, "\nforged line") {
		t.Errorf("%s lets a field forge a line:\n%s", what, out)
	}
}

// status, events, rotate --wait and history escape what a publisher sent;
// their JSON keeps it exactly.
func TestHumanOutputEscapesControlCharacters(t *testing.T) {
	t.Parallel()
	o := jobs.Outcome{Job: "api", Connector: "c1", Status: contract.StatusFailed, Trigger: hostile, RequestedBy: hostile,
		RequestReason: hostile, Final: true, RequestID: "r-1", Error: &jobs.ErrorInfo{Code: contract.CodeBadRequest, Message: hostile}}
	ev := contract.Event{Time: textNow, Data: o}

	line := eventLine(ev, textNow)
	controlFree(t, "events line", line)
	if !strings.Contains(line, `\x1b[31mred`) || !strings.Contains(line, `\u202e`) || !strings.Contains(line, `\xff`) {
		t.Errorf("events line does not show the escapes: %s", line)
	}

	var status bytes.Buffer
	printStatus(&status, statusRows([]client.StatusEntry{{Key: "api.c1", Outcome: o, Updated: textNow}}, nil, nil, textNow), textNow)
	early := o
	early.Connector = ""
	printStatus(&status, statusRows([]client.StatusEntry{{Key: "api._", Outcome: early, Updated: textNow}}, nil, nil, textNow), textNow)
	controlFree(t, "status", status.String())

	var history bytes.Buffer
	printHistory(&history, historyRows([]contract.Event{ev}, jobs.History{}, "", textNow))
	controlFree(t, "history", history.String())

	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out}
	if err := printJSON(e, ev); err != nil {
		t.Fatal(err)
	}
	var back contract.Event
	if err := json.Unmarshal(out.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.Data.RequestedBy != strings.ToValidUTF8(hostile, "\ufffd") || back.Data.RequestReason != back.Data.RequestedBy {
		t.Errorf("JSON changed the fields: %q", back.Data.RequestedBy)
	}
}

func TestPrintable(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain ascii, ünïcode ✓": "plain ascii, ünïcode ✓",
		"\x1b[2J":                `\x1b[2J`,
		"a\tb\r\nc":              `a\x09b\x0d\x0ac`,
		"\x7f\u0085\u2066":       `\x7f\u0085\u2066`,
		"bad\xc3":                `bad\xc3`,
	} {
		if got := printable(in); got != want {
			t.Errorf("printable(%q) = %q, want %q", in, got, want)
		}
	}
}
