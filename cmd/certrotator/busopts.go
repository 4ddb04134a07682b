package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/config"
)

// natsOptions maps a nats section (of the config file, or of a nats
// context) into the bus's options; name is the client's name as the server
// shows it. Package bus knows nothing of the config: this is the one place
// that maps it (bus/bustest.Options mirrors it for tests, and
// TestBusOptionsMatchBustest keeps the two equal).
func natsOptions(n config.NATS, name, instance string, logger *slog.Logger) bus.Options {
	return bus.Options{
		Name: name, URL: n.URL,
		User: n.User, Password: n.Password, Token: n.Token, CredsFile: n.CredsFile, NKeyFile: n.NKeyFile,
		InboxPrefix: n.InboxPrefix, TLS: bus.TLS{CAFile: n.TLS.CAFile, CertFile: n.TLS.CertFile, KeyFile: n.TLS.KeyFile},
		StoreDir: cmp.Or(n.StoreDir, config.StoreDirDefault), Listen: n.Listen, ServerName: instance,
		Logger: logger,
	}
}

// workerBusOptions are the options of the worker's own connection.
func workerBusOptions(cfg *config.Config, logger *slog.Logger) bus.Options {
	return natsOptions(cfg.NATS, "certrotator/"+cfg.Instance, cfg.Instance, logger)
}

// openBus opens the NATS connection a served worker uses (nats.url, or an
// embedded server): first, before anything that talks to NATS is built.
func openBus(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*bus.Bus, error) {
	b, err := bus.Open(ctx, workerBusOptions(cfg, logger))
	if err != nil {
		return nil, fmt.Errorf("opening NATS: %w", err)
	}
	return b, nil
}
