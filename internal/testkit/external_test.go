package testkit

import (
	"context"
	"strings"
	"testing"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// TestExternalServer runs under `make test-nats-oldest` (ExternalServerEnv
// set): the handle NATS returns reaches the external process, which has
// JetStream on, and the options testkit translates reach it too.
func TestExternalServer(t *testing.T) {
	if !External() {
		t.Skipf("%s is not set", ExternalServerEnv)
	}
	s := NATSWith(t, func(o *server.Options) { o.MaxPayload = 4096 })
	if s.Running() {
		t.Fatal("the handle is a started embedded server, not the external process")
	}
	nc := Connect(t, s)
	if got := nc.MaxPayload(); got != 4096 {
		t.Errorf("max payload = %d, want 4096 (the translated option)", got)
	}
	if !strings.HasPrefix(nc.ConnectedServerVersion(), "2.") {
		t.Errorf("server version %q", nc.ConnectedServerVersion())
	}
	t.Logf("external nats-server %s", nc.ConnectedServerVersion())
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := js.AccountInfo(context.Background()); err != nil {
		t.Fatalf("JetStream on the external server: %v", err)
	}
}

// TestExternalConfigTranslatesOptions checks the config file written for
// the external binary, and that what it cannot pass on is named.
func TestExternalConfigTranslatesOptions(t *testing.T) {
	conf := externalConfig(&server.Options{JetStream: true, StoreDir: "/tmp/js", Username: "ops", Password: "pw", MaxPayload: 1024}, 4222)
	for _, want := range []string{"listen: 127.0.0.1:4222", `store_dir: "/tmp/js"`, `user: "ops"`, "max_payload: 1024"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q:\n%s", want, conf)
		}
	}
	if untranslated(&server.Options{}) != "" {
		t.Error("plain options reported as untranslated")
	}
	if untranslated(&server.Options{Nkeys: []*server.NkeyUser{{Nkey: "U"}}}) == "" {
		t.Error("nkey users not reported as untranslated")
	}
}
