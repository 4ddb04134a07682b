package bus_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/testkit"
)

func dial(t *testing.T, url string) *bus.Bus {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return bustest.On(t, nc)
}

// TestReplicasProvisionTogetherOnFreshCluster: two replicas with
// nats.replicas 3 provision at the same moment against a three-node
// cluster that has just formed, as a Deployment starts its pods. Both
// succeed (neither gives up on a slow or concurrent provisioning) and
// everything of the contract is there, replicated three times.
func TestReplicasProvisionTogetherOnFreshCluster(t *testing.T) {
	t.Parallel()
	c := testkit.NewCluster(t, 3)
	buses := []*bus.Bus{dial(t, c.Servers[0].ClientURL()+","+c.URLs()), dial(t, c.Servers[1].ClientURL()+","+c.URLs())}
	start := make(chan struct{})
	errs := make([]error, len(buses))
	var wg sync.WaitGroup
	for i, b := range buses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 3*testkit.WaitTimeout)
			defer cancel()
			o := provisionOptions()
			o.Replicas, o.AttemptTimeout = 3, bus.ProvisionAttemptTimeout
			_, errs[i] = bus.Provision(ctx, b, o)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: provisioning: %v", i, err)
		}
	}
	third := dial(t, c.Servers[2].ClientURL()+","+c.URLs())
	ctx, cancel := context.WithTimeout(context.Background(), testkit.WaitTimeout)
	defer cancel()
	for _, f := range bus.Verify(ctx, third.JetStream(), bus.VerifyOptions{Prefix: contract.SubjectPrefixDefault, MaxDeliver: 3}) {
		if f.State != bus.Present {
			t.Errorf("%s: state %d (%s %v), want present", f.Object(), f.State, f.Detail, f.Err)
		}
	}
	st, err := third.JetStream().Stream(ctx, contract.RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	if r := st.CachedInfo().Config.Replicas; r != 3 {
		t.Errorf("requests stream replicas %d, want 3", r)
	}
}

// TestProvisioningWaitsAndSaysWhy: a replica that cannot provision yet
// (two nodes of three down: JetStream has no quorum) does not give up: it
// keeps trying with backoff while telling Waiting what it waits for, and
// stops trying only when its context is cancelled.
func TestProvisioningWaitsAndSaysWhy(t *testing.T) {
	t.Parallel()
	c := testkit.NewCluster(t, 3)
	c.Servers[1].Shutdown()
	c.Servers[2].Shutdown()
	nc, err := nats.Connect(c.Servers[0].ClientURL(), nats.MaxReconnects(-1))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	b := bustest.On(t, nc)
	waits := make(chan string, 100)
	o := provisionOptions()
	o.Replicas, o.AttemptTimeout = 3, time.Second
	o.Backoff = retry.Backoff{Base: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	o.Waiting = func(what string, err error) {
		if err != nil {
			select {
			case waits <- what + ": " + bus.Describe(err):
			default:
			}
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := bus.Provision(ctx, b, o)
		done <- err
	}()
	select {
	case w := <-waits:
		if !strings.HasPrefix(w, "stream "+contract.RequestsStream+": ") {
			t.Errorf("waiting for %q, want the requests stream", w)
		}
	case err := <-done:
		t.Fatalf("provisioning returned while two nodes were down: %v", err)
	case <-time.After(testkit.WaitTimeout):
		t.Fatal("provisioning never said what it waits for")
	}
	cancel()
	select {
	case err := <-done:
		if err == nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("a cancelled provisioning returned %v, want the cancellation", err)
		}
	case <-time.After(testkit.WaitTimeout):
		t.Fatal("provisioning did not end after its context was cancelled")
	}
}
