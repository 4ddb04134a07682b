package bench

import (
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/worker"
)

// workerConfigOf is the worker's Config from the file's instance, subject
// prefix, concurrency, jobs, NATS section and HTTP address, as
// cmd/certrotator's wire.go maps them (the worker does not import config).
func workerConfigOf(c *config.Config) worker.Config {
	return worker.Config{
		Instance:      c.Instance,
		SubjectPrefix: c.NATS.SubjectPrefix,
		Concurrency:   c.Concurrency,
		Jobs:          c.Jobs,
		Replicas:      c.NATS.Replicas,
		HTTPListen:    c.HTTP.Listen,
	}
}
