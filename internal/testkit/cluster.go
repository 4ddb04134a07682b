package testkit

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// Cluster is n JetStream servers routed to each other on loopback, as a
// production NATS cluster is.
type Cluster struct {
	Servers []*server.Server
}

// NewCluster starts n servers named n1..nN in one cluster and waits until
// JetStream has a meta leader. They are shut down at the end of the test.
func NewCluster(tb testing.TB, n int) *Cluster {
	tb.Helper()
	ports := make([]int, n)
	for i := range ports {
		ports[i] = FreePort(tb)
	}
	var routes []*url.URL
	for _, p := range ports {
		u, err := url.Parse(fmt.Sprintf("nats-route://127.0.0.1:%d", p))
		if err != nil {
			tb.Fatal(err)
		}
		routes = append(routes, u)
	}
	c := &Cluster{}
	for i := range n {
		opts := &server.Options{
			ServerName: fmt.Sprintf("n%d", i+1),
			Host:       "127.0.0.1", Port: -1,
			JetStream: true, StoreDir: tb.TempDir(),
			NoLog: true, NoSigs: true,
			Cluster: server.ClusterOpts{Name: "certrotator-test", Host: "127.0.0.1", Port: ports[i]},
			Routes:  routes,
		}
		s, err := server.NewServer(opts)
		if err != nil {
			tb.Fatalf("creating cluster server %d: %v", i+1, err)
		}
		s.Start()
		c.Servers = append(c.Servers, s)
		tb.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	}
	for _, s := range c.Servers {
		if !s.ReadyForConnections(20 * time.Second) {
			tb.Fatalf("cluster server %s not ready", s.Name())
		}
	}
	deadline := time.Now().Add(WaitTimeout)
	for c.leader() == nil {
		if time.Now().After(deadline) {
			tb.Fatal("the cluster elected no JetStream meta leader")
		}
		time.Sleep(25 * time.Millisecond) // polling an external system's state: no event to wait on
	}
	return c
}

func (c *Cluster) leader() *server.Server {
	for _, s := range c.Servers {
		if s.Running() && s.JetStreamIsLeader() {
			return s
		}
	}
	return nil
}

// URLs is every server's client URL, comma-separated, as nats.Connect takes
// them.
func (c *Cluster) URLs() string {
	var u []string
	for _, s := range c.Servers {
		u = append(u, s.ClientURL())
	}
	return strings.Join(u, ",")
}
