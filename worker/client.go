package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
)

// ErrNoNATS is returned by Dial when the config names no NATS server.
var ErrNoNATS = errors.New("no NATS to talk to: set nats.url, or nats.listen on the running worker")

// Client is the CLI's side of the NATS contract: it publishes requests,
// waits for their outcomes, reads the status bucket and the event stream.
// It is safe for concurrent use. Close it when done.
type Client struct {
	app    *config.Config
	nc     *nats.Conn
	js     jetstream.JetStream
	prefix string
}

// Dial connects to nats.url or, when that is empty, to nats://<nats.listen>
// of a worker running an embedded server. It fails with ErrNoNATS when both
// are empty. ctx bounds the connection attempt.
func Dial(ctx context.Context, app *config.Config) (*Client, error) {
	url := app.NATS.URL
	if url == "" {
		if app.NATS.Listen == "" {
			return nil, ErrNoNATS
		}
		url = "nats://" + dialable(app.NATS.Listen)
	}
	opts, err := connectOptions(app, "certrotator-cli/"+app.Instance, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	if dl, ok := ctx.Deadline(); ok {
		opts = append(opts, nats.Timeout(time.Until(dl)))
	}
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", url, err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("opening JetStream: %w", err)
	}
	return &Client{app: app, nc: nc, js: js, prefix: cmp.Or(app.NATS.SubjectPrefix, SubjectPrefixDefault)}, nil
}

// dialable turns a listen address into one to dial: an unspecified host
// becomes the loopback.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// Close closes the connection.
func (c *Client) Close() { c.nc.Close() }

// Publish sends req to <prefix>.request.<job> and returns its Nats-Msg-Id:
// req.ID, or "manual-<uuid>" when empty. An empty Trigger becomes manual.
// Sending the same id twice within 10 minutes is a no-op.
func (c *Client) Publish(ctx context.Context, req jobs.Request) (string, error) {
	if !jobs.ValidName(req.Job) {
		return "", fmt.Errorf("publishing request: job %q is not a job name", req.Job)
	}
	id := cmp.Or(req.ID, "manual-"+uuid.NewString())
	req.Trigger = cmp.Or(req.Trigger, jobs.TriggerManual)
	if _, err := publishRequest(ctx, c.js, c.prefix, req, id); err != nil {
		return "", err
	}
	return id, nil
}

// PublishAndWait publishes req and calls fn for each of its outcome events
// until every connector in play has a final one, or the request failed as a
// whole, or timeout passes (the error then names the request id). It
// listens before publishing, so no outcome is missed; every event carries
// the request id in data.request_id. It returns fn's error if fn fails.
func (c *Client) PublishAndWait(ctx context.Context, req jobs.Request, timeout time.Duration, fn func(Event) error) error {
	if !jobs.ValidName(req.Job) {
		return fmt.Errorf("publishing request: job %q is not a job name", req.Job)
	}
	ch := make(chan *nats.Msg, 256)
	sub, err := c.nc.ChanSubscribe(c.prefix+".result."+req.Job+".>", ch)
	if err != nil {
		return fmt.Errorf("subscribing to outcomes of job %s: %w", req.Job, err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	id, err := c.Publish(ctx, req)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return collect(ctx, ch, id, c.want(req), fn)
}

// Wait calls fn for each outcome event of request requestID published from
// now on, until want connectors have a final one (any final one when want
// is 0), or the request failed as a whole, or ctx ends. Outcomes published
// before the call are not seen: PublishAndWait avoids that race.
func (c *Client) Wait(ctx context.Context, requestID string, want int, fn func(Event) error) error {
	ch := make(chan *nats.Msg, 256)
	sub, err := c.nc.ChanSubscribe(c.prefix+".result.>", ch)
	if err != nil {
		return fmt.Errorf("subscribing to outcomes: %w", err)
	}
	defer func() { _ = sub.Unsubscribe() }()
	return collect(ctx, ch, requestID, want, fn)
}

// want is how many connectors a request puts in play, per the client's
// config; 0 when the job is unknown here.
func (c *Client) want(req jobs.Request) int {
	if len(req.Connectors) > 0 {
		return len(req.Connectors)
	}
	if j, ok := c.app.Job(req.Job); ok {
		return len(j.Connectors)
	}
	return 0
}

// collect feeds fn the events of one request until enough are final.
// Expiring warnings are passed on but do not count.
func collect(ctx context.Context, ch <-chan *nats.Msg, id string, want int, fn func(Event) error) error {
	final := map[string]bool{}
	for {
		var m *nats.Msg
		select {
		case m = <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for outcomes of request %s (%d of %d final): %w", id, len(final), want, ctx.Err())
		}
		var ev Event
		if err := json.Unmarshal(m.Data, &ev); err != nil || ev.Data.RequestID != id {
			continue
		}
		if err := fn(ev); err != nil {
			return err
		}
		if !ev.Data.Final || ev.Data.Status == jobs.StatusExpiring {
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

// Status returns the latest outcome per connector from the status bucket,
// sorted by job and connector. No bucket yet means no outcome.
func (c *Client) Status(ctx context.Context) ([]jobs.Outcome, error) {
	entries, err := c.StatusEntries(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]jobs.Outcome, len(entries))
	for i, e := range entries {
		out[i] = e.Outcome
	}
	return out, nil
}

// StatusEntries is Status with each entry's key and time of storage.
func (c *Client) StatusEntries(ctx context.Context) ([]StatusEntry, error) {
	kv, err := c.js.KeyValue(ctx, StatusBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", StatusBucket, err)
	}
	entries, err := readStatus(ctx, kv, ">")
	if err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	return entries, nil
}

// Events calls fn for every outcome event stored in the last since (all of
// them when since is 0), oldest first. Without follow it returns once it
// has caught up; with follow it waits for new ones until ctx ends, and then
// returns nil.
func (c *Client) Events(ctx context.Context, since time.Duration, follow bool, fn func(Event) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{c.prefix + ".result.>"}}
	if since > 0 {
		start := time.Now().Add(-since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := c.js.OrderedConsumer(ctx, ResultsStream, cfg)
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", ResultsStream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", ResultsStream, err)
	}
	if !follow && info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", ResultsStream, err)
	}
	defer it.Stop()
	return eachEvent(ctx, it, follow, fn)
}

func eachEvent(ctx context.Context, it jetstream.MessagesContext, follow bool, fn func(Event) error) error {
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if follow && ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading stream %s: %w", ResultsStream, err)
		}
		var ev Event
		if err := json.Unmarshal(msg.Data(), &ev); err == nil {
			if err := fn(ev); err != nil {
				return err
			}
		}
		if meta, err := msg.Metadata(); !follow && err == nil && meta.NumPending == 0 {
			return nil
		}
	}
}
