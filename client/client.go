// Package client speaks certrotator's NATS contract from the outside: it
// publishes rotation requests, waits for their outcomes, reads the status
// bucket and the outcome stream. The certrotator CLI uses it; so can a
// pipeline in another repository that wants to request rotations. It
// depends on the contract only, never on the worker or the config file.
package client

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// Options configures Dial. The zero value talks to the default prefix.
type Options struct {
	// SubjectPrefix of the deployment. Defaults to contract.SubjectPrefixDefault.
	SubjectPrefix string
	// Jobs maps a job name to how many targets (connectors and key sets) it
	// has, so that waiting
	// for a whole job's outcomes knows when it is done. Defaults to none:
	// a wait then counts the job's connectors in the status bucket, and
	// ends at the first final outcome when the bucket has none of them.
	Jobs map[string]int
	// NATS are extra connection options (credentials, TLS, name).
	NATS []nats.Option
}

// Conn is a connection to a certrotator deployment. It is safe for
// concurrent use. Close it when done.
type Conn struct {
	nc     *nats.Conn
	js     jetstream.JetStream
	prefix string
	jobs   map[string]int
}

// Dial connects to the NATS server at serverURL (a comma-separated list
// is tried in turn). ctx bounds the connection attempt.
func Dial(ctx context.Context, serverURL string, opts Options) (*Conn, error) {
	nopts := append([]nats.Option{nats.Name("certrotator-client")}, opts.NATS...)
	if dl, ok := ctx.Deadline(); ok {
		nopts = append(nopts, nats.Timeout(time.Until(dl)))
	}
	nc, err := nats.Connect(serverURL, nopts...)
	if err != nil {
		return nil, fmt.Errorf("connecting to NATS at %s: %w", redacted(serverURL), err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("opening JetStream: %w", err)
	}
	return &Conn{nc: nc, js: js, prefix: cmp.Or(opts.SubjectPrefix, contract.SubjectPrefixDefault), jobs: opts.Jobs}, nil
}

// Close closes the connection.
func (c *Conn) Close() { c.nc.Close() }

// Publish sends req to <prefix>.request.<job> and returns its Nats-Msg-Id:
// req.ID, or "manual-<uuid>" when empty. An empty Trigger becomes manual.
// Sending the same id twice within the duplicate window is a no-op.
func (c *Conn) Publish(ctx context.Context, req contract.Request) (string, error) {
	if !contract.ValidName(req.Job) {
		return "", fmt.Errorf("publishing request: job %q is not a job name", req.Job)
	}
	id := req.ID
	if id == "" {
		id = contract.ManualMsgID()
	}
	req.Trigger = cmp.Or(req.Trigger, contract.TriggerManual)
	if _, err := PublishRequest(ctx, c.js, c.prefix, req, id); err != nil {
		return "", err
	}
	return id, nil
}

// redacted hides the password of every URL in a NATS server list
// ("nats://user:pass@host,nats://host2"), so that errors never carry it.
func redacted(servers string) string {
	list := strings.Split(servers, ",")
	for i, s := range list {
		if u, err := url.Parse(strings.TrimSpace(s)); err == nil && u.User != nil {
			if _, has := u.User.Password(); has {
				list[i] = u.Redacted()
			}
		}
	}
	return strings.Join(list, ",")
}
