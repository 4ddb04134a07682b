package client

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// History returns every outcome event of job kept in the results stream
// (<prefix>.result.<job>.>), newest first: what `certrotator history`
// joins with the job's Vault versions. The stream keeps 90 days by default.
func (c *Conn) History(ctx context.Context, job string) ([]contract.Event, error) {
	if !contract.ValidName(job) {
		return nil, fmt.Errorf("reading history: job %q is not a job name", job)
	}
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{contract.ResultsOf(c.prefix, job)}}
	cons, err := c.js.OrderedConsumer(ctx, contract.ResultsStream, cfg)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		return nil, ErrNoStreams
	}
	if err != nil {
		return nil, fmt.Errorf("reading history of job %s: %w", job, err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading history of job %s: %w", job, err)
	}
	if info.NumPending == 0 {
		return nil, nil
	}
	it, err := cons.Messages()
	if err != nil {
		return nil, fmt.Errorf("reading history of job %s: %w", job, err)
	}
	defer it.Stop()
	var out []contract.Event
	if err := eachEvent(ctx, it, false, func(ev contract.Event) error {
		out = append(out, ev)
		return nil
	}); err != nil {
		return nil, err
	}
	slices.Reverse(out) // the stream is oldest first
	return out, nil
}
