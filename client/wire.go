package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// The JetStream calls of the contract that both the client and the worker
// make: publishing a request or an event, reading the status bucket.

// ErrNoStreams is returned when the server has no certrotator streams yet.
var ErrNoStreams = errors.New("no worker has set up the streams on this server: start `certrotator run` or run deploy/nats/setup.sh")

// PublishRequest publishes req on <prefix>.request.<job> with msgID as its
// Nats-Msg-Id and waits for the stream's ack, whose Duplicate says whether
// the stream already had it. The worker's scheduler and the client both
// send requests through it, so every trigger makes the same message.
func PublishRequest(ctx context.Context, js jetstream.JetStream, prefix string, req contract.Request, msgID string) (*jetstream.PubAck, error) {
	if err := contract.CheckRequest(req); err != nil {
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	subject := contract.RequestSubject(prefix, req.Job)
	ack, err := js.Publish(ctx, subject, body, jetstream.WithMsgID(msgID))
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		err = ErrNoStreams
	}
	if err != nil {
		return nil, fmt.Errorf("publishing request on %s: %w", subject, err)
	}
	return ack, nil
}

// PublishEvent publishes ev on subject with its id as the Nats-Msg-Id and
// waits for the stream's ack: an event published twice (a republished
// outcome, a warning two replicas announce) is kept once. The worker's
// outcomes and every warning go out through it.
func PublishEvent(ctx context.Context, js jetstream.JetStream, subject string, ev contract.Event) error {
	msg, err := EventMsg(subject, ev)
	if err != nil {
		return err
	}
	if _, err := js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("publishing event on %s: %w", subject, err)
	}
	return nil
}

// EventMsg is ev as PublishEvent sends it on subject (publish it with
// jetstream.WithMsgID(ev.ID)), for a caller that publishes many at once.
func EventMsg(subject string, ev contract.Event) (*nats.Msg, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("encoding event %s: %w", ev.Type, err)
	}
	msg := &nats.Msg{Subject: subject, Data: body, Header: nats.Header{}}
	msg.Header.Set("Content-Type", contract.EventContentType)
	return msg, nil
}

// StatusEntry is one connector's latest outcome from the status bucket.
type StatusEntry struct {
	Key     string           // <job>.<connector>
	Outcome contract.Outcome // the latest outcome's data
	Updated time.Time        // when it was stored
}

// ReadStatus decodes the status entries matching filter, sorted by key.
func ReadStatus(ctx context.Context, kv jetstream.KeyValue, filter string) ([]StatusEntry, error) {
	entries, err := WatchAll(ctx, kv, filter)
	if err != nil {
		return nil, err
	}
	out := make([]StatusEntry, 0, len(entries))
	for _, e := range entries {
		var o contract.Outcome
		if err := json.Unmarshal(e.Value(), &o); err != nil {
			continue // never fail a listing on one key
		}
		out = append(out, StatusEntry{Key: e.Key(), Outcome: o, Updated: e.Created()})
	}
	slices.SortFunc(out, func(a, b StatusEntry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// RanSince reads job's status entries and reports whether an outcome of
// job was stored at t or later (since), and whether any ever was (ever).
// A bad request's entry (contract.StatusKey(job, "")) is no run. The
// worker's scheduler and Vault watch ask it to tell what ran while no
// worker watched.
func RanSince(ctx context.Context, kv jetstream.KeyValue, job string, t time.Time) (since, ever bool, err error) {
	entries, err := WatchAll(ctx, kv, contract.StatusKeysOf(job))
	if err != nil {
		return false, false, fmt.Errorf("reading status of job %s: %w", job, err)
	}
	for _, e := range entries {
		if e.Key() == contract.StatusKey(job, "") {
			continue
		}
		if !e.Created().Before(t) {
			return true, true, nil
		}
		ever = true
	}
	return false, ever, nil
}

// WatchAll reads the current entries of a bucket matching filter, without
// deleted ones.
func WatchAll(ctx context.Context, kv jetstream.KeyValue, filter string) ([]jetstream.KeyValueEntry, error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	watcher, err := kv.Watch(wctx, filter, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("watching %s: %w", filter, err)
	}
	defer func() { _ = watcher.Stop() }()
	var out []jetstream.KeyValueEntry
	for {
		select {
		case e := <-watcher.Updates():
			if e == nil {
				return out, nil
			}
			out = append(out, e)
		case <-wctx.Done():
			return nil, fmt.Errorf("watching %s: %w", filter, wctx.Err())
		}
	}
}
