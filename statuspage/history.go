package statuspage

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/certrotator/certrotator/contract"
)

// History page bounds: the newest historyLimit events of the last
// historyDays days, read in at most historyTimeout.
const (
	historyLimit   = 50
	historyDays    = 30
	historyTimeout = 5 * time.Second
)

// serveHistory lists one target's recent outcome events, newest first
// (/history?job=J&connector=T; T is a connector, keyset-<id> for a key
// set, or _ for requests that failed before any connector).
func (pg *page) serveHistory(rw http.ResponseWriter, r *http.Request) {
	job, target := r.URL.Query().Get("job"), r.URL.Query().Get("connector")
	if !validToken(job) || !validToken(target) {
		http.Error(rw, "history needs job and connector, without dots, spaces or wildcards", http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), historyTimeout)
	defer cancel()
	since := pg.now().Add(-historyDays * 24 * time.Hour)
	events, err := pg.src.History(ctx, job, target, since, historyLimit)
	if err != nil {
		pg.log.Warn("reading history", "job", job, "connector", target, "error", err)
		reason := "see the worker's log"
		if u, ok := errors.AsType[*Unavailable](err); ok {
			reason = u.Reason
		}
		http.Error(rw, "history unavailable: the results stream could not be read: "+reason, http.StatusServiceUnavailable)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	data := struct {
		Job, Connector string
		Limit, Days    int
		Events         []contract.Event
	}{job, target, historyLimit, historyDays, events}
	if err := pageTemplates.ExecuteTemplate(rw, "history", data); err != nil {
		pg.log.Debug("writing history page", "error", err)
	}
}

// validToken reports whether s can be one subject token.
func validToken(s string) bool {
	return s != "" && !strings.ContainsAny(s, ".*> \t\r\n")
}
