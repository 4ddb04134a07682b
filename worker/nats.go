package worker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
)

// embeddedReadyTimeout bounds how long an embedded server may take to accept
// connections (JetStream recovers its store first).
const embeddedReadyTimeout = 30 * time.Second

// natsConn is the connection service: it dials nats.url, embeds a
// JetStream server, or takes the caller's connection, then provisions the
// streams, consumer and buckets and publishes the bus for the other
// services. It closes only what it opened.
type natsConn struct {
	startstop.Base
	*shared
	given    *nats.Conn
	nats     config.NATS
	warnings *Warnings
	budget   KVBinder

	nc      *nats.Conn
	srv     *server.Server // nil unless embedded
	closedC chan struct{}  // closed when an owned nc is closed
	release func()         // ends the run Start began

	// attemptTimeout and retryBackoff pace provisioning; tests shrink them.
	attemptTimeout time.Duration
	retryBackoff   retry.Backoff
	// waitingFor is what provisioning waits for, for /readyz; nil when
	// it waits for nothing.
	waitingFor atomic.Pointer[string]
}

// provisioner is the provisioning of this connection: retried until Start's
// context ends, its progress shown by /readyz.
func (c *natsConn) provisioner() *provisioner {
	p := &provisioner{
		replicas:       max(c.nats.Replicas, 1),
		log:            c.log,
		attemptTimeout: cmp.Or(c.attemptTimeout, provisionAttemptTimeout),
		backoff:        provisionBackoff,
		clock:          c.tune.clock,
		waitingFunc: func(what string, err error) {
			if err == nil {
				c.waitingFor.Store(nil)
				return
			}
			msg := "provisioning " + what + ": " + describeNATSError(err) + " (retrying)"
			c.waitingFor.Store(&msg)
		},
	}
	if c.retryBackoff.Base > 0 {
		p.backoff = c.retryBackoff
	}
	return p
}

// Start connects and provisions. A failure undoes what it did.
func (c *natsConn) Start(ctx context.Context) error {
	_, ok, stopped := c.StartInit(ctx)
	if !ok {
		return nil
	}
	if err := c.open(ctx); err != nil {
		stopped()
		return err
	}
	b, err := provision(ctx, c.nc, c.prefix, c.jobList, c.provisioner())
	if err != nil {
		c.close(c.tune.opTimeout)
		stopped()
		return err
	}
	if c.warnings != nil {
		c.warnings.bind(b.warnings)
	}
	if c.budget != nil {
		c.budget.Bind(b.budget)
	}
	c.busPtr.Store(b)
	// Nothing runs in the background: stopped is called by Stop.
	c.release = stopped
	return nil
}

// Stop closes what Start opened. The services that used the bus have
// stopped before it (reverse order).
func (c *natsConn) Stop(ctx context.Context) error {
	ok, _, _ := c.StopInit()
	if !ok {
		return nil
	}
	defer c.release()
	timeout := 10 * time.Second
	if dl, has := ctx.Deadline(); has {
		timeout = max(time.Until(dl), 0)
	}
	return c.close(timeout)
}

// open sets nc: the given connection, a dialed one when nats.url is set,
// else one to a new embedded server.
func (c *natsConn) open(ctx context.Context) error {
	if c.given != nil {
		c.nc = c.given
		return nil
	}
	c.closedC = make(chan struct{})
	opts, err := NATSOptions(c.nats, "certrotator/"+c.instance, c.log)
	if err != nil {
		return err
	}
	closedC := c.closedC
	opts = append(opts, nats.ClosedHandler(func(*nats.Conn) { close(closedC) }), nats.ErrorHandler(c.asyncError))
	if c.nats.URL != "" {
		nc, err := nats.Connect(c.nats.URL, opts...)
		if err != nil {
			return fmt.Errorf("connecting to NATS at %s: %w", c.nats.URL, err)
		}
		c.nc = nc
		return nil
	}
	srv, err := startEmbedded(ctx, c.nats, c.instance)
	if err != nil {
		return err
	}
	nc, err := nats.Connect("", append(opts, nats.InProcessServer(srv))...)
	if err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return fmt.Errorf("connecting to the embedded NATS server: %w", err)
	}
	c.nc, c.srv = nc, srv
	return nil
}

// asyncError reports what the server or the client says outside any call
// on the worker's own connection. A slow consumer (a subscription's buffer
// full, messages dropped) is logged with the subscription's subject and
// counted (certrotator_nats_slow_consumer_total), instead of nats.go's
// default line on stderr; the client reports it once per episode.
func (c *natsConn) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	if errors.Is(err, nats.ErrSlowConsumer) {
		c.metrics.slowNATS.Inc()
		dropped := 0
		if sub != nil {
			dropped, _ = sub.Dropped()
		}
		c.log.Warn("nats subscription fell behind, messages dropped", "subject", subject, "dropped", dropped)
		return
	}
	c.log.Warn("nats asynchronous error", "subject", subject, "error", err)
}

// NATSOptions builds the client options from the nats section: name,
// endless reconnects, whichever credentials are set, and the reply prefix
// (nats.inbox_prefix; JetStream's API replies, pulled messages and watch
// deliveries take it too). The CLI dials with them too.
func NATSOptions(n config.NATS, name string, log *slog.Logger) ([]nats.Option, error) {
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
	if n.Token != "" {
		opts = append(opts, nats.Token(n.Token))
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
	if n.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(n.InboxPrefix))
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
func startEmbedded(ctx context.Context, n config.NATS, instance string) (*server.Server, error) {
	opts := &server.Options{
		ServerName: serverName(instance),
		JetStream:  true,
		StoreDir:   cmp.Or(n.StoreDir, config.StoreDirDefault),
		NoSigs:     true,
		NoLog:      true,
	}
	// The embedded server requires the credentials the config gives its
	// clients (config refuses a reachable listen address without them).
	opts.Username, opts.Password, opts.Authorization = n.User, n.Password, n.Token
	if n.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitListen(n.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	if opts.Port > 0 {
		// nats-server logs a busy port and retries; say it at once, in the
		// OS's words, instead of waiting for readiness that never comes.
		ln, err := net.Listen("tcp", n.Listen)
		if err != nil {
			return nil, fmt.Errorf("starting the embedded NATS server: nats.listen: %w", err)
		}
		_ = ln.Close()
	}
	srv, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("creating the embedded NATS server: %w", err)
	}
	srv.Start()
	if err := waitReady(ctx, srv); err != nil {
		srv.Shutdown()
		srv.WaitForShutdown()
		return nil, fmt.Errorf("starting the embedded NATS server on %q: %w", n.Listen, err)
	}
	return srv, nil
}

// waitReady waits for the server to accept connections (JetStream recovers
// its store first), for at most embeddedReadyTimeout, and gives up at once
// when ctx ends: a SIGTERM during start is honoured.
func waitReady(ctx context.Context, srv *server.Server) error {
	deadline := time.Now().Add(embeddedReadyTimeout)
	for !srv.ReadyForConnections(100 * time.Millisecond) {
		if err := ctx.Err(); err != nil {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s", embeddedReadyTimeout)
		}
	}
	return nil
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
func (c *natsConn) close(timeout time.Duration) error {
	c.busPtr.Store(nil)
	var err error
	if c.given == nil && c.nc != nil {
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
	c.nc = nil
	return err
}
