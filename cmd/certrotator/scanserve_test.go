package main

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// TestInventoryServedWorkerWarns runs `certrotator run` as wired for
// production (a real Vault, an embedded NATS, the fixture's emulated
// tenant with inventory: true): at start the worker scans the tenant and
// publishes certrotator.certificate.expiring for the unmanaged connector 5
// days from expiry (7d) and the unmanaged key container 20 days out (30d).
func TestInventoryServedWorkerWarns(t *testing.T) {
	t.Parallel()
	f := newScanFixture(t)
	v := vaulttest.Start(t)
	dir := t.TempDir()
	head := fmt.Sprintf("instance: inventory-test\nvault: {address: %s, auth: {method: token, token_file: %s}}\n", v.Addr, testkit.WriteFile(t, dir, "token", v.Token))
	path := f.writeConfig(t, dir, head, "    inventory: true\n")
	listen := addNATSListen(t, path)
	startServing(t, path)

	nc, err := nats.Connect("nats://" + listen)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := js.OrderedConsumer(t.Context(), contract.ResultsStream, jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{contract.ResultSubject(contract.SubjectPrefixDefault, contract.InventoryJob, ">")},
	})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for range 2 {
		msg, err := cons.Next(jetstream.FetchMaxWait(testkit.WaitTimeout))
		if err != nil {
			t.Fatalf("waiting for the inventory's warnings (have %v): %v", got, err)
		}
		var ev contract.Event
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type != "certrotator.certificate.expiring" || ev.Data.Job != contract.InventoryJob || ev.Data.Tenant != "contoso" {
			t.Errorf("event on %s = %+v", msg.Subject(), ev)
		}
		got[ev.Data.Connector] = ev.Data.Threshold
	}
	if got[scanSoon] != "7d" || got["B2C_1A_Forgotten"] != "30d" {
		t.Errorf("warnings %v, want %s at 7d and B2C_1A_Forgotten at 30d", got, scanSoon)
	}
}
