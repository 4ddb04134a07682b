package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// TestStatusMarksNotConfigured: with a config that has jobs, `status` marks
// an entry whose connector or job the config lacks as not configured and
// says when the worker removes it; a publisher's config (no jobs) and no
// config at all know nothing of the jobs and mark nothing.
func TestStatusMarksNotConfigured(t *testing.T) {
	t.Parallel()
	entries := []client.StatusEntry{
		{Key: "api.C1", Updated: textNow, Outcome: jobs.Outcome{Job: "api", Connector: "C1", Status: contract.StatusSucceeded}}, // ids match ignoring case
		{Key: "api.c2", Updated: textNow, Outcome: jobs.Outcome{Job: "api", Connector: "c2", Status: contract.StatusSucceeded}},
		{Key: "gone.c3", Updated: textNow, Outcome: jobs.Outcome{Job: "gone", Connector: "c3", Status: contract.StatusSucceeded}},
	}
	cfg := &config.Config{Jobs: []jobs.Job{{Name: "api", Connectors: []jobs.ConnectorRef{{Tenant: "t", ID: "c1"}}}}}
	rows := statusRows(entries, nil, cfg, textNow)
	removeAt := textNow.Add(worker.StatusPruneAfter).UTC()
	for i, want := range []bool{true, false, false} {
		r := rows[i]
		if r.Configured == nil || *r.Configured != want || (r.RemovedAfter != nil) == want ||
			(!want && !r.RemovedAfter.Equal(removeAt)) {
			t.Errorf("%s: configured %v, removed after %v; want configured %v", entries[i].Key, r.Configured, r.RemovedAfter, want)
		}
	}
	var b strings.Builder
	printStatus(&b, rows, textNow)
	out := b.String()
	if strings.Count(out, "not configured*") != 2 || !strings.Contains(out, "removes the entry 24 h after its last update") {
		t.Errorf("status text:\n%s", out)
	}
	line, _ := json.Marshal(rows[1])
	if !strings.Contains(string(line), `"configured":false`) || !strings.Contains(string(line), `"removed_after":"`) {
		t.Errorf("status --json row: %s", line)
	}

	for name, c := range map[string]*config.Config{"publisher config": {}, "no config": nil} {
		var b strings.Builder
		rows := statusRows(entries, nil, c, textNow)
		printStatus(&b, rows, textNow)
		line, _ := json.Marshal(rows[1])
		if strings.Contains(b.String(), "not configured") || strings.Contains(string(line), "configured") {
			t.Errorf("%s marks entries: %s\n%s", name, line, b.String())
		}
	}
}
