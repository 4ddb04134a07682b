package worker

import (
	"context"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// testutilCount sums the samples of a metric family in the worker's registry.
func testutilCount(t testing.TB, w *Worker, name string) float64 {
	t.Helper()
	families, err := w.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

func TestHTTPEndpoints(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		out := workertest.Succeed(job, req)
		out[1].Status, out[1].Reason, out[1].Certificate = contract.StatusSkipped, "<script>alert(1)</script>", nil
		out[1].Previous = &jobs.CertInfo{Thumbprint: thumb, NotAfter: out[0].Certificate.NotAfter}
		return out
	})
	w := newWorker(t, connect(t, r.Server), testApp(), rot)
	srv := newHTTPTestServer(t, w)
	if code, _ := testkit.Get(t, srv, "/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz before Start = %d", code)
	}
	if code, _ := testkit.Get(t, srv, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz = %d", code)
	}
	if err := w.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	if code, _ := testkit.Get(t, srv, "/readyz"); code != http.StatusOK {
		t.Errorf("/readyz after Start = %d", code)
	}
	r.Request(t, jobName, workertest.RequestBody(), "http-1")
	rot.NextCall(t)
	waitSettled(t, w, "request settled")
	workertest.Eventually(t, "handler returned", func() bool { return testutilCount(t, w, "certrotator_requests_inflight") == 0 })

	_, metrics := testkit.Get(t, srv, "/metrics")
	for _, want := range []string{
		`certrotator_rotations_total{outcome="succeeded",rotation_job="contoso-api"} 1`,
		`certrotator_rotations_total{outcome="skipped",rotation_job="contoso-api"} 1`,
		`certrotator_certificate_expiry_timestamp_seconds{connector="` + conn1 + `",rotation_job="contoso-api"} 1.7987616e+09`,
		`certrotator_certificate_expiry_timestamp_seconds{connector="` + conn2 + `",rotation_job="contoso-api"} 1.7987616e+09`,
		`certrotator_connector_failing{connector="` + conn1 + `",rotation_job="contoso-api"} 0`,
		`certrotator_rotation_duration_seconds_count{rotation_job="contoso-api"} 1`,
		`certrotator_requests_inflight 0`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if regexp.MustCompile(`[{,]job="`).MatchString(metrics) {
		t.Errorf("/metrics has a label named job:\n%s", metrics)
	}
	code, page := testkit.Get(t, srv, "/")
	if code != http.StatusOK || !strings.Contains(page, thumb) || !strings.Contains(page, conn2) ||
		!strings.Contains(page, "&lt;script&gt;") || strings.Contains(page, "<script>") {
		t.Errorf("status page (%d):\n%s", code, page)
	}
	if code, _ := testkit.Get(t, srv, "/nope"); code != http.StatusNotFound {
		t.Errorf("/nope = %d", code)
	}
}

func TestHTTPListens(t *testing.T) {
	t.Parallel()
	w := newRig(t).start(t, listening(), workertest.NewRecorder(nil))
	if w.http.srv == nil {
		t.Fatal("no HTTP server")
	}
	if err := w.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
}
