package main

import (
	"context"
	"errors"
	"log/slog"
	"net"

	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/worker"
)

// errNoNATS: the config names no NATS server to talk to.
var errNoNATS = errors.New("no NATS to talk to: set nats.url, or nats.listen on the running worker")

// dial connects the CLI to the NATS of the config: nats.url or, when that
// is empty, nats://<nats.listen> of a worker running an embedded server,
// with the config's credentials.
func dial(ctx context.Context, cfg *config.Config) (*client.Conn, error) {
	url := cfg.NATS.URL
	if url == "" {
		if cfg.NATS.Listen == "" {
			return nil, errNoNATS
		}
		url = "nats://" + dialable(cfg.NATS.Listen)
	}
	opts, err := worker.NATSOptions(cfg.NATS, "certrotator-cli/"+cfg.Instance, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	sizes := make(map[string]int, len(cfg.Jobs))
	for _, j := range cfg.Jobs {
		sizes[j.Name] = len(j.Connectors)
	}
	return client.Dial(ctx, url, client.Options{SubjectPrefix: cfg.NATS.SubjectPrefix, Jobs: sizes, NATS: opts})
}

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
