package workerconfig

import (
	"testing"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// TestWorkerDefaultsAreTheConfigs: the worker keeps its own defaults (it
// does not import config), and they are the file's.
func TestWorkerDefaultsAreTheConfigs(t *testing.T) {
	t.Parallel()
	if worker.ShutdownTimeoutDefault != config.ShutdownTimeoutDefault {
		t.Errorf("worker's shutdown timeout %s, the config's %s", worker.ShutdownTimeoutDefault, config.ShutdownTimeoutDefault)
	}
	if worker.RequestConcurrencyDefault != config.RequestConcurrencyDefault {
		t.Errorf("worker's concurrency %d, the config's %d", worker.RequestConcurrencyDefault, config.RequestConcurrencyDefault)
	}
	if worker.HTTPListenOff != config.HTTPOff {
		t.Errorf("worker's listen off %q, the config's %q", worker.HTTPListenOff, config.HTTPOff)
	}
}

// TestFromFile: the worker gets the file's instance, subject prefix,
// concurrency, jobs, NATS section and HTTP address.
func TestFromFile(t *testing.T) {
	t.Parallel()
	c := &config.Config{
		Instance:    "replica-2",
		Concurrency: 7,
		NATS:        config.NATS{URL: "nats://127.0.0.1:4222", SubjectPrefix: "rot", Replicas: 3},
		HTTP:        config.HTTP{Listen: config.HTTPOff},
		Jobs:        []jobs.Job{{Name: "api"}},
	}
	wc := From(c)
	if wc.Instance != "replica-2" || wc.Concurrency != 7 || wc.SubjectPrefix != "rot" || wc.Replicas != 3 ||
		wc.HTTPListen != worker.HTTPListenOff || len(wc.Jobs) != 1 || wc.Jobs[0].Name != "api" {
		t.Errorf("From = %+v", wc)
	}
	c.HTTP.Listen = "127.0.0.1:9090"
	if wc := From(c); wc.HTTPListen != "127.0.0.1:9090" {
		t.Errorf("HTTPListen = %q", wc.HTTPListen)
	}
}
