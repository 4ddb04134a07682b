package worker

import (
	"time"

	"github.com/certrotator/certrotator/internal/baseservice"
)

// results publishes a run's outcomes (status, then event) and keeps the
// records and upload intents of runs not yet settled (record.go,
// intents.go). The consumer and the advisory listener publish through it.
type results struct {
	baseservice.BaseService
	*catalog
	instance  string
	bus       func() *bus // nil until the connection service provisioned
	metrics   *metrics
	opTimeout time.Duration // one NATS round trip (publish, KV)
}
