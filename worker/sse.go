package worker

import (
	"bytes"
	"fmt"
	"io/fs"
	"net/http"
	"strings"
	"time"
)

// sseKeepAlive is how often an idle event stream sends the section again,
// so that proxies do not close it and relative times stay current.
const sseKeepAlive = 15 * time.Second

// serveEvents streams the status section as server-sent events: one
// `status` event with the re-rendered section at connect and at every
// change of the status bucket (its watch feeds the view). The page swaps
// it in; no polling, no reload.
func (w *Worker) serveEvents(rw http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(rw)
	rw.Header().Set("Content-Type", "text/event-stream")
	rw.Header().Set("Cache-Control", "no-store")
	rw.Header().Set("X-Accel-Buffering", "no")
	keepAlive := time.NewTicker(sseKeepAlive)
	defer keepAlive.Stop()
	var buf bytes.Buffer
	for {
		entries, changed := w.view.snapshot()
		buf.Reset()
		if err := pageTemplates.ExecuteTemplate(&buf, "status", w.buildStatusPage(entries, w.now())); err != nil {
			w.log.Warn("rendering status section", "error", err)
			return
		}
		if err := writeEvent(rw, "status", buf.String()); err != nil {
			return
		}
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-w.view.stopped:
			return
		case <-keepAlive.C: // re-sent, which also moves days left and next run on
		case <-changed:
		}
	}
}

// writeEvent writes one event; each line of data becomes a data: line.
func writeEvent(rw http.ResponseWriter, name, data string) error {
	var b strings.Builder
	b.WriteString("event: " + name + "\n")
	for line := range strings.SplitSeq(data, "\n") {
		b.WriteString("data: " + strings.TrimSuffix(line, "\r") + "\n")
	}
	b.WriteString("\n")
	_, err := fmt.Fprint(rw, b.String())
	return err
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
