package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/certrotator/certrotator/internal/baseservice"
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
	baseservice.BaseService
	addr    string
	handler http.Handler
	srv     *http.Server
}

func newHTTPServer(a *baseservice.Archetype, addr string, handler http.Handler) *httpServer {
	h := &httpServer{addr: addr, handler: handler}
	h.Init(a)
	return h
}

// Start listens on addr unless it is empty or "off".
func (h *httpServer) Start(ctx context.Context) error {
	return h.Launch(ctx, func(context.Context) (func(), error) {
		if h.addr == "" || h.addr == HTTPListenOff {
			return nil, nil
		}
		ln, err := net.Listen("tcp", h.addr)
		if err != nil {
			return nil, fmt.Errorf("listening on %s: %w", h.addr, err)
		}
		h.srv = &http.Server{
			Handler:           h.handler,
			ReadHeaderTimeout: 10 * time.Second,
			// A response that takes longer than this is cut off; the event
			// streams move their own deadline on before each write (sse.go).
			WriteTimeout: 30 * time.Second,
			// A kept-alive connection with no request is closed after this.
			IdleTimeout: 2 * time.Minute,
		}
		h.Logger().Info("http listening", "addr", ln.Addr().String())
		srv := h.srv
		return func() {
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				h.Logger().Error("serving HTTP", "addr", h.addr, "error", err)
			}
		}, nil
	})
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
