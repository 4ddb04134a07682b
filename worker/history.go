package worker

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// historyFetchWait bounds each pull of the history's ordered consumer.
const historyFetchWait = 5 * time.Second

// history reads the target's events since since with an ordered consumer
// and keeps the newest limit, newest first: the status page's /history.
func (w *Worker) history(ctx context.Context, job, target string, since time.Time, limit int) ([]contract.Event, error) {
	b := w.bus()
	if b == nil {
		return nil, errNotConnected
	}
	cons, err := b.js.OrderedConsumer(ctx, contract.ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{contract.ResultSubject(w.prefix, job, target)},
		DeliverPolicy:  jetstream.DeliverByStartTimePolicy,
		OptStartTime:   &since,
	})
	if err != nil {
		return nil, err
	}
	info, err := cons.Info(ctx)
	if err != nil {
		return nil, err
	}
	var out []contract.Event
	for pending := info.NumPending; pending > 0; {
		batch, err := cons.Fetch(int(min(pending, 500)), jetstream.FetchMaxWait(historyFetchWait))
		if err != nil {
			return nil, err
		}
		got := 0
		for m := range batch.Messages() {
			got++
			var ev contract.Event
			if json.Unmarshal(m.Data(), &ev) == nil {
				out = append(out, ev)
			}
			if md, err := m.Metadata(); err == nil {
				pending = md.NumPending
			}
		}
		if err := batch.Error(); err != nil || got == 0 {
			break
		}
		if len(out) > limit {
			out = out[len(out)-limit:]
		}
	}
	slices.Reverse(out)
	return out, nil
}
