package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
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
