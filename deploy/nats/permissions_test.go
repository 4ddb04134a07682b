// Package nats_test proves that nats-permissions.conf is enough and no more:
// a real NATS server loads it, a real worker runs with the worker user, and
// the publisher-only user can request rotations and read their outcomes
// but change nothing else.
package nats_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/nats-io/nkeys"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/client"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

const (
	connectorID = "7b3a0c1e-aaaa-bbbb-cccc-000000000001"
	// publisherInbox is the publisher's reply prefix: nats-permissions.conf
	// lets it subscribe to its own replies only.
	publisherInbox = "_INBOX_publisher"
	// opDeadline bounds each NATS round trip of the test.
	opDeadline = 10 * time.Second
)

// user is one nkey user of the permissions file.
type user struct {
	placeholder string // the public key placeholder it replaces
	seedFile    string
}

// startServer runs a NATS server whose accounts are nats-permissions.conf
// with the placeholders of its three users (worker, publisher, setup)
// replaced by fresh nkeys, and returns its URL and the worker and the
// publisher users.
func startServer(t *testing.T) (url string, workerUser, publisher *user) {
	t.Helper()
	workerUser = &user{placeholder: "UREPLACE_WITH_THE_WORKER_USER_PUBLIC_NKEY"}
	publisher = &user{placeholder: "UREPLACE_WITH_THE_PUBLISHER_USER_PUBLIC_NKEY"}
	setup := &user{placeholder: "UREPLACE_WITH_THE_SETUP_USER_PUBLIC_NKEY"}
	dir := t.TempDir()
	perms, err := os.ReadFile("nats-permissions.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := string(perms)
	for _, u := range []*user{workerUser, publisher, setup} {
		kp, err := nkeys.CreateUser()
		if err != nil {
			t.Fatal(err)
		}
		pub, _ := kp.PublicKey()
		seed, _ := kp.Seed()
		if !strings.Contains(conf, u.placeholder) {
			t.Fatalf("nats-permissions.conf has no %s", u.placeholder)
		}
		conf = strings.ReplaceAll(conf, u.placeholder, pub)
		u.seedFile = testkit.WriteFile(t, dir, u.placeholder+".nk", string(seed))
	}
	testkit.WriteFile(t, dir, "permissions.conf", conf)
	main := testkit.WriteFile(t, dir, "server.conf", fmt.Sprintf("listen: \"127.0.0.1:-1\"\njetstream {store_dir: %q}\ninclude ./permissions.conf\n", filepath.Join(dir, "js")))
	opts, err := server.ProcessConfigFile(main)
	if err != nil {
		t.Fatalf("loading nats-permissions.conf into a server config: %v", err)
	}
	opts.NoSigs = true
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatal(err)
	}
	go s.Start()
	t.Cleanup(s.Shutdown)
	if !s.ReadyForConnections(opDeadline) {
		t.Fatal("the NATS server did not start")
	}
	return s.ClientURL(), workerUser, publisher
}

// appConfig is a config for the given NATS user (and reply prefix, empty
// for the default) with one job, one tenant and a Vault that is never
// called.
func appConfig(t *testing.T, url, seedFile, inboxPrefix string) *config.Config {
	t.Helper()
	doc := fmt.Sprintf(`instance: perm-test
nats: {url: %q, nkey_file: %q, inbox_prefix: %q}
vault: {address: "http://127.0.0.1:1", auth: {method: token, token: unused}}
tenants:
  contoso:
    tenant_id: 00000000-0000-0000-0000-000000000000
    client_id: 11111111-1111-1111-1111-111111111111
    client_secret: unused
jobs:
  - name: contoso-api
    source: {path: b2c/contoso-api}
    connectors: [{tenant: contoso, id: %s}]
http: {listen: "off"}
`, url, seedFile, inboxPrefix, connectorID)
	cfg, err := config.Parse([]byte(doc), nil)
	if err != nil {
		t.Fatalf("parsing the test config: %v", err)
	}
	return cfg
}

func TestWorkerAndPublisherPermissions(t *testing.T) {
	t.Parallel()
	url, workerUser, publisher := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// The worker user provisions the streams, consumer and buckets and runs.
	app := appConfig(t, url, workerUser.seedFile, "")
	wc := workerconfig.From(app)
	// Every connector rotated, so that the worker publishes outcomes and
	// status without Vault or Graph.
	wc.Rotator, wc.Bus = workertest.Succeeding, bustest.Config(t, app)
	workertest.Start(t, worker.New, wc)

	// The publisher requests a rotation and reads its outcome, the status
	// and the event history.
	asyncErrs := make(chan error, 16)
	pub, err := dialAs(ctx, url, appConfig(t, url, publisher.seedFile, publisherInbox), asyncErrs)
	if err != nil {
		t.Fatalf("connecting as the publisher: %v", err)
	}
	defer pub.Close()
	var got []string
	err = pub.PublishAndWait(ctx, jobs.Request{Job: "contoso-api"}, 30*time.Second, func(e contract.Event) error {
		got = append(got, e.Data.Status)
		return nil
	})
	if err != nil || len(got) != 1 || got[0] != contract.StatusSucceeded {
		t.Fatalf("publisher's rotate --wait: outcomes %q, error %v", got, err)
	}
	status, err := pub.Status(ctx)
	if err != nil || len(status) != 1 || status[0].Outcome.Connector != connectorID {
		t.Errorf("publisher's status: %+v, error %v", status, err)
	}
	var events int
	if err := pub.Events(ctx, 0, false, func(contract.Event) error { events++; return nil }); err != nil || events != 1 {
		t.Errorf("publisher's events: %d events, error %v", events, err)
	}
	if hist, err := pub.History(ctx, "contoso-api"); err != nil || len(hist) != 1 {
		t.Errorf("publisher's history: %d events, error %v", len(hist), err)
	}

	// Each read above ends with its consumer removed or left to expire; none
	// may have tripped a permission (the CLI would print it).
	// The calls after Status were round trips on the same connection, so a
	// violation of its teardown has arrived by now.
	for drained := false; !drained; {
		select {
		case err := <-asyncErrs:
			t.Errorf("the publisher's rotate/status/events/history caused %v", err)
		default:
			drained = true
		}
	}

	makeConsumers(t, url, workerUser.seedFile)
	assertPublisherCannotChangeAnything(t, url, publisher.seedFile)
}

// deniedWait is how long a denied request waits for an answer that never
// comes: the server drops a publish the user may not make.
const deniedWait = 2 * time.Second

// assertPublisherCannotChangeAnything tries what a publisher must not do:
// forge an outcome, write the status, take a lock, delete or reconfigure a
// stream, consume requests, listen to other clients' replies. Each try has
// its own deadline, so that one slow denial cannot expire the next try
// before it starts. The connection takes its replies on the publisher's own
// prefix, as the CLI does: on the default one every request would time out
// for want of a reply, and prove nothing.
func assertPublisherCannotChangeAnything(t *testing.T, url, seedFile string) {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(seedFile)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, opt, nats.CustomInboxPrefix(publisherInbox), nats.PermissionErrOnSubscribe(true),
		nats.ErrorHandler(func(*nats.Conn, *nats.Subscription, error) {}))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	request := func(subject, body string) func(context.Context) error {
		return func(ctx context.Context) error {
			_, err := nc.RequestWithContext(ctx, subject, []byte(body))
			return err
		}
	}
	denied := map[string]func(context.Context) error{
		"forge an outcome": func(ctx context.Context) error {
			_, err := js.Publish(ctx, "certrotation.result.contoso-api."+connectorID, []byte("{}"))
			return err
		},
		"write the status": request("$KV.certrotation-status.contoso-api.x", "{}"),
		"take a lock":      request("$KV.certrotation-locks.contoso-api", "x"),
		"consume requests": request("$JS.API.CONSUMER.MSG.NEXT.CERTROTATION_REQUESTS.certrotator", `{"batch":1}`),
		"delete the requests stream": func(ctx context.Context) error {
			return js.DeleteStream(ctx, "CERTROTATION_REQUESTS")
		},
		"reconfigure the results stream": func(ctx context.Context) error {
			_, err := js.UpdateStream(ctx, jetstream.StreamConfig{Name: "CERTROTATION_RESULTS", Subjects: []string{"x.>"}})
			return err
		},
		"purge the results stream": func(ctx context.Context) error {
			s, err := js.Stream(ctx, "CERTROTATION_RESULTS")
			if err != nil {
				return err
			}
			return s.Purge(ctx)
		},
		// The worker's own consumer: deleting it would stop every replica.
		"delete the worker's consumer": func(ctx context.Context) error {
			return js.DeleteConsumer(ctx, "CERTROTATION_REQUESTS", "certrotator")
		},
		// A notification sink's durable consumer on the results, or another
		// client's reader: the publisher may delete no consumer at all.
		"delete a consumer on the results": func(ctx context.Context) error {
			return js.DeleteConsumer(ctx, "CERTROTATION_RESULTS", sinkConsumer)
		},
		"create a consumer on the requests": func(ctx context.Context) error {
			_, err := js.CreateConsumer(ctx, "CERTROTATION_REQUESTS", jetstream.ConsumerConfig{Durable: "sniffer", FilterSubject: "certrotation.request.>"})
			return err
		},
		"read a lock": request("$JS.API.DIRECT.GET.KV_certrotation-locks.$KV.certrotation-locks.contoso-api", ""),
		"read a run's outcome record": func(ctx context.Context) error {
			_, err := js.KeyValue(ctx, "certrotation-outcomes")
			return err
		},
		"subscribe to requests":            subscription(nc, "certrotation.request.>"),
		"subscribe to the bucket subjects": subscription(nc, "$KV.>"),
		// The shared reply prefix: the worker's pulled requests, KV reads
		// and API answers pass there.
		"subscribe to every client's replies": subscription(nc, "_INBOX.>"),
		"subscribe to one reply of another":   subscription(nc, "_INBOX.abc.def"),
		"subscribe to every reply prefix":     subscription(nc, ">"),
	}
	errs := make(chan string, len(denied))
	for what, try := range denied {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), deniedWait)
			defer cancel()
			if err := try(ctx); !isDenial(err) {
				errs <- fmt.Sprintf("the publisher may %s (answer: %v)", what, err)
				return
			}
			errs <- ""
		}()
	}
	for range denied {
		if msg := <-errs; msg != "" {
			t.Error(msg)
		}
	}
}

// sinkConsumer is a durable consumer on the results, made by the worker
// user as a notification sink would be, that the publisher must not delete.
const sinkConsumer = "sink-oncall"

// subscription tries a subscription; the server answers a denied one with
// an asynchronous permissions violation, which a connection made with
// PermissionErrOnSubscribe returns from NextMsg.
func subscription(nc *nats.Conn, subject string) func(context.Context) error {
	return func(ctx context.Context) error {
		sub, err := nc.SubscribeSync(subject)
		if err != nil {
			return err
		}
		defer func() { _ = sub.Unsubscribe() }()
		if err := nc.FlushWithContext(ctx); err != nil {
			return err
		}
		// The violation arrives before the flush's pong.
		if _, err := sub.NextMsg(50 * time.Millisecond); errors.Is(err, nats.ErrPermissionViolation) {
			return err
		}
		return nil
	}
}

// isDenial: the server drops a request the user may not publish (so it
// times out) or refuses a subscription. Any other error (a consumer not
// found, a bad request) would mean the server accepted the call.
func isDenial(err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nats.ErrTimeout) ||
		errors.Is(err, nats.ErrPermissionViolation)
}

// makeConsumers creates, as the worker user, what the publisher will try
// to delete: a notification sink's durable consumer on the results, so
// that a refusal cannot be "not found".
func makeConsumers(t *testing.T, url, workerSeed string) {
	t.Helper()
	opt, err := nats.NkeyOptionFromSeed(workerSeed)
	if err != nil {
		t.Fatal(err)
	}
	nc, err := nats.Connect(url, opt)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	ctx, cancel := context.WithTimeout(context.Background(), opDeadline)
	defer cancel()
	if _, err := js.CreateConsumer(ctx, "CERTROTATION_RESULTS", jetstream.ConsumerConfig{Durable: sinkConsumer, FilterSubject: "certrotation.result.>"}); err != nil {
		t.Fatalf("creating the sink's consumer as the worker: %v", err)
	}
}

// dialAs connects the CLI's client with the credentials of cfg, as the CLI
// does.
// Every asynchronous error (a permissions violation) goes to asyncErrs:
// the CLI prints those to stderr, so a command the user may run must not
// cause one.
func dialAs(ctx context.Context, url string, cfg *config.Config, asyncErrs chan<- error) (*client.Conn, error) {
	bo := bustest.Options(cfg)
	bo.Name = "publisher"
	opts, err := bus.ClientOptions(bo)
	if err != nil {
		return nil, err
	}
	opts = append(opts, nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
		select {
		case asyncErrs <- err:
		default:
		}
	}))
	return client.Dial(ctx, url, client.Options{Jobs: map[string]int{"contoso-api": 1}, NATS: opts})
}
