package client_test

import (
	"context"
	"errors"
	"testing"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestHistoryIsTheJobsOutcomesNewestFirst(t *testing.T) {
	t.Parallel()
	url, _ := serve(t)
	c := dialTest(t, url)
	ctx := context.Background()
	nop := func(contract.Event) error { return nil }

	var ids []string
	for _, id := range []string{"first", "second"} {
		if err := c.PublishAndWait(ctx, contract.Request{Job: jobName, ID: id}, waitTimeout, nop); err != nil {
			t.Fatalf("request %s: %v", id, err)
		}
		ids = append(ids, id)
	}
	// Another job's outcome (a bad request: the worker does not serve it)
	// is on another subject and stays out of the history.
	if err := c.PublishAndWait(ctx, contract.Request{Job: "other-job", ID: "other"}, waitTimeout, nop); err != nil {
		t.Fatalf("request for another job: %v", err)
	}

	h, err := c.History(ctx, jobName)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if len(h) != 4 {
		t.Fatalf("History has %d events, want 2 requests × 2 connectors", len(h))
	}
	for i, ev := range h {
		if want := ids[1-i/2]; ev.Data.RequestID != want || ev.Data.Job != jobName {
			t.Errorf("event %d: job %s request %s, want %s %s (newest first)", i, ev.Data.Job, ev.Data.RequestID, jobName, want)
		}
	}
	if h, err := c.History(ctx, "never-run"); err != nil || len(h) != 0 {
		t.Errorf("History of a job without outcomes = %d events, %v; want none", len(h), err)
	}
	if _, err := c.History(ctx, "not a job"); err == nil {
		t.Error("History accepted a name that is no job name")
	}
}

func TestHistoryWithoutStreamsSaysSo(t *testing.T) {
	t.Parallel()
	c := dialTest(t, testkit.NATS(t, "").ClientURL())
	if _, err := c.History(context.Background(), jobName); !errors.Is(err, client.ErrNoStreams) {
		t.Errorf("History without streams = %v, want ErrNoStreams", err)
	}
}
