package worker

import (
	"context"
	"errors"
	"fmt"

	natsbus "github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/jobs"
)

// describeNATSError says what is missing when a NATS or JetStream call
// failed, in words of our own (bus.Describe): /readyz and /history answer
// anyone who asks. The error itself goes to the log.
func describeNATSError(err error) string {
	if errors.Is(err, errNotConnected) {
		return "not connected to NATS"
	}
	return natsbus.Describe(err)
}

// describeCheckError says what a failing readiness check (Config.Checks)
// misses: its failure code when it gives one (jobs.Failure: for Vault,
// source_denied or source_unavailable), else only that it failed or timed
// out.
func describeCheckError(err error) string {
	var f *jobs.Failure
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer within %s", checkTimeout)
	case errors.As(err, &f) && f.Code != "":
		if f.Class == jobs.ClassPermanent {
			return "refused (" + f.Code + "): check the credentials (see the worker's log)"
		}
		return "unavailable (" + f.Code + ")"
	default:
		return "failing (see the worker's log)"
	}
}
