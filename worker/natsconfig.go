package worker

import "github.com/certrotator/certrotator/config"

// NATSConfig is how the worker reaches NATS when Config.Conn is nil: the
// config file's nats section, as the connection code (nats.go) takes it.
// It is the one part of Config still typed by the config package, and it
// goes with that code to the NATS connection's own package.
type NATSConfig = config.NATS
