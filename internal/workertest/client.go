package workertest

import (
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// Prefix is the subject prefix of the kit's tests (the config's default).
const Prefix = "certrotation"

// Client is a test's own client of a NATS server, apart from the
// connections the workers under test get: it publishes requests and
// watches outcomes as a publisher and an operator would.
type Client struct {
	Server *server.Server
	NC     *nats.Conn
	JS     jetstream.JetStream
}

// NewClient starts a JetStream server of the test's own (in a temp dir)
// and connects a Client to it.
func NewClient(tb testing.TB) *Client {
	tb.Helper()
	s := testkit.NATS(tb, "")
	nc := testkit.Connect(tb, s)
	return &Client{Server: s, NC: nc, JS: testkit.JetStream(tb, nc)}
}

// Request publishes body as a request of job with Msg-Id id and waits
// for the stream's ack.
func (c *Client) Request(tb testing.TB, job, body, id string) *jetstream.PubAck {
	tb.Helper()
	return testkit.Publish(tb, c.JS, contract.RequestSubject(Prefix, job), body, id)
}

// Outcomes keeps every outcome event published from now on.
func (c *Client) Outcomes(tb testing.TB) *Events {
	tb.Helper()
	return Subscribe(tb, c.NC, contract.AllResults(Prefix))
}
