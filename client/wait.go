package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/contract"
)

// PublishAndWait publishes req and calls fn for each of its outcome events
// until every connector in play has a final one, or the request failed as a
// whole, or timeout passes (the error then names the request id). It
// listens before publishing, so no outcome is missed; every event carries
// the request id in data.request_id. It returns fn's error if fn fails.
func (c *Conn) PublishAndWait(ctx context.Context, req contract.Request, timeout time.Duration, fn func(contract.Event) error) error {
	if !contract.ValidName(req.Job) {
		return fmt.Errorf("publishing request: job %q is not a job name", req.Job)
	}
	ch := make(chan *nats.Msg, 256)
	sub, err := c.nc.ChanSubscribe(contract.ResultsOf(c.prefix, req.Job), ch)
	if err != nil {
		return fmt.Errorf("subscribing to outcomes of job %s: %w", req.Job, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// Counted before publishing: the run's own status writes must not
	// race the count.
	want := c.want(ctx, req)
	id, err := c.Publish(ctx, req)
	if err != nil {
		return err
	}
	return collect(ctx, ch, id, want, fn)
}

// Wait calls fn for each outcome event of request requestID published from
// now on, until want connectors have a final one (any final one when want
// is 0), or the request failed as a whole, or ctx ends. Outcomes published
// before the call are not seen: PublishAndWait avoids that race.
func (c *Conn) Wait(ctx context.Context, requestID string, want int, fn func(contract.Event) error) error {
	ch := make(chan *nats.Msg, 256)
	sub, err := c.nc.ChanSubscribe(contract.AllResults(c.prefix), ch)
	if err != nil {
		return fmt.Errorf("subscribing to outcomes: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	return collect(ctx, ch, requestID, want, fn)
}

// want is how many connectors a request puts in play: those it names, else
// the job's size from Options.Jobs, else the job's connectors in the status
// bucket (a client without the config still waits for all of them); 0 when
// none is known.
func (c *Conn) want(ctx context.Context, req contract.Request) int {
	if len(req.Connectors) > 0 {
		return len(req.Connectors)
	}
	if n, ok := c.jobs[req.Job]; ok {
		return n
	}
	n, err := c.targetsOf(ctx, req.Job)
	if err != nil {
		return 0
	}
	return n
}

// collect feeds fn the events of one request until enough are final.
// Expiring warnings are passed on but do not count.
func collect(ctx context.Context, ch <-chan *nats.Msg, id string, want int, fn func(contract.Event) error) error {
	final := map[string]bool{}
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for outcomes of request %s (%d of %d final): %w", id, len(final), want, ctx.Err())
		}
		var ev contract.Event
		if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Data.RequestID != id {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
		if !ev.Data.Final || ev.Data.Warning() {
			continue
		}
		if ev.Data.Connector == "" {
			return nil // the request failed before any connector was in play
		}
		final[ev.Data.Connector] = true
		if len(final) >= max(want, 1) {
			return nil
		}
	}
}
