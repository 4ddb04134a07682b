package notify

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// sender delivers one message about events (one, or a request's group).
type sender interface {
	send(ctx context.Context, evs []event) error
}

// event is an outcome event as read from the stream: decoded, its exact
// bytes (the webhook body) and its message (to ack).
type event struct {
	contract.Event
	raw []byte
	msg jetstream.Msg
}

func plain(evs []event) []contract.Event {
	out := make([]contract.Event, len(evs))
	for i, ev := range evs {
		out[i] = ev.Event
	}
	return out
}

// sink is one configured sink bound to its consumer.
type sink struct {
	svc     *Service
	cfg     config.NotifySink
	sender  sender
	grouped bool // a request's events become one message
	dedupe  bool // keep what was sent: the receiver cannot
	cons    jetstream.Consumer
	sent    jetstream.KeyValue
}

// group is the held events of one request (or one event, ungrouped).
type group struct {
	key         string
	first, last time.Time
	events      []event
}

// run fetches, groups and delivers until ctx ends. Events still held then
// are nak'd so that another replica takes them at once.
func (k *sink) run(ctx context.Context) {
	log := k.svc.log.With("sink", k.cfg.Name, "kind", k.cfg.Kind)
	var pending []*group
	for ctx.Err() == nil {
		batch, err := k.cons.Fetch(fetchBatch, jetstream.FetchMaxWait(k.fetchWait()))
		if err != nil {
			if ctx.Err() == nil {
				log.Warn("fetching events for notification", "error", err)
				waitOrDone(ctx, time.Second)
			}
			continue
		}
		for m := range batch.Messages() {
			pending = k.take(pending, m, log)
		}
		pending = k.flush(ctx, pending, log)
	}
	for _, g := range pending {
		for _, ev := range g.events {
			_ = ev.msg.Nak()
		}
	}
}

// fetchWait is how long a fetch waits for events: short enough to send a
// group on time.
func (k *sink) fetchWait() time.Duration {
	return min(max(k.svc.cfg.Quiet/2, 50*time.Millisecond), time.Second)
}

// take decodes m and adds it to its group, or acks it when the sink does
// not want it.
func (k *sink) take(pending []*group, m jetstream.Msg, log *slog.Logger) []*group {
	ev := event{raw: m.Data(), msg: m}
	if err := json.Unmarshal(m.Data(), &ev.Event); err != nil || ev.ID == "" {
		log.Warn("an event on the results stream does not decode; not notified", "subject", m.Subject())
		_ = m.Term()
		return pending
	}
	if !k.wants(ev.Data) {
		_ = m.Ack()
		return pending
	}
	k.svc.signals.taken.Signal(ev.ID)
	now := k.svc.cfg.NowFunc()
	key := ev.ID
	if k.grouped && ev.Data.RequestID != "" {
		key = ev.Data.Job + "/" + ev.Data.RequestID
	}
	for _, g := range pending {
		if g.key == key {
			if i := slices.IndexFunc(g.events, func(e event) bool { return e.ID == ev.ID }); i >= 0 {
				g.events[i] = ev // redelivered while held: the new delivery is the live one
				return pending
			}
			g.events = append(g.events, ev)
			g.last = now
			return pending
		}
	}
	return append(pending, &group{key: key, first: now, last: now, events: []event{ev}})
}

// wants applies the sink's filters: its statuses and jobs. A transient
// failure that will be retried is told on its first attempt only; its
// final attempt is told again, so people hear "failing" and "gave up" (or
// the success), not each retry.
func (k *sink) wants(o jobs.Outcome) bool {
	if !slices.Contains(k.cfg.On, o.Status) {
		return false
	}
	if len(k.cfg.Jobs) > 0 && !slices.Contains(k.cfg.Jobs, o.Job) {
		return false
	}
	if o.Status == contract.StatusFailed && !o.Final && o.Attempt > 1 {
		return false
	}
	return true
}

// flush delivers the groups that are due and returns those still held.
func (k *sink) flush(ctx context.Context, pending []*group, log *slog.Logger) []*group {
	now := k.svc.cfg.NowFunc()
	held := pending[:0]
	var backoff time.Duration // set once a delivery failed in this flush
	for _, g := range pending {
		due := !k.grouped || now.Sub(g.last) >= k.svc.cfg.Quiet || now.Sub(g.first) >= k.svc.cfg.Window
		switch {
		case !due || ctx.Err() != nil:
			held = append(held, g)
		case backoff > 0:
			// The receiver just failed: the other due groups wait as long
			// instead of each waiting out a timeout while the rest of the
			// held events approach their AckWait.
			for _, ev := range g.events {
				_ = ev.msg.NakWithDelay(backoff)
			}
		default:
			backoff = k.deliver(ctx, g, log)
		}
	}
	return held
}

// deliver sends one group. Unless the receiver deduplicates, events
// already sent are dropped first and the sent ones recorded before the
// ack, so a redelivery (another replica, a restart) is not told twice. A
// failure naks every event with the backoff delay of its delivery count
// and returns that delay; success returns 0.
func (k *sink) deliver(ctx context.Context, g *group, log *slog.Logger) time.Duration {
	evs := g.events
	if k.dedupe {
		evs = k.unsent(ctx, evs)
	}
	if len(evs) > 0 {
		sctx, cancel := context.WithTimeout(ctx, sendTimeout)
		err := k.sender.send(sctx, evs)
		cancel()
		if err != nil {
			k.svc.metrics.failures.WithLabelValues(k.cfg.Name, k.cfg.Kind).Inc()
			delay := k.retryDelay(g, err)
			// err never holds the URL (see post) nor a password.
			log.Warn("notification not delivered; retrying", "events", len(evs), "retry_in", delay, "error", err.Error())
			k.svc.signals.failed.Signal(err)
			for _, ev := range g.events {
				_ = ev.msg.NakWithDelay(delay)
			}
			return delay
		}
		k.svc.signals.delivered.Signal(ids(evs))
		k.svc.metrics.sent.WithLabelValues(k.cfg.Name, k.cfg.Kind).Inc()
		k.svc.metrics.events.WithLabelValues(k.cfg.Name, k.cfg.Kind).Add(float64(len(evs)))
		if k.dedupe {
			for _, ev := range evs {
				if _, err := k.sent.Put(ctx, k.sentKey(ev.ID), []byte(g.key)); err != nil {
					log.Warn("recording a sent notification; a redelivery may repeat it", "error", err.Error())
				}
			}
		}
	}
	ack := k.svc.signals.ack
	if ack == nil {
		ack = jetstream.Msg.Ack
	}
	for _, ev := range g.events {
		_ = ack(ev.msg)
	}
	return 0
}

func ids(evs []event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// unsent drops the events this sink already told. A bucket that cannot be
// read counts as not sent: at least once over at most once.
func (k *sink) unsent(ctx context.Context, evs []event) []event {
	out := make([]event, 0, len(evs))
	for _, ev := range evs {
		_, err := k.sent.Get(ctx, k.sentKey(ev.ID))
		if err == nil {
			k.svc.signals.duplicate.Signal(ev.ID)
			continue
		}
		out = append(out, ev)
	}
	return out
}

// sentKey is <sink>.<event id>, the id hashed when it is not a safe key
// token.
func (k *sink) sentKey(id string) string {
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			sum := sha256.Sum256([]byte(id))
			return contract.NotifySentKey(k.cfg.Name, hex.EncodeToString(sum[:16]))
		}
	}
	return contract.NotifySentKey(k.cfg.Name, id)
}

// retryDelay is the backoff after the group's deliveries so far, or the
// receiver's Retry-After when longer.
func (k *sink) retryDelay(g *group, err error) time.Duration {
	attempt := 1
	for _, ev := range g.events {
		if md, mdErr := ev.msg.Metadata(); mdErr == nil {
			attempt = max(attempt, int(md.NumDelivered))
		}
	}
	d := max(k.svc.cfg.Backoff.Delay(attempt), 10*time.Millisecond)
	if se, ok := errors.AsType[*sendError](err); ok {
		d = max(d, se.RetryAfter)
	}
	return d
}

func waitOrDone(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
