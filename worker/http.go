package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/startstop"
)

// HTTPListenOff disables the HTTP server.
const HTTPListenOff = config.HTTPOff

func (w *Worker) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(rw, "ok")
	})
	mux.HandleFunc("GET /readyz", func(rw http.ResponseWriter, _ *http.Request) {
		if !w.Ready() {
			http.Error(rw, "not ready", http.StatusServiceUnavailable)
			return
		}
		_, _ = fmt.Fprintln(rw, "ready")
	})
	mux.HandleFunc("GET /{$}", w.serveStatus)
	return mux
}

// httpServer is the service that serves the worker's handler on an
// address. A busy address fails Start at once with the OS's words.
type httpServer struct {
	startstop.Base
	*shared
	addr string
	srv  *http.Server
}

// Start listens on addr unless it is empty or "off".
func (h *httpServer) Start(ctx context.Context) error {
	_, ok, stopped := h.StartInit(ctx)
	if !ok {
		return nil
	}
	if h.addr == "" || h.addr == HTTPListenOff {
		stopped()
		return nil
	}
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		stopped()
		return fmt.Errorf("listening on %s: %w", h.addr, err)
	}
	h.srv = &http.Server{Handler: h.mux, ReadHeaderTimeout: 10 * time.Second}
	srv := h.srv
	go func() {
		defer stopped()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("serving HTTP", "addr", h.addr, "error", err)
		}
	}()
	h.log.Info("http listening", "addr", ln.Addr().String())
	return nil
}

// Stop shuts the server down, letting open requests end for up to 5s.
func (h *httpServer) Stop(ctx context.Context) error {
	ok, _, done := h.StopInit()
	if !ok {
		return nil
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("stopping the HTTP server: %w", err)
	}
	return startstop.Wait(ctx, done, "the HTTP server")
}

// statusRow is one line of the status page.
type statusRow struct {
	Job, Connector, Outcome, Reason, Thumbprint, NotAfter, Updated, Error string
	Final                                                                 bool
}

var statusPage = template.Must(template.New("status").Parse(`<!doctype html>
<html><head><meta charset="utf-8"><title>certrotator</title>
<style>body{font-family:sans-serif}td,th{padding:2px 8px;text-align:left}
.failed{color:#b00}.succeeded{color:#070}</style></head>
<body><h1>certrotator {{.Instance}}</h1>
<p>{{if .Ready}}ready{{else}}not ready{{end}}</p>
<table><tr><th>job</th><th>connector</th><th>outcome</th><th>reason / error</th><th>thumbprint</th><th>not after</th><th>time</th></tr>
{{range .Rows}}<tr><td>{{.Job}}</td><td>{{.Connector}}</td><td class="{{.Outcome}}">{{.Outcome}}{{if not .Final}} (retrying){{end}}</td>
<td>{{.Reason}}{{.Error}}</td><td>{{.Thumbprint}}</td><td>{{.NotAfter}}</td><td>{{.Updated}}</td></tr>
{{else}}<tr><td colspan="7">no outcome yet</td></tr>{{end}}
</table></body></html>
`))

func (w *Worker) serveStatus(rw http.ResponseWriter, r *http.Request) {
	rows, err := w.statusRows(r.Context())
	if err != nil {
		http.Error(rw, "status unavailable", http.StatusServiceUnavailable)
		w.log.Warn("reading status for the page", "error", err)
		return
	}
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	data := struct {
		Instance string
		Ready    bool
		Rows     []statusRow
	}{w.instance, w.Ready(), rows}
	if err := statusPage.Execute(rw, data); err != nil {
		w.log.Debug("writing status page", "error", err)
	}
}

func (w *Worker) statusRows(ctx context.Context) ([]statusRow, error) {
	b := w.bus()
	if b == nil {
		return nil, nil
	}
	entries, err := contract.ReadStatus(ctx, b.status, ">")
	if err != nil {
		return nil, err
	}
	rows := make([]statusRow, 0, len(entries))
	for _, e := range entries {
		o := e.Outcome
		row := statusRow{
			Job: o.Job, Connector: o.Connector, Outcome: o.Status, Reason: o.Reason, Final: o.Final,
			Updated: e.Updated.UTC().Format(time.RFC3339),
		}
		if c := cmp.Or(o.Certificate, o.Previous); c != nil {
			row.Thumbprint = c.Thumbprint
			if !c.NotAfter.IsZero() {
				row.NotAfter = c.NotAfter.UTC().Format(time.RFC3339)
			}
		}
		if o.Error != nil {
			row.Error = o.Error.Code + ": " + o.Error.Message
		}
		rows = append(rows, row)
	}
	return rows, nil
}
