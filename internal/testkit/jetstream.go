package testkit

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// JetStream is the JetStream context of nc.
func JetStream(tb testing.TB, nc *nats.Conn) jetstream.JetStream {
	tb.Helper()
	js, err := jetstream.New(nc)
	if err != nil {
		tb.Fatalf("jetstream: %v", err)
	}
	return js
}

// Publish sends a raw body on subject with a Msg-Id and waits for the ack.
func Publish(tb testing.TB, js jetstream.JetStream, subject, body, id string) *jetstream.PubAck {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitTimeout)
	defer cancel()
	ack, err := js.Publish(ctx, subject, []byte(body), jetstream.WithMsgID(id))
	if err != nil {
		tb.Fatalf("publishing %s: %v", subject, err)
	}
	return ack
}
