package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/jobs"
)

// Event is an outcome as a CloudEvents 1.0 structured JSON message, the
// body of every message on <prefix>.result.<job>.<connector>.
type Event struct {
	SpecVersion     string       `json:"specversion"`
	ID              string       `json:"id"`
	Source          string       `json:"source"`
	Type            string       `json:"type"`
	Subject         string       `json:"subject"`
	Time            time.Time    `json:"time"`
	DataContentType string       `json:"datacontenttype"`
	Data            jobs.Outcome `json:"data"`
}

// NewEvent wraps an outcome in a CloudEvent from source
// certrotator/<instance>, with a fresh id.
func NewEvent(instance string, o jobs.Outcome, now time.Time) Event {
	return Event{
		SpecVersion:     "1.0",
		ID:              uuid.NewString(),
		Source:          "certrotator/" + instance,
		Type:            o.EventType(),
		Subject:         o.Job + "/" + connectorToken(o.Connector),
		Time:            now.UTC().Truncate(time.Millisecond),
		DataContentType: "application/json",
		Data:            o,
	}
}

// connectorToken is the connector as a subject token or key part: "_" for
// an outcome with no connector.
func connectorToken(connector string) string {
	if connector == "" {
		return "_"
	}
	return connector
}

// resultSubject is <prefix>.result.<job>.<connector or _>.
func resultSubject(prefix, job, connector string) string {
	return prefix + ".result." + job + "." + connectorToken(connector)
}

// statusKey is the status bucket key <job>.<connector or _>.
func statusKey(job, connector string) string {
	return job + "." + connectorToken(connector)
}

// publishOutcome records the outcome as the connector's latest in the
// status bucket (with store, and not for expiring warnings: the status
// keeps the latest rotation outcome), then publishes its event on
// subjectJob's result subject and waits for the stream's ack. Status goes
// first so that whoever sees the event finds the status up to date.
func (w *Worker) publishOutcome(ctx context.Context, o jobs.Outcome, subjectJob string, store bool) error {
	ctx, cancel := context.WithTimeout(ctx, w.tune.opTimeout)
	defer cancel()
	if store && o.Status != jobs.StatusExpiring {
		data, err := json.Marshal(o)
		if err != nil {
			return fmt.Errorf("encoding status: %w", err)
		}
		if _, err := w.status.Put(ctx, statusKey(o.Job, o.Connector), data); err != nil {
			return fmt.Errorf("storing status %s: %w", statusKey(o.Job, o.Connector), err)
		}
	}
	ev := NewEvent(w.app.Instance, o, w.now())
	body, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding outcome event: %w", err)
	}
	msg := &nats.Msg{Subject: resultSubject(w.prefix, subjectJob, o.Connector), Data: body, Header: nats.Header{}}
	msg.Header.Set("Content-Type", "application/cloudevents+json")
	if _, err := w.js.PublishMsg(ctx, msg, jetstream.WithMsgID(ev.ID)); err != nil {
		return fmt.Errorf("publishing outcome on %s: %w", msg.Subject, err)
	}
	w.metrics.observeOutcome(o, w.jobLabel(o.Job))
	return nil
}

// publishAll publishes every outcome of a run, stopping at the first error.
func (w *Worker) publishAll(ctx context.Context, outcomes []jobs.Outcome) error {
	for _, o := range outcomes {
		if err := w.publishOutcome(ctx, o, o.Job, true); err != nil {
			return err
		}
	}
	return nil
}

// publishRequest publishes a request on <prefix>.request.<job> with msgID
// as its Nats-Msg-Id and waits for the stream's ack (whose Duplicate says
// whether the stream already had it).
func publishRequest(ctx context.Context, js jetstream.JetStream, prefix string, req jobs.Request, msgID string) (*jetstream.PubAck, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	subject := prefix + ".request." + req.Job
	ack, err := js.Publish(ctx, subject, body, jetstream.WithMsgID(msgID))
	if err != nil {
		return nil, fmt.Errorf("publishing request on %s: %w", subject, err)
	}
	return ack, nil
}

// watchAll reads the current entries of a bucket matching filter, without
// deleted ones.
func watchAll(ctx context.Context, kv jetstream.KeyValue, filter string) ([]jetstream.KeyValueEntry, error) {
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

// readStatus decodes the status entries matching filter, sorted by key.
func readStatus(ctx context.Context, kv jetstream.KeyValue, filter string) ([]StatusEntry, error) {
	entries, err := watchAll(ctx, kv, filter)
	if err != nil {
		return nil, err
	}
	out := make([]StatusEntry, 0, len(entries))
	for _, e := range entries {
		var o jobs.Outcome
		if err := json.Unmarshal(e.Value(), &o); err != nil {
			continue // not ours; the bucket is ours alone, but never fail a listing on one key
		}
		out = append(out, StatusEntry{Key: e.Key(), Outcome: o, Updated: e.Created()})
	}
	slices.SortFunc(out, func(a, b StatusEntry) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

// StatusEntry is one connector's latest outcome from the status bucket.
type StatusEntry struct {
	Key     string       // <job>.<connector>
	Outcome jobs.Outcome // the latest outcome's data
	Updated time.Time    // when it was stored
}
