package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certrotator/certrotator/internal/startstop"
)

// HTTPListenOff as Config.HTTPListen disables the HTTP server (the
// config's http.listen: off).
const HTTPListenOff = "off"

func (w *Worker) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(w.registry, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(rw http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(rw, "ok")
	})
	mux.HandleFunc("GET /readyz", w.serveReady)
	// Everything else is the status page's: /, /events, /history, /static/.
	mux.Handle("/", w.statusPage())
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
	h.srv = &http.Server{
		Handler:           h.mux,
		ReadHeaderTimeout: 10 * time.Second,
		// A response that takes longer than this is cut off; the event
		// streams move their own deadline on before each write (sse.go).
		WriteTimeout: 30 * time.Second,
		// A kept-alive connection with no request is closed after this.
		IdleTimeout: 2 * time.Minute,
	}
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
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := h.srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("stopping the HTTP server: %w", err)
	}
	return startstop.Wait(ctx, done, "the HTTP server")
}
