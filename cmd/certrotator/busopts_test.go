package main

import (
	"reflect"
	"testing"

	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/config"
)

// TestBusOptionsMatchBustest: the tests open the worker's bus with
// bustest.Options; it must map a config's nats section as cmd does.
func TestBusOptionsMatchBustest(t *testing.T) {
	t.Parallel()
	cfg := &config.Config{Instance: "replica 1", NATS: config.NATS{
		URL: "nats://a:4222,nats://b:4222", User: "u", Password: "p", Token: "t", CredsFile: "c.creds", NKeyFile: "n.seed",
		InboxPrefix: "_INBOX_worker", TLS: config.TLS{CAFile: "ca.pem", CertFile: "cert.pem", KeyFile: "key.pem"},
		StoreDir: "/var/lib/certrotator", Listen: "127.0.0.1:4222",
	}}
	if got, want := workerBusOptions(cfg, nil), bustest.Options(cfg); !reflect.DeepEqual(got, want) {
		t.Fatalf("cmd maps the nats section to\n%+v\ntestkit to\n%+v", got, want)
	}
}
