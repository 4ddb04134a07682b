package worker

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
)

// TestHistorySaysWhatIsMissing: when the results stream cannot be read,
// /history names what is missing, not the NATS error's text.
func TestHistorySaysWhatIsMissing(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	w := r.start(t, testApp(), workertest.NewRecorder(nil))
	srv := newHTTPTestServer(t, w)
	if err := r.JS.DeleteStream(context.Background(), contract.ResultsStream); err != nil {
		t.Fatal(err)
	}
	code, body := testkit.Get(t, srv, "/history?job="+jobName+"&connector="+conn1)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "a stream, consumer or bucket of the contract is missing") ||
		strings.Contains(body, "nats:") || strings.Contains(body, "not found") {
		t.Errorf("/history without the results stream = %d\n%s", code, body)
	}
}
