// Package bus owns certrotator's NATS connection: the options that say how
// to reach NATS (a server's URL and credentials, or an embedded JetStream
// server on a store directory), Open that dials or embeds, Provision that
// creates the streams, the consumer and the buckets of the contract (or
// brings existing ones to it), and Verify that says what exists and what
// differs from what Provision would create.
//
// The connection is opened first, by cmd, and handed to every part that
// talks to NATS: the worker, the shared Graph budget, the expiry warnings,
// notifications and the CLI commands. None of them dials on its own, and
// none waits for another to bind it later. bus knows nothing of the config
// file (cmd maps it into Options) nor of jobs (Provision takes the
// consumer's max deliveries as a number).
package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// embeddedReadyTimeout bounds how long an embedded server may take to accept
// connections (JetStream recovers its store first).
const embeddedReadyTimeout = 30 * time.Second

// TLS names the files of a TLS connection to NATS.
type TLS struct {
	CAFile, CertFile, KeyFile string
}

// Options say how to reach NATS. With URL set, Open dials it; else it
// starts an embedded JetStream server on StoreDir (listening on Listen, or
// on no socket at all) and connects in-process. With Conn set, Open takes
// that connection as it is and Close leaves it open.
type Options struct {
	// Name is the client's name as the server shows it.
	Name string
	// URL of the server(s), comma-separated. Empty: embedded.
	URL string
	// Credentials, whichever are set: user and password, token, a creds
	// file (JWT) or an nkey seed file.
	User, Password, Token string
	CredsFile, NKeyFile   string
	// InboxPrefix is the reply prefix (JetStream's API replies, pulled
	// messages and watch deliveries take it too). Empty: _INBOX.
	InboxPrefix string
	TLS         TLS
	// StoreDir is the embedded server's JetStream store. Required when
	// embedded.
	StoreDir string
	// Listen is the embedded server's host:port; empty listens on none.
	// The embedded server requires User/Password or Token from its
	// clients when they are set.
	Listen string
	// ServerName of the embedded server; spaces become '_'. Defaults to
	// "certrotator".
	ServerName string
	// Conn, when set, is used instead of dialing or embedding.
	Conn *nats.Conn
	// Logger receives disconnects, reconnects and asynchronous errors.
	// Defaults to a discarding logger.
	Logger *slog.Logger
}

// Bus is an open connection to NATS, and the embedded server behind it
// when there is one. Its methods are safe for concurrent use.
type Bus struct {
	nc      *nats.Conn
	js      jetstream.JetStream
	srv     *server.Server // nil unless embedded
	owned   bool           // Close drains nc
	closedC chan struct{}  // closed when an owned nc is closed
	log     *slog.Logger
	slow    atomic.Int64

	closeOnce sync.Once
	closeErr  error
}

// Open connects as o says. It returns once the connection is up (an
// embedded server is ready first); a failure leaves nothing open.
func Open(ctx context.Context, o Options) (*Bus, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("opening NATS: %w", err)
	}
	b := &Bus{log: cmp.Or(o.Logger, slog.New(slog.DiscardHandler))}
	if o.Conn != nil {
		b.nc = o.Conn
		if err := b.openJS(); err != nil {
			return nil, err
		}
		return b, nil
	}
	opts, err := ClientOptions(o)
	if err != nil {
		return nil, err
	}
	b.owned, b.closedC = true, make(chan struct{})
	closedC := b.closedC
	opts = append(opts, nats.ClosedHandler(func(*nats.Conn) { close(closedC) }), nats.ErrorHandler(b.asyncError))
	if o.URL != "" {
		nc, err := nats.Connect(o.URL, opts...)
		if err != nil {
			return nil, fmt.Errorf("connecting to NATS at %s: %w", o.URL, err)
		}
		b.nc = nc
	} else {
		srv, err := startEmbedded(ctx, o)
		if err != nil {
			return nil, err
		}
		nc, err := nats.Connect("", append(opts, nats.InProcessServer(srv))...)
		if err != nil {
			srv.Shutdown()
			srv.WaitForShutdown()
			return nil, fmt.Errorf("connecting to the embedded NATS server: %w", err)
		}
		b.nc, b.srv = nc, srv
	}
	if err := b.openJS(); err != nil {
		_ = b.Close(ctx)
		return nil, err
	}
	return b, nil
}

// asyncAckTimeout ends the wait of a publish whose ack never comes (the
// worker publishes a run's outcomes without waiting for each ack), so that
// a lost ack fails its future instead of holding its place for good.
const asyncAckTimeout = time.Minute

func (b *Bus) openJS() error {
	js, err := jetstream.New(b.nc, jetstream.WithPublishAsyncTimeout(asyncAckTimeout))
	if err != nil {
		return fmt.Errorf("opening JetStream: %w", err)
	}
	b.js = js
	return nil
}

// Conn is the connection.
func (b *Bus) Conn() *nats.Conn { return b.nc }

// JetStream is the connection's JetStream.
func (b *Bus) JetStream() jetstream.JetStream { return b.js }

// Server is the embedded server, or nil when the bus dialed one.
func (b *Bus) Server() *server.Server { return b.srv }

// SlowConsumers counts the episodes in which a subscription on this
// connection fell behind and dropped messages.
func (b *Bus) SlowConsumers() int64 { return b.slow.Load() }

// asyncError reports what the server or the client says outside any call
// on the connection. A slow consumer (a subscription's buffer full,
// messages dropped) is logged with the subscription's subject and counted
// (SlowConsumers), instead of nats.go's default line on stderr; the client
// reports it once per episode.
func (b *Bus) asyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	subject := ""
	if sub != nil {
		subject = sub.Subject
	}
	if errors.Is(err, nats.ErrSlowConsumer) {
		b.slow.Add(1)
		dropped := 0
		if sub != nil {
			dropped, _ = sub.Dropped()
		}
		b.log.Warn("nats subscription fell behind, messages dropped", "subject", subject, "dropped", dropped)
		return
	}
	b.log.Warn("nats asynchronous error", "subject", subject, "error", err)
}

// ClientOptions builds the client options from o: name, endless
// reconnects, whichever credentials are set, the reply prefix and TLS. The
// CLI dials with them too.
func ClientOptions(o Options) ([]nats.Option, error) {
	log := cmp.Or(o.Logger, slog.New(slog.DiscardHandler))
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(time.Second),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				log.Warn("nats disconnected", "error", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) { log.Info("nats reconnected", "url", nc.ConnectedUrlRedacted()) }),
	}
	if o.User != "" {
		opts = append(opts, nats.UserInfo(o.User, o.Password))
	}
	if o.Token != "" {
		opts = append(opts, nats.Token(o.Token))
	}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.NKeyFile != "" {
		nk, err := nats.NkeyOptionFromSeed(o.NKeyFile)
		if err != nil {
			return nil, fmt.Errorf("reading nkey seed %s: %w", o.NKeyFile, err)
		}
		opts = append(opts, nk)
	}
	if o.InboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(o.InboxPrefix))
	}
	if o.TLS.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.TLS.CAFile))
	}
	if o.TLS.CertFile != "" || o.TLS.KeyFile != "" {
		opts = append(opts, nats.ClientCert(o.TLS.CertFile, o.TLS.KeyFile))
	}
	return opts, nil
}

// startEmbedded runs a JetStream-enabled server on o.StoreDir, listening
// on o.Listen or on no socket at all.
func startEmbedded(ctx context.Context, o Options) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("starting the embedded NATS server: no store directory (nats.store_dir)")
	}
	opts := &server.Options{
		ServerName: serverName(o.ServerName),
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		NoLog:      true,
	}
	// The embedded server requires the credentials the config gives its
	// clients (config refuses a reachable listen address without them).
	opts.Username, opts.Password, opts.Authorization = o.User, o.Password, o.Token
	if o.Listen == "" {
		opts.DontListen = true
	} else {
		host, port, err := splitListen(o.Listen)
		if err != nil {
			return nil, err
		}
		opts.Host, opts.Port = host, port
	}
	if opts.Port > 0 {
		// nats-server logs a busy port and retries; say it at once, in the
		// OS's words, instead of waiting for readiness that never comes.
		ln, err := net.Listen("tcp", o.Listen)
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
		return nil, fmt.Errorf("starting the embedded NATS server on %q: %w", o.Listen, err)
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

// Close drains an owned connection, waiting for it to close until ctx's
// deadline (10 s without one), and shuts an embedded server down. The
// caller has already stopped everything that used the connection. A given
// connection stays open. Close is idempotent.
func (b *Bus) Close(ctx context.Context) error {
	b.closeOnce.Do(func() { b.closeErr = b.close(ctx) })
	return b.closeErr
}

func (b *Bus) close(ctx context.Context) error {
	timeout := 10 * time.Second
	if dl, has := ctx.Deadline(); has {
		timeout = max(time.Until(dl), 0)
	}
	var err error
	if b.owned && b.nc != nil {
		if derr := b.nc.Drain(); derr != nil {
			b.nc.Close()
		}
		select {
		case <-b.closedC:
		case <-time.After(timeout):
			b.nc.Close()
			err = fmt.Errorf("draining the NATS connection: not closed after %s", timeout)
		}
	}
	if b.srv != nil {
		b.srv.Shutdown()
		b.srv.WaitForShutdown()
	}
	return err
}
