package worker

import (
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/config"
)

// embeddedReadyTimeout bounds how long an embedded server may take to accept
// connections (JetStream recovers its store first).
const embeddedReadyTimeout = 30 * time.Second

// connection is what Start opened: the NATS connection, and the embedded
// server when there is one. Only what the worker opened itself is closed by
// it.
type connection struct {
	nc      *nats.Conn
	srv     *server.Server // nil unless embedded
	owned   bool           // the worker dialed nc and must close it
	closedC chan struct{}  // closed when an owned nc is closed
}

// connect returns the connection to use: cfg.Conn when the caller gave one,
// a dialed one when nats.url is set, else an embedded server.
func (w *Worker) connect() (*connection, error) {
	if w.cfg.Conn != nil {
		return &connection{nc: w.cfg.Conn}, nil
	}
	c := &connection{owned: true, closedC: make(chan struct{})}
	opts, err := connectOptions(w.app, "certrotator/"+w.app.Instance, w.log)
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.ClosedHandler(func(*nats.Conn) { close(c.closedC) }))
	if w.app.NATS.URL != "" {
		nc, err := nats.Connect(w.app.NATS.URL, opts...)
		if err != nil {
			return nil, fmt.Errorf("connecting to NATS at %s: %w", w.app.NATS.URL, err)
		}
		c.nc = nc
		return c, nil
	}
	srv, err := startEmbedded(w.app)
	if err != nil {
		return nil, err
	}
	nc, err := nats.Connect("", append(opts, nats.InProcessServer(srv))...)
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("connecting to the embedded NATS server: %w", err)
	}
	c.nc, c.srv = nc, srv
	return c, nil
}

// connectOptions builds the client options from the nats section: name,
// endless reconnects, and whichever credentials are set.
func connectOptions(app *config.Config, name string, log *slog.Logger) ([]nats.Option, error) {
	n := app.NATS
	opts := []nats.Option{
		nats.Name(name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	if n.User != "" {
		opts = append(opts, nats.UserInfo(n.User, n.Password))
	}
	if n.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(n.CredsFile))
	}
	if n.NKeyFile != "" {
		o, err := nats.NkeyOptionFromSeed(n.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading nkey seed %s: %w", n.NKeyFile, err)
		}
		opts = append(opts, o)
	}
	if n.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(n.TLS.CAFile))
	}
	if n.TLS.CertFile != "" || n.TLS.KeyFile != "" {
		opts = append(opts, nats.ClientCert(n.TLS.CertFile, n.TLS.KeyFile))
	}
	return opts, nil
}

// startEmbedded runs a JetStream-enabled server on nats.store_dir, listening
// on nats.listen or on no socket at all.
func startEmbedded(app *config.Config) (*server.Server, error) {
	opts := &server.Options{
		ServerName: serverName(app.Instance),
		JetStream:  true,
		StoreDir:   app.NATS.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	if app.NATS.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitListen(app.NATS.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("creating the embedded NATS server: %w", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(embeddedReadyTimeout) {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("starting the embedded NATS server on %q: not ready after %s", app.NATS.Listen, embeddedReadyTimeout)
	}
	return srv, nil
}

// splitListen parses "host:port"; port 0 picks a free one, as does -1 for
// nats-server.
func splitListen(listen string) (string, int, error) {
	host, p, err := net.SplitHostPort(listen)
	if err != nil {
		return "", 0, fmt.Errorf("parsing nats.listen %q: %w", listen, err)
	}
	port, err := strconv.Atoi(p)
	if err != nil {
		return "", 0, fmt.Errorf("parsing nats.listen port %q: %w", p, err)
	}
	if port == 0 {
		port = -1
	}
	return host, port, nil
}

// serverName makes the instance name usable as a server name (no spaces).
func serverName(instance string) string {
	b := []byte(instance)
	for i, c := range b {
		if c == ' ' || c == '\t' {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "certrotator"
	}
	return string(b)
}

// close drains an owned connection and shuts an embedded server down. The
// caller has already stopped everything that used the connection.
func (c *connection) close(timeout time.Duration) error {
	var err error
	if c.owned && c.nc != nil {
		if derr := c.nc.Drain(); derr != nil {
			c.nc.Close()
		}
		select {
		case <-c.closedC:
		case <-time.After(timeout):
			c.nc.Close()
			err = fmt.Errorf("draining the NATS connection: not closed after %s", timeout)
		}
	}
	if c.srv != nil {
		c.srv.Shutdown()
		c.srv.WaitForShutdown()
	}
	return err
}
