package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// Status returns the latest outcome per connector from the status bucket,
// sorted by key. No bucket yet means no outcome.
func (c *Conn) Status(ctx context.Context) ([]StatusEntry, error) {
	kv, err := c.js.KeyValue(ctx, contract.StatusBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("opening bucket %s: %w", contract.StatusBucket, err)
	}
	entries, err := ReadStatus(ctx, kv, contract.AllKeys)
	if err != nil {
		return nil, fmt.Errorf("reading status: %w", err)
	}
	return entries, nil
}

// Events calls fn for every outcome event stored in the last since (all of
// them when since is 0), oldest first. Without follow it returns once it
// has caught up; with follow it waits for new ones until ctx ends, and then
// returns nil.
func (c *Conn) Events(ctx context.Context, since time.Duration, follow bool, fn func(contract.Event) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{contract.AllResults(c.prefix)}}
	if since > 0 {
		start := time.Now().Add(-since)
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &start
	}
	cons, err := c.js.OrderedConsumer(ctx, contract.ResultsStream, cfg)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return ErrNoStreams
	}
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", contract.ResultsStream, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", contract.ResultsStream, err)
	}
	if !follow && info.NumPending == 0 {
		return nil
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("reading stream %s: %w", contract.ResultsStream, err)
	}
	defer it.Stop()
	return eachEvent(ctx, it, follow, fn)
}

func eachEvent(ctx context.Context, it jetstream.MessagesContext, follow bool, fn func(contract.Event) error) error {
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if follow && ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("reading stream %s: %w", contract.ResultsStream, err)
		}
		var ev contract.Event
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
