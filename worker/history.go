package worker

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// History page bounds: the newest historyLimit events of the last
// historyDays days, read in at most historyTimeout.
const (
	historyLimit   = 50
	historyDays    = 30
	historyTimeout = 5 * time.Second
)

// serveHistory lists one connector's recent outcome events, newest first,
// from the results stream (/history?job=J&connector=C; C is _ for requests
// that failed before any connector).
func (w *Worker) serveHistory(rw http.ResponseWriter, r *http.Request) {
	job, conn := r.URL.Query().Get("job"), r.URL.Query().Get("connector")
	if !validToken(job) || !validToken(conn) {
		http.Error(rw, "history needs job and connector, without dots, spaces or wildcards", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
	defer cancel()
	events, err := w.history(ctx, job, conn)
	if err != nil {
		w.log.Warn("reading history", "job", job, "connector", conn, "error", err)
		http.Error(rw, "history unavailable: the results stream could not be read: "+describeNATSError(err), http.StatusServiceUnavailable)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	data := struct {
		Job, Connector string
		Limit, Days    int
		Events         []contract.Event
	}{job, conn, historyLimit, historyDays, events}
	if err := pageTemplates.ExecuteTemplate(rw, "history", data); err != nil {
		w.log.Debug("writing history page", "error", err)
	}
}

// history reads the connector's events of the last historyDays days with an
// ordered consumer and keeps the newest historyLimit, newest first.
func (w *Worker) history(ctx context.Context, job, conn string) ([]contract.Event, error) {
	b := w.bus()
	if b == nil {
		return nil, errNotConnected
	}
	since := w.now().Add(-historyDays * 24 * time.Hour)
	cons, err := b.js.OrderedConsumer(ctx, contract.ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{contract.ResultSubject(w.prefix, job, conn)},
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
		batch, err := cons.Fetch(int(min(pending, 500)), jetstream.FetchMaxWait(historyTimeout))
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
		if len(out) > historyLimit {
			out = out[len(out)-historyLimit:]
		}
	}
	slices.Reverse(out)
	return out, nil
}

// validToken reports whether s can be one subject token.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}
