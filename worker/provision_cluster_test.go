package worker

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
)

// TestReplicasStartedTogetherOnFreshCluster: two replicas with
// nats.replicas 3 start at the same moment against a three-node cluster
// that has just formed, as a Deployment starts its pods. Both come up
// (neither gives up on a slow or concurrent provisioning) and every
// request is answered once.
func TestReplicasStartedTogetherOnFreshCluster(t *testing.T) {
	t.Parallel()
	c := testkit.NewCluster(t, 3)
	jj := make([]jobs.Job, 3)
	for i := range jj {
		jj[i] = testJob()
		jj[i].Name = fmt.Sprintf("job-%d", i)
		jj[i].Connectors = jj[i].Connectors[:1]
	}
	app := testApp(jj...)
	app.NATS.Replicas = 3
	dial := func(url string) *nats.Conn {
		nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
		return nc
	}
	workers := make([]*Worker, 2)
	for i := range workers {
		workers[i] = newWorker(t, dial(c.Servers[i].ClientURL()+","+c.URLs()), app, newFake(nil))
	}
	start := make(chan struct{})
	errs := make([]error, len(workers))
	var wg sync.WaitGroup
	for i, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 3*waitTimeout)
			defer cancel()
			errs[i] = w.Start(ctx)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: starting worker: %v", i, err)
		}
	}
	js, err := jetstream.New(dial(c.Servers[2].ClientURL() + "," + c.URLs()))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for k := range 3 {
		for _, j := range jj {
			id := fmt.Sprintf("%s-r%d", j.Name, k)
			ids = append(ids, id)
			publishRetrying(t, js, contract.RequestSubject("certrotation", j.Name), `{"job":"`+j.Name+`"}`, id)
		}
	}
	finals := waitFinals(t, js, len(ids))
	for _, id := range ids {
		if finals[id] != 1 {
			t.Errorf("request %s: %d final outcomes, want 1", id, finals[id])
		}
	}
}

// TestProvisioningWaitsAndReadyzSaysWhy: a replica that cannot provision
// yet (two nodes of three down: JetStream has no quorum) does not give up:
// it keeps trying with backoff while /readyz names what it waits for, and
// stops trying only when its start is cancelled.
func TestProvisioningWaitsAndReadyzSaysWhy(t *testing.T) {
	t.Parallel()
	c := testkit.NewCluster(t, 3)
	c.Servers[1].Shutdown()
	c.Servers[2].Shutdown()
	app := testApp()
	app.NATS.Replicas = 3
	nc, err := nats.Connect(c.Servers[0].ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	w := newWorker(t, nc, app, newFake(nil), func(w *Worker) {
		w.conn.attemptTimeout = time.Second
		w.conn.retryBackoff = retry.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	})
	srv := httptest.NewServer(w.Handler())
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan error, 1)
	go func() { started <- w.Start(ctx) }()
	var body string
	eventually(t, "/readyz names the stream provisioning waits for", func() bool {
		_, body = get(t, srv, "/readyz")
		return strings.Contains(body, "nats: provisioning stream "+contract.RequestsStream+": ") && strings.Contains(body, "(retrying)")
	})
	select {
	case err := <-started:
		t.Fatalf("start returned while a node was down: %v", err)
	default:
	}
	cancel()
	select {
	case err := <-started:
		if err == nil {
			t.Fatal("a cancelled start reported success")
		}
	case <-time.After(waitTimeout):
		t.Fatal("start did not end after its context was cancelled")
	}
}
