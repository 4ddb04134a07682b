package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// targetsOf counts the targets (connectors and key sets) of job that have
// a status entry. It asks the server for the bucket's keys of the job
// (the stream's per-subject state) and reads each: a KV watch's
// end-of-initial-values marker could come early while the worker was
// writing the same keys, and a client that counted too few stopped
// waiting after the first outcome.
func (c *Conn) targetsOf(ctx context.Context, job string) (int, error) {
	kv, err := c.js.KeyValue(ctx, contract.StatusBucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("opening bucket %s: %w", contract.StatusBucket, err)
	}
	st, err := c.js.Stream(ctx, contract.KVStream(contract.StatusBucket))
	if err != nil {
		return 0, fmt.Errorf("opening the stream of bucket %s: %w", contract.StatusBucket, err)
	}
	prefix := contract.KVSubject(contract.StatusBucket, "")
	info, err := st.Info(ctx, jetstream.WithSubjectFilter(prefix+job+".*"))
	if err != nil {
		return 0, fmt.Errorf("listing the status keys of job %s: %w", job, err)
	}
	n := 0
	for subject := range info.State.Subjects {
		e, err := kv.Get(ctx, strings.TrimPrefix(subject, prefix))
		if errors.Is(err, jetstream.ErrKeyNotFound) || errors.Is(err, jetstream.ErrKeyDeleted) {
			continue // pruned: the connector is no longer configured
		}
		if err != nil {
			return 0, fmt.Errorf("reading status key %s: %w", subject, err)
		}
		var o contract.Outcome
		if json.Unmarshal(e.Value(), &o) == nil && o.Job == job && o.Connector != "" {
			n++
		}
	}
	return n, nil
}
