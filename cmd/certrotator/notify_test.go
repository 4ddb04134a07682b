package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
)

// TestRunNotifiesSlack: `run` with a notify section starts the
// notifications beside the worker; a rotation's outcome reaches a Slack
// incoming webhook (a real HTTP server on loopback) with the connector.
func TestRunNotifiesSlack(t *testing.T) {
	t.Parallel()
	got := make(chan []byte, 10)
	slack := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- b
	}))
	defer slack.Close()
	const kvPath = "b2c/notify"
	v := vaultHolding(t, kvPath)
	conn := freshConn(t)
	path := cliConfig(t, v, kvPath, conn)
	urlFile := testkit.WriteFile(t, t.TempDir(), "slack-url", slack.URL+"/services/T0/B0/secret\n")
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString("notify:\n  - {name: oncall, kind: slack, url_file: " + urlFile + ", on: [succeeded, failed]}\n"); err != nil {
		t.Fatal(err)
	}
	f.Close()
	serveNATS(t, path)

	code, out, errOut := runCLI(t, nil, "rotate", "-c", path, "cli-job", "--wait", "30s")
	if code != exitOK {
		t.Fatalf("rotate --wait: exit %d out %q err %q", code, out, errOut)
	}
	select {
	case b := <-got:
		var msg struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		if err := json.Unmarshal(b, &msg); err != nil || len(msg.Blocks) == 0 || !strings.Contains(string(b), conn) {
			t.Errorf("slack got %s (%v), want Block Kit naming connector %s", b, err, conn)
		}
	case <-time.After(testkit.WaitTimeout + time.Minute):
		t.Fatal("slack heard nothing of the rotation")
	}
}
