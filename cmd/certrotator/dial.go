package main

import (
	"errors"
	"net"
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
