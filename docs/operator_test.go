package docs_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// TestOnboardingOperatorMode runs mode 2 of onboarding step 4 with the real
// nsc (tools/nsc): operator, account, the three users from
// nsc-users.sh, a real nats-server in operator mode with the generated
// resolver config, setup.sh as the setup user and the publisher check.
// Then a worker runs with nats.creds and a publisher with
// nats-publisher.creds, as the configs of step 5 would say: the publisher
// requests a rotation, waits for its outcome, reads status, events and
// history, and may not consume requests.
func TestOnboardingOperatorMode(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nsc, nats-server and a worker")
	}
	s := newScenario(t)
	ran := 0
	for _, b := range blocks(t, "onboarding.md") {
		switch b.kind {
		case "run-operator":
			out, err := s.run(b)
			if err != nil {
				t.Fatalf("%s failed: %v\n--- block\n%s--- output\n%s", b.where(), err, b.body, out)
			}
			if want := expectArg(b.arg); want != "" && !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", b.where(), want, out)
			}
			ran++
		case "nats-server-operator":
			s.startNATS(b)
		}
	}
	if ran == 0 {
		t.Fatal("onboarding.md has no operator-mode block")
	}
	url := s.env["NATS_URL"]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	wcfg := natsOnlyConfig(t, url, filepath.Join(s.clone, "nats.creds"), "")
	wc := workerconfig.From(wcfg)
	// The story is about NATS users: the worker runs without Vault and Graph.
	wc.Rotator, wc.Bus = workertest.Succeeding, bustest.Config(t, wcfg)
	workertest.Start(t, worker.New, wc)

	pcfg := natsOnlyConfig(t, url, filepath.Join(s.clone, "nats-publisher.creds"), publisherInbox)
	po := bustest.Options(pcfg)
	po.Name = "publisher"
	opts, err := bus.ClientOptions(po)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := client.Dial(ctx, url, client.Options{Jobs: map[string]int{"contoso-api": 1}, NATS: opts})
	if err != nil {
		t.Fatalf("connecting with nats-publisher.creds: %v", err)
	}
	defer pub.Close()
	var got []string
	// Step 4's check left one request in the stream: its outcome may come
	// first, so wait for this request's own.
	err = pub.PublishAndWait(ctx, jobs.Request{Job: "contoso-api"}, time.Minute, func(e contract.Event) error {
		got = append(got, e.Data.Status)
		return nil
	})
	if err != nil || len(got) == 0 || got[len(got)-1] != contract.StatusSucceeded {
		t.Fatalf("the publisher's rotate --wait: outcomes %q, error %v", got, err)
	}
	if st, err := pub.Status(ctx); err != nil || len(st) != 1 {
		t.Errorf("the publisher's status: %+v, error %v", st, err)
	}
	if h, err := pub.History(ctx, "contoso-api"); err != nil || len(h) == 0 {
		t.Errorf("the publisher's history: %d events, error %v", len(h), err)
	}

	// The publisher may not take requests off the stream (asked on its own
	// reply prefix, so that the refusal is the stream's, not a lost reply).
	nc, err := nats.Connect(url, nats.UserCredentials(filepath.Join(s.clone, "nats-publisher.creds")), nats.CustomInboxPrefix(publisherInbox),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	dctx, dcancel := context.WithTimeout(ctx, 2*time.Second)
	defer dcancel()
	if _, err := js.CreateConsumer(dctx, "CERTROTATION_REQUESTS", jetstream.ConsumerConfig{Durable: "sniffer"}); err == nil {
		t.Error("the operator-mode publisher may create a consumer on the requests")
	}
}

// publisherInbox is the publisher's reply prefix in the docs' publisher
// config: nats-permissions.conf lets it read only replies there.
const publisherInbox = "_INBOX_publisher"

// natsOnlyConfig is a worker config whose NATS user is the creds file
// given (and reply prefix, empty for the default), with one job and no
// Vault or Graph calls (workertest.Succeed rotates).
func natsOnlyConfig(t *testing.T, url, creds, inboxPrefix string) *config.Config {
	t.Helper()
	doc := fmt.Sprintf(`nats: {url: %q, creds_file: %q, inbox_prefix: %q}
vault: {address: "http://127.0.0.1:1", auth: {method: token, token: unused}}
tenants:
  contoso: {tenant_id: %s, client_id: %s, client_secret: unused}
jobs:
  - name: contoso-api
    source: {path: b2c/contoso-api}
    connectors: [{tenant: contoso, id: %s}]
http: {listen: "off"}
`, url, creds, inboxPrefix, recordedTenant, recordedApp, docsConnector)
	cfg, err := config.Parse([]byte(doc), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}
