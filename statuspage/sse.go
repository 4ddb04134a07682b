package statuspage

import (
	"bytes"
	"cmp"
	"fmt"
	"io/fs"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/certrotator/certrotator/internal/testsignal"
)

// sseKeepAlive is how often an idle event stream is woken: it then sends
// the rows whose days left or next run moved on, and the time.
const sseKeepAlive = 15 * time.Second

// sseWriteTimeout bounds each write to an event stream: a client that stops
// reading is cut off once its socket buffers are full for this long, not
// held for ever. The server's own WriteTimeout would end every stream after
// a fixed time; this deadline is moved on before each write instead.
const sseWriteTimeout = 10 * time.Second

// liveStreamsDefault is how many /events streams one page serves at once.
// Each open stream holds two goroutines and a connection; beyond the cap a
// stream is refused with 503, and the page still works as a static snapshot.
const liveStreamsDefault = 64

// liveFeed is what the open event streams share: a count against the cap,
// and the rows rendered once per change of the status bucket (and once a
// minute, as days left and next runs move on) for every stream, so that N
// streams cost one render per change, not N.
type liveFeed struct {
	max          int           // streams served at once; set before serving
	writeTimeout time.Duration // bound on each write; sseWriteTimeout unless a test shrinks it
	// ended fires when a stream ends, with the write error that ended it
	// (nil when the client or the source ended it); inert unless a test arms it.
	ended testsignal.Signal[error]

	mu    sync.Mutex
	open  int
	frame *liveFrame
}

// liveFrame is the status section as rendered for one state of the bucket
// and one minute: the whole section for a new stream, and its parts so that
// a stream sends only those that differ from what it sent last.
type liveFrame struct {
	gen      <-chan struct{} // the source's change channel when rendered
	minute   time.Time
	full     string
	keys     []string          // row keys (status keys) in page order
	rows     map[string]string // row key → rendered <tr>
	unplaced string
}

// acquire takes a stream slot; false when the cap is reached.
func (f *liveFeed) acquire() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.open >= f.max {
		return false
	}
	f.open++
	return true
}

func (f *liveFeed) release() {
	f.mu.Lock()
	f.open--
	f.mu.Unlock()
}

// streams is how many streams are open, for tests and the refusal message.
func (f *liveFeed) streams() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.open
}

// currentFrame returns the frame for the source's current state at now,
// rendering it only when no stream has yet.
func (pg *page) currentFrame(now time.Time) (*liveFrame, <-chan struct{}, error) {
	f := &pg.live
	entries, changed := pg.src.Snapshot()
	minute := now.Truncate(time.Minute)
	f.mu.Lock()
	defer f.mu.Unlock()
	if fr := f.frame; fr != nil && fr.gen == changed && fr.minute.Equal(minute) {
		return fr, changed, nil
	}
	p := pg.buildStatusPage(entries, now)
	fr := &liveFrame{gen: changed, minute: minute, rows: make(map[string]string, len(p.Rows))}
	var b strings.Builder
	if err := pageTemplates.ExecuteTemplate(&b, "status", p); err != nil {
		return nil, nil, fmt.Errorf("rendering the status section: %w", err)
	}
	fr.full = b.String()
	for _, r := range p.Rows {
		b.Reset()
		if err := pageTemplates.ExecuteTemplate(&b, "row", r); err != nil {
			return nil, nil, fmt.Errorf("rendering the row of %s/%s: %w", r.Job, r.Connector, err)
		}
		fr.keys = append(fr.keys, r.Key)
		fr.rows[r.Key] = b.String()
	}
	b.Reset()
	if err := pageTemplates.ExecuteTemplate(&b, "unplaced", p); err != nil {
		return nil, nil, fmt.Errorf("rendering the early failures: %w", err)
	}
	fr.unplaced = b.String()
	f.frame = fr
	return fr, changed, nil
}

// serveEvents streams the status section as server-sent events: the whole
// section (`status`) at connect, then on every change of the status bucket
// and every keep-alive only what differs from what this stream sent: one
// `row` event per changed connector, `unplaced` when the early failures
// changed, and `meta` (readiness and time). When rows come or go the
// section is sent whole again. The page swaps each in; no polling, no
// reload.
func (pg *page) serveEvents(rw http.ResponseWriter, r *http.Request) {
	feed := &pg.live
	if !feed.acquire() {
		rw.Header().Set("Connection", "close") // frees the connection's goroutine now
		rw.Header().Set("Retry-After", "60")
		http.Error(rw, fmt.Sprintf("too many live views are open (%d, the most this worker serves): "+
			"the status page still works, reload it to refresh", feed.max), http.StatusServiceUnavailable)
		return
	}
	defer feed.release()
	var writeErr error
	defer func() { feed.ended.Signal(writeErr) }()
	rc := http.NewResponseController(rw)
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("X-Accel-Buffering", "no")
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	var sent *liveFrame
	var buf bytes.Buffer
	for {
		now := pg.now()
		fr, changed, err := pg.currentFrame(now)
		if err != nil {
			pg.log.Warn("live status page", "error", err)
			return
		}
		buf.Reset()
		writeChanges(&buf, sent, fr)
		var meta strings.Builder
		if err := pageTemplates.ExecuteTemplate(&meta, "meta", statusPage{Ready: pg.src.Ready(), Now: now.UTC()}); err != nil {
			pg.log.Warn("rendering the status meta", "error", err)
			return
		}
		writeEvent(&buf, "meta", meta.String())
		sent = fr
		// Moved on before each write: a client that does not read is cut
		// off, one that reads keeps its stream for as long as it likes.
		_ = rc.SetWriteDeadline(time.Now().Add(cmp.Or(feed.writeTimeout, sseWriteTimeout)))
		if _, writeErr = rw.Write(buf.Bytes()); writeErr != nil {
			return
		}
		if writeErr = rc.Flush(); writeErr != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-pg.src.Done():
			return
		case <-keepAlive.C:
		case <-changed:
		}
	}
}

// writeChanges writes the events that take a page showing sent to fr: the
// whole section when nothing was sent or the rows came, went or moved,
// else the rows and the early-failure section that differ.
func writeChanges(buf *bytes.Buffer, sent, fr *liveFrame) {
	if sent == nil || !slices.Equal(sent.keys, fr.keys) {
		writeEvent(buf, "status", fr.full)
		return
	}
	if sent == fr {
		return
	}
	for _, k := range fr.keys {
		if fr.rows[k] != sent.rows[k] {
			writeEvent(buf, "row", fr.rows[k])
		}
	}
	if fr.unplaced != sent.unplaced {
		writeEvent(buf, "unplaced", fr.unplaced)
	}
}

// writeEvent appends one event; each line of data becomes a data: line.
func writeEvent(b *bytes.Buffer, name, data string) {
	b.WriteString("event: " + name + "\n")
	for line := range strings.SplitSeq(data, "\n") {
		b.WriteString("data: " + strings.TrimSuffix(line, "\r") + "\n")
	}
	b.WriteString("\n")
}

// serveStatic serves the page's stylesheet and script.
func serveStatic(rw http.ResponseWriter, r *http.Request) {
	sub, err := fs.Sub(templateFS, "templates")
	if err != nil || strings.HasSuffix(r.URL.Path, ".html") {
		http.NotFound(rw, r)
		return
	}
	http.FileServerFS(sub).ServeHTTP(rw, r)
}
