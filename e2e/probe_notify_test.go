package e2e

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/notify"
	"github.com/certrotator/certrotator/probe/probetest"
)

// TestRejectedRotationReachesTheOwner is issue 18's promise end to end: the
// API pins thumbprints and does not know the new one yet, so the worker
// uploads nothing and the connector stays exactly as it was; the API's
// owners hear of it on their Slack sink within a minute, with the default
// grouping (quiet 10 s, window 40 s), and the message names the code.
func TestRejectedRotationReachesTheOwner(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	api := probetest.Pinning(t)
	before := s.graph.Certificates(tenantID, connectorIDs[0])
	p := startProbing(t, s, api, "owner")

	got := make(chan string, 4)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- string(body)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(slack.Close)
	svc, err := notify.New(notify.Config{
		Sinks: []config.NotifySink{{Name: "api-owners", Kind: config.NotifySlack, URL: slack.URL + "/hook", On: config.NotifyOnDefault()}},
		Conn:  p.nc,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = svc.Stop(context.Background()) })

	p.ask(t, "owner-1", false)
	first := p.wait(t, "owner-1", 1)[0]
	if first.Data.Error == nil || first.Data.Error.Code != jobs.CodeAPIRejectsCertificate {
		t.Fatalf("first event %+v, want api_rejects_certificate", first)
	}
	select {
	case msg := <-got:
		if !strings.Contains(msg, jobs.CodeAPIRejectsCertificate) || !strings.Contains(msg, p.j.Name) {
			t.Errorf("the Slack message does not name the job and the code: %s", msg)
		}
	case <-time.After(time.Minute):
		t.Fatal("the sink heard nothing within a minute of the rejection")
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 0 {
		t.Errorf("uploads %v after a rejection", got)
	}
	if after := s.graph.Certificates(tenantID, connectorIDs[0]); !reflect.DeepEqual(before, after) {
		t.Errorf("the connector changed after a rejection: before %+v, after %+v", before, after)
	}
}
