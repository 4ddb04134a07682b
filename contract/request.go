package contract

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/jobs"
)

// ErrNoStreams is returned when the server has no certrotator streams yet.
var ErrNoStreams = errors.New("no worker has set up the streams on this server: start `certrotator run` or run deploy/nats/setup.sh")

// CheckRequest says which field of req is over its bound, naming the
// field and the bound; nil when none is. The worker refuses such a request
// as bad_request, and PublishRequest refuses to send it.
func CheckRequest(req jobs.Request) error {
	for _, f := range []struct {
		name  string
		value string
		max   int
	}{
		{"job", req.Job, RequestMaxJob},
		{"trigger", req.Trigger, RequestMaxTrigger},
		{"reason", req.Reason, RequestMaxReason},
		{"requested_by", req.RequestedBy, RequestMaxRequestedBy},
	} {
		if len(f.value) > f.max {
			return fmt.Errorf("request field %s is %d bytes: it is limited to %d", f.name, len(f.value), f.max)
		}
	}
	for i, c := range req.Connectors {
		if len(c) > RequestMaxConnector {
			return fmt.Errorf("request field connectors[%d] is %d bytes: a connector id is limited to %d", i, len(c), RequestMaxConnector)
		}
	}
	return nil
}

// PublishRequest publishes req on <prefix>.request.<job> with msgID as its
// Nats-Msg-Id and waits for the stream's ack, whose Duplicate says whether
// the stream already had it. The worker's scheduler and the client both
// send requests through it, so every trigger makes the same message.
func PublishRequest(ctx context.Context, js jetstream.JetStream, prefix string, req jobs.Request, msgID string) (*jetstream.PubAck, error) {
	if err := CheckRequest(req); err != nil {
		return nil, err
	}
	body, err := json.Marshal(req)
	if err != nil {
		return nil, fmt.Errorf("encoding request: %w", err)
	}
	subject := RequestSubject(prefix, req.Job)
	ack, err := js.Publish(ctx, subject, body, jetstream.WithMsgID(msgID))
	if errors.Is(err, jetstream.ErrNoStreamResponse) {
		err = ErrNoStreams
	}
	if err != nil {
		return nil, fmt.Errorf("publishing request on %s: %w", subject, err)
	}
	return ack, nil
}
