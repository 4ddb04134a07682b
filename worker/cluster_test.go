package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// idempotentGraph is a Rotator (through workertest.Func) that behaves as Graph does with the
// worker's re-read: the first run of a request uploads, any later run of it
// finds the thumbprint and skips. It counts uploads per request.
type idempotentGraph struct {
	mu      sync.Mutex
	uploads map[string]int
	gate    chan struct{} // closed to let runs finish
}

func (g *idempotentGraph) rotate(ctx context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return workertest.Fail(jobs.ClassTransient, "canceled")(job, req)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.uploads[req.ID]++
	out := workertest.Succeed(job, req)
	if g.uploads[req.ID] > 1 {
		g.uploads[req.ID]--
		for i := range out {
			out[i].Status, out[i].Reason = contract.StatusSkipped, contract.ReasonAlreadyPresent
		}
	}
	return out
}

// TestClusterNodeLoss: two workers on a three-node cluster with R3 streams;
// a node is killed while requests are in flight. Every request is answered
// with a final outcome, none is lost, none uploads twice.
func TestClusterNodeLoss(t *testing.T) {
	t.Parallel()
	c := testkit.NewCluster(t, 3)
	jj := make([]jobs.Job, 6)
	for i := range jj {
		jj[i] = workertest.Job()
		jj[i].Name = fmt.Sprintf("job-%d", i)
		jj[i].Connectors = jj[i].Connectors[:1]
		jj[i].MaxAttempts = 8 // the default: a failover must not use up a request
	}
	app := testApp(jj...)
	app.NATS.Replicas = 3
	g := &idempotentGraph{uploads: map[string]int{}, gate: make(chan struct{})}
	dial := func(url string) *nats.Conn {
		nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	// Each worker prefers another node, and knows them all for failover.
	for i := range 2 {
		urls := c.Servers[i].ClientURL() + "," + c.URLs()
		startWorker(t, dial(urls), app, workertest.Func(g.rotate))
	}
	js, err := jetstream.New(dial(c.Servers[2].ClientURL() + "," + c.URLs()))
	if err != nil {
		t.Fatal(err)
	}
	const perJob = 5
	var ids []string
	for k := range perJob {
		for _, j := range jj {
			id := fmt.Sprintf("%s-r%d", j.Name, k)
			ids = append(ids, id)
			publishRetrying(t, js, contract.RequestSubject("certrotation", j.Name), `{"job":"`+j.Name+`"}`, id)
		}
	}
	// Requests are in flight (held at the gate): lose the node that leads
	// the requests stream, then let the runs finish.
	victim := streamLeader(t, c, js)
	victim.Shutdown()
	close(g.gate)

	finals := waitFinals(t, js, len(ids))
	for _, id := range ids {
		if finals[id] != 1 {
			t.Errorf("request %s: %d final outcomes, want 1", id, finals[id])
		}
		g.mu.Lock()
		if n := g.uploads[id]; n != 1 {
			t.Errorf("request %s uploaded %d times, want 1", id, n)
		}
		g.mu.Unlock()
	}
}

// publishRetrying publishes through a cluster that may be electing leaders.
func publishRetrying(t *testing.T, js jetstream.JetStream, subject, body, id string) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := js.Publish(ctx, subject, []byte(body), jetstream.WithMsgID(id))
		cancel()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("publishing %s: %v", id, err)
		}
	}
}

// streamLeader returns the server leading the requests stream.
func streamLeader(t *testing.T, c *testkit.Cluster, js jetstream.JetStream) interface{ Shutdown() } {
	t.Helper()
	st, err := js.Stream(context.Background(), contract.RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	info, err := st.Info(context.Background())
	if err != nil || info.Cluster == nil {
		t.Fatalf("stream info: %v", err)
	}
	if info.Config.Replicas != 3 {
		t.Fatalf("requests stream has %d replicas, want 3 (nats.replicas)", info.Config.Replicas)
	}
	for _, s := range c.Servers {
		if s.Name() == info.Cluster.Leader {
			return s
		}
	}
	t.Fatalf("no server named %q", info.Cluster.Leader)
	return nil
}

// waitFinals reads the results stream until want requests have a final
// outcome, and returns the final outcomes per request id. It polls the
// replicated stream: that is the external state the test is about. A
// request whose delivery died with the node comes back after the ack wait
// (30s), so the deadline allows for that.
func waitFinals(t *testing.T, js jetstream.JetStream, want int) map[string]int {
	t.Helper()
	deadline := time.Now().Add(contract.AckWait + 3*waitTimeout)
	for {
		finals := map[string]int{}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		cons, err := js.OrderedConsumer(ctx, contract.ResultsStream, jetstream.OrderedConsumerConfig{})
		if err == nil {
			batch, ferr := cons.FetchNoWait(10000)
			if ferr == nil {
				for m := range batch.Messages() {
					var ev contract.Event
					if json.Unmarshal(m.Data(), &ev) == nil && ev.Data.Final && !strings.HasSuffix(m.Subject(), "._") {
						finals[ev.Data.RequestID]++
					}
				}
			}
		}
		cancel()
		if len(finals) >= want || time.Now().After(deadline) {
			return finals
		}
		time.Sleep(100 * time.Millisecond) // polling the replicated stream
	}
}
