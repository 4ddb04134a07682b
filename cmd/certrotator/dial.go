package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/nats-io/nats.go"
)

// errNoNATS: the config names no NATS server to talk to.
var errNoNATS = errors.New("no NATS to talk to: set nats.url, or nats.listen on the running worker, or give --server URL")

// dialable turns a listen address into one to dial: an unspecified host
// becomes the loopback.
func dialable(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// failure prints err and returns the exit code for it: exitUnreachable when
// NATS, Vault or Graph could not be reached (nothing was decided: a script
// retries later), else exitFailed.
func failure(e *env, err error) int {
	fmt.Fprintf(e.stderr, "certrotator: %v\n", err)
	if denied := e.natsDenied.Load(); denied != nil {
		// Retrying will not help: the user's permissions or the config
		// must change. A reply subscription is the usual one.
		fmt.Fprintf(e.stderr, "certrotator: NATS refused a subscription: %s: if it is a reply subject (_INBOX…), this user may read replies only on a prefix of its own: set nats.inbox_prefix (a nats context's inbox_prefix) to it, e.g. _INBOX_publisher for the publisher of deploy/nats/nats-permissions.conf\n", *denied)
		return exitFailed
	}
	if unreachable(err) {
		return exitUnreachable
	}
	return exitFailed
}

// unreachable reports whether err says that a server could not be reached
// or did not answer: no NATS server, a refused or reset connection, a name
// that does not resolve, a timeout.
func unreachable(err error) bool {
	var (
		op  *net.OpError
		dns *net.DNSError
		ue  *url.Error
		ne  net.Error
	)
	switch {
	case err == nil:
		return false
	case errors.Is(err, nats.ErrNoServers), errors.Is(err, nats.ErrTimeout), errors.Is(err, nats.ErrConnectionClosed),
		errors.Is(err, nats.ErrDisconnected), errors.Is(err, context.DeadlineExceeded),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return true
	case errors.As(err, &op), errors.As(err, &dns):
		return true
	case errors.As(err, &ue) && ue.Timeout():
		return true
	case errors.As(err, &ne) && ne.Timeout():
		return true
	}
	return false
}

// noteDenied is the CLI connection's asynchronous error handler: it keeps
// the first subscription the server refused, which failure explains, and
// prints the rest as nats.go's default handler would.
func noteDenied(e *env) nats.ErrHandler {
	return func(_ *nats.Conn, _ *nats.Subscription, err error) {
		if errors.Is(err, nats.ErrPermissionViolation) && strings.Contains(strings.ToLower(err.Error()), "subscription") {
			msg := err.Error()
			e.natsDenied.CompareAndSwap(nil, &msg)
			return
		}
		fmt.Fprintf(os.Stderr, "certrotator: nats: %v\n", err)
	}
}
