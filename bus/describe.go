package bus

import (
	"context"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Describe says what is missing when a NATS or JetStream call failed, in
// words of our own: the worker's /readyz and /history answer anyone who
// asks, so they name the missing part, never the library's or the
// server's error text (which may carry addresses, subjects and account
// details). The error itself goes to the log.
func Describe(err error) string {
	var api *jetstream.APIError
	switch {
	case errors.Is(err, nats.ErrConnectionClosed), errors.Is(err, nats.ErrConnectionDraining), errors.Is(err, nats.ErrDisconnected):
		return "not connected to NATS"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, nats.ErrTimeout):
		return "no answer from JetStream in time"
	case errors.Is(err, nats.ErrNoResponders), errors.Is(err, jetstream.ErrNoStreamResponse),
		errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount):
		return "JetStream is not available to this account"
	case errors.As(err, &api):
		return describeAPIError(api)
	case errors.Is(err, jetstream.ErrStreamNotFound), errors.Is(err, jetstream.ErrConsumerNotFound), errors.Is(err, jetstream.ErrBucketNotFound):
		return "a stream, consumer or bucket of the contract is missing"
	default:
		return "JetStream did not answer as expected (see the worker's log)"
	}
}

// describeAPIError names what a JetStream API refusal says is missing.
func describeAPIError(api *jetstream.APIError) string {
	switch api.ErrorCode {
	case jsErrInsufficientResources, jsErrNoPeers:
		return "not enough JetStream servers up for nats.replicas yet"
	case jsErrClusterNotAvailable:
		return "the JetStream cluster has no leader yet"
	case jsErrReplicasNotSupported:
		return "the server is not clustered: set nats.replicas to 1"
	case jsErrSubjectOverlap:
		return "another stream already takes these subjects"
	case jsErrNotEnabled, jsErrNotEnabledForAccount:
		return "JetStream is not available to this account"
	case jsErrStreamNotFound, jsErrConsumerNotFound:
		return "a stream, consumer or bucket of the contract is missing"
	default:
		return fmt.Sprintf("JetStream refused it (error code %d)", api.ErrorCode)
	}
}

// The JetStream API error codes (nats-server's errors.json) that bus
// names: Describe words them, and provisioning gives up at once on those
// that cannot heal by waiting (permanentJSError) while it retries the
// others, which heal with time on a cluster that is forming or failing
// over.
const (
	jsErrNoPeers               jetstream.ErrorCode = 10005
	jsErrClusterNotAvailable   jetstream.ErrorCode = 10008
	jsErrConsumerNotFound      jetstream.ErrorCode = 10014
	jsErrInsufficientResources jetstream.ErrorCode = 10023
	jsErrNotEnabledForAccount  jetstream.ErrorCode = 10039
	jsErrStreamInvalidConfig   jetstream.ErrorCode = 10052
	jsErrStreamNotFound        jetstream.ErrorCode = 10059
	jsErrSubjectOverlap        jetstream.ErrorCode = 10065
	jsErrReplicasNotSupported  jetstream.ErrorCode = 10074
	jsErrNotEnabled            jetstream.ErrorCode = 10076
)
