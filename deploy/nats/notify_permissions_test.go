package nats_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workerconfig"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/notify"
	"github.com/certrotator/certrotator/worker"
)

// TestNotifyRunsWithTheWorkerUser: the notifications, on the worker's
// connection as the worker user of nats-permissions.conf, create their
// durable consumer and bucket, fetch, record and ack: a rotation's outcome
// reaches a webhook.
func TestNotifyRunsWithTheWorkerUser(t *testing.T) {
	t.Parallel()
	url, workerUser, publisher := startServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	got := make(chan contract.Event, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev contract.Event
		b, _ := io.ReadAll(r.Body)
		if r.URL.Path == "/hook" && json.Unmarshal(b, &ev) == nil {
			got <- ev
		}
	}))
	defer hook.Close()

	app := appConfig(t, url, workerUser.seedFile, "")
	b := bustest.Config(t, app)
	wc := workerconfig.From(app)
	wc.Rotator, wc.Bus = workertest.Succeeding, b
	workertest.Start(t, worker.New, wc)
	// Slack-like sinks record what they sent; a webhook and a Slack sink
	// together use every permission the service needs.
	n, err := notify.New(notify.Config{
		Sinks: []config.NotifySink{
			{Name: "audit", Kind: config.NotifyWebhook, URL: hook.URL + "/hook", SigningKey: make([]byte, 32), On: []string{contract.StatusSucceeded}},
			{Name: "oncall", Kind: config.NotifySlack, URL: hook.URL + "/slack", On: []string{contract.StatusSucceeded}},
		},
		Conn: b.Conn(), Quiet: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(ctx); err != nil {
		t.Fatalf("starting notifications as the worker user: %v", err)
	}
	defer func() { _ = n.Stop(context.Background()) }()

	pub, err := dialAs(ctx, url, appConfig(t, url, publisher.seedFile, publisherInbox), make(chan error, 16))
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	if err := pub.PublishAndWait(ctx, jobs.Request{Job: "contoso-api"}, 30*time.Second, func(contract.Event) error { return nil }); err != nil {
		t.Fatalf("rotate --wait: %v", err)
	}
	var ev contract.Event
	select {
	case ev = <-got:
		if ev.Data.Connector != connectorID {
			t.Errorf("webhook got %+v, want the outcome of %s", ev, connectorID)
		}
	case <-ctx.Done():
		t.Fatal("the webhook got nothing")
	}
	// Both sinks ack (a denied ack would leave the event pending), and the
	// Slack sink recorded what it sent first.
	js, err := jetstream.New(b.Conn())
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"audit", "oncall"} {
		for {
			c, err := js.Consumer(ctx, contract.ResultsStream, notify.ConsumerPrefix+name)
			if err != nil {
				t.Fatalf("consumer of sink %s: %v", name, err)
			}
			if info := c.CachedInfo(); info.NumAckPending == 0 && info.NumPending == 0 && info.Delivered.Stream > 0 {
				break
			}
			select {
			case <-ctx.Done():
				t.Fatalf("sink %s never acked its event", name)
			case <-time.After(20 * time.Millisecond):
			}
		}
	}
	kv, err := js.KeyValue(ctx, notify.SentBucket)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kv.Get(ctx, "oncall."+ev.ID); err != nil {
		t.Errorf("the slack sink did not record event %s: %v", ev.ID, err)
	}
}
