package e2e

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// fleet is a worker test's NATS side: a JetStream server on loopback that
// workers (replicas) and plain clients share, as a NATS cluster would, a
// client connection on it, and the outcome events that connection has seen
// since the fleet started.
type fleet struct {
	url string
	nc  *nats.Conn
	ev  *workertest.Events
}

// newFleet starts a NATS server and connects a client that collects
// outcome events; start runs workers on it.
func newFleet(t *testing.T) *fleet {
	t.Helper()
	srv := testkit.NATS(t, "")
	nc := testkit.Connect(t, srv)
	return &fleet{url: srv.ClientURL(), nc: nc, ev: events(t, nc)}
}

// start runs a worker named instance for j on the fleet's server, over
// the stack's real adapters or over rot when given.
func (f *fleet) start(t *testing.T, s *stack, instance string, j jobs.Job, rot worker.Rotator) *worker.Worker {
	t.Helper()
	return startWorker(t, s, appConfig(instance, f.url, j), rot, 0)
}

// runWorker is the usual scenario's start: a new fleet with one worker
// named instance that rotates j over the stack's real adapters.
func (s *stack) runWorker(t *testing.T, instance string, j jobs.Job) *fleet {
	t.Helper()
	f := newFleet(t)
	f.start(t, s, instance, j, nil)
	return f
}

// scenario is the usual worker test's parts: the bundle written at
// secret/b2c/<name> (valid for 90 days, password p4ss-<name>), the job that
// rotates it, and the fleet its worker runs on.
type scenario struct {
	*fleet
	b testkit.Bundle
	j jobs.Job
}

// prepare writes the scenario's bundle and binds its job to ids, on a new
// fleet; the caller changes the job as it needs and starts the worker.
func (s *stack) prepare(t *testing.T, name string, ids ...string) *scenario {
	t.Helper()
	path := "b2c/" + name
	b := s.put(t, path, validFor(t, 90*24*time.Hour, "p4ss-"+name))
	return &scenario{fleet: newFleet(t), b: b, j: job(path, ids...)}
}

// serve is prepare with a worker "w1" started for the job over the stack's
// real adapters.
func (s *stack) serve(t *testing.T, name string, ids ...string) *scenario {
	t.Helper()
	sc := s.prepare(t, name, ids...)
	sc.start(t, s, "w1", sc.j, nil)
	return sc
}

// request publishes body for the scenario's job under Msg-Id id and
// reports whether the server took it for a duplicate.
func (sc *scenario) request(t *testing.T, id, body string) bool {
	t.Helper()
	return sc.publish(t, sc.j.Name, id, body)
}

// publish sends a request body for job with a Msg-Id through JetStream and
// reports whether the server took it for a duplicate.
func (f *fleet) publish(t *testing.T, job, msgID, body string) bool {
	t.Helper()
	return f.publishAck(t, job, msgID, []byte(body)).Duplicate
}

// publishAck is publish's answer from the server, whose stream sequence
// names the request when its Msg-Id is unusable.
func (f *fleet) publishAck(t *testing.T, job, msgID string, body []byte) *nats.PubAck {
	t.Helper()
	js, err := f.nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	ack, err := js.Publish("certrotation.request."+job, body, nats.MsgId(msgID))
	if err != nil {
		t.Fatalf("publishing a %d-byte request (Msg-Id %.64s): %v", len(body), msgID, err)
	}
	return ack
}

// publishPlain sends a request body for job with a Msg-Id as a plain NATS
// client would: a core publish on the request subject, no JetStream answer.
func (f *fleet) publishPlain(t *testing.T, job, msgID string, body []byte) {
	t.Helper()
	msg := nats.NewMsg("certrotation.request." + job)
	msg.Header.Set(nats.MsgIdHdr, msgID)
	msg.Data = body
	if err := f.nc.PublishMsg(msg); err != nil {
		t.Fatalf("publishing request %s: %v", msgID, err)
	}
}

// wait waits until n events of the request were seen and returns them.
func (f *fleet) wait(t *testing.T, requestID string, n int) []contract.Event {
	t.Helper()
	return f.ev.Wait(t, requestID, n)
}

// await waits for a value on ch (or its close), failing with what when
// none came by the deadline.
func await[T any](t *testing.T, ch <-chan T, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(eventTimeout):
		t.Fatal(what)
	}
}

// stopFirst stops a worker that a test replaces; a fault may leave Stop an
// error to give, which is logged.
func stopFirst(t *testing.T, w *worker.Worker) {
	t.Helper()
	if err := w.Stop(context.Background()); err != nil {
		t.Logf("stopping the first worker: %v", err)
	}
}

// waitFor waits for an event of the request that matches, failing with
// what at the deadline, and returns the first such event.
func waitFor(t *testing.T, c *workertest.Events, requestID, what string, match func(contract.Event) bool) contract.Event {
	t.Helper()
	var found contract.Event
	seen := func() bool {
		for _, ev := range c.Of(requestID) {
			if match(ev) {
				found = ev
				return true
			}
		}
		return false
	}
	if !c.Until(eventTimeout, seen) {
		t.Fatalf("no %s event for request %s; events: %+v", what, requestID, c.Of(requestID))
	}
	return found
}
