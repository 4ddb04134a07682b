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

// PublishRequest publishes req on <prefix>.request.<job> with msgID as its
// Nats-Msg-Id and waits for the stream's ack, whose Duplicate says whether
// the stream already had it. The worker's scheduler and the client both
// send requests through it, so every trigger makes the same message.
func PublishRequest(ctx context.Context, js jetstream.JetStream, prefix string, req jobs.Request, msgID string) (*jetstream.PubAck, error) {
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
