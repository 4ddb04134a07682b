package statuspage

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// A request that failed before any connector is listed apart and leaves
// the connector rows as they were.
func TestStatusPageShowsBadRequestsApart(t *testing.T) {
	t.Parallel()
	src := newMemSource()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	src.record(now, succeeded(workertest.Job(), "ok-1")...)
	src.record(now.Add(time.Minute), jobs.Outcome{Job: workertest.JobName, RequestID: "bad-1", Status: contract.StatusFailed, Final: true,
		Error: &jobs.ErrorInfo{Code: contract.CodeBadRequest, Class: jobs.ClassPermanent, Message: "unknown field bogus"}})
	_, page := testkit.Get(t, newTestServer(t, newTestPage(src)), "/")
	workertest.BadRequestApart(t, page)
}

// The event stream sends the section at connect, then only the rows a
// rotation changed: a run of one connector sends that connector's row, not
// the page, and not the other connector's row.
func TestStatusEventsSendChangedRows(t *testing.T) {
	t.Parallel()
	src, ctx, events := openLive(t)
	if first := <-events; first.name != "status" || !strings.Contains(first.data, "no outcome yet") {
		t.Fatalf("first event %s:\n%s", first.name, first.data)
	}
	src.record(time.Now(), succeeded(workertest.Job(), "sse-1", workertest.Conn1)...)
	row := nextRow(t, ctx, events)
	if strings.Count(row, "<tr") != 1 || strings.Contains(row, workertest.Conn2) || !strings.Contains(row, `data-outcome="succeeded"`) {
		t.Fatalf("a row event that is not conn1's one succeeded row:\n%s", row)
	}
}

// Clients that open /events and never read are held only up to the cap:
// the rest are refused with a 503 that says why, and the goroutines the
// streams hold stay bounded however many clients come. Not parallel: it
// counts the process's goroutines.
func TestLiveStreamsCapped(t *testing.T) {
	src := newMemSource()
	p := newTestPage(src)
	const limit, clients = 8, 300
	p.live.max = limit
	srv := newTestServer(t, p)
	before := runtime.NumGoroutine()
	var held, refused int
	for i := range clients {
		conn, err := net.Dial("tcp", srv.Listener.Addr().String())
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		t.Cleanup(func() { _ = conn.Close() })
		if _, err := fmt.Fprint(conn, "GET /events HTTP/1.1\r\nHost: status\r\n\r\n"); err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		// The status line only: a held stream's client reads nothing more.
		_ = conn.SetReadDeadline(time.Now().Add(waitTimeout))
		br := bufio.NewReader(conn)
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("client %d: reading the answer: %v", i, err)
		}
		switch resp.StatusCode {
		case http.StatusOK:
			held++
		case http.StatusServiceUnavailable:
			refused++
			body, _ := io.ReadAll(resp.Body)
			if !strings.Contains(string(body), "too many live views") || !resp.Close {
				t.Errorf("refusal: %q (connection closed: %t)", body, resp.Close)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("a refused stream's connection stays open: %v", err)
			}
		default:
			t.Fatalf("client %d: status %d", i, resp.StatusCode)
		}
	}
	if held != limit || refused != clients-limit || p.live.streams() != limit {
		t.Errorf("held %d, refused %d, open %d; want %d held, %d refused", held, refused, p.live.streams(), limit, clients-limit)
	}
	// Two goroutines per held stream (its handler and the connection's
	// reader), and slack for the server's own.
	grown := runtime.NumGoroutine() - before
	t.Logf("%d clients, cap %d: %d held, %d refused, goroutines %d -> %d", clients, limit, held, refused, before, before+grown)
	if grown > 3*limit+20 {
		t.Errorf("goroutines grew by %d with %d clients (cap %d)", grown, clients, limit)
	}
	src.stop() // ends the held streams before the server closes
}

// The history page lists what the source returns for the target, asks for
// the last 30 days and at most 50 events, refuses a wildcard, and tells a
// reader what is missing, never the error's own text.
func TestHistory(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	src := newMemSource()
	var asked []string
	var mu sync.Mutex
	src.history = func(job, target string, since time.Time, limit int) ([]contract.Event, error) {
		mu.Lock()
		defer mu.Unlock()
		asked = append(asked, fmt.Sprintf("%s %s %s %d", job, target, since.Format(time.DateOnly), limit))
		if target == "missing" {
			return nil, &Unavailable{Reason: "a stream, consumer or bucket of the contract is missing",
				Err: errors.New("nats: stream not found at nats://10.1.2.3:4222")}
		}
		var out []contract.Event
		for _, id := range []string{"hist-2", "hist-1"} {
			out = append(out, contract.Event{Time: now, Data: jobs.Outcome{Job: job, Connector: target, RequestID: id, Status: contract.StatusSucceeded}})
		}
		return out, nil
	}
	p := newPage(Options{Source: src, Jobs: []jobs.Job{workertest.Job()}, Now: func() time.Time { return now }})
	srv := newTestServer(t, p)
	code, page := testkit.Get(t, srv, "/history?job="+workertest.JobName+"&connector="+workertest.Conn1)
	first, second := strings.Index(page, "hist-2"), strings.Index(page, "hist-1")
	if code != http.StatusOK || first < 0 || second < 0 || first > second {
		t.Errorf("history (%d) not as the source gave it:\n%s", code, page)
	}
	if want := workertest.JobName + " " + workertest.Conn1 + " 2026-11-01 50"; len(asked) != 1 || asked[0] != want {
		t.Errorf("asked the source %q, want %q", asked, want)
	}
	if code, _ := testkit.Get(t, srv, "/history?job="+workertest.JobName+"&connector=*"); code != http.StatusBadRequest {
		t.Errorf("a wildcard connector = %d, want 400", code)
	}
	code, body := testkit.Get(t, srv, "/history?job="+workertest.JobName+"&connector=missing")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "a stream, consumer or bucket of the contract is missing") ||
		strings.Contains(body, "10.1.2.3") || strings.Contains(body, "not found") {
		t.Errorf("/history with the source failing = %d\n%s", code, body)
	}
}

func TestDaysLeftClasses(t *testing.T) {
	t.Parallel()
	day := 24 * time.Hour
	thresholds := []time.Duration{30 * day, 14 * day, 7 * day, day}
	for _, tc := range []struct {
		left        time.Duration
		text, class string
	}{
		{90 * day, "90 days", "ok"},
		{30*day + time.Hour, "30 days", "ok"},
		{30 * day, "30 days", "warn"},
		{5 * day, "5 days", "warn"},
		{day, "1 day", "crit"},
		{time.Hour, "0 days", "crit"},
		{-time.Hour, "expired", "crit"},
	} {
		text, class := daysLeft(tc.left, thresholds)
		if text != tc.text || class != tc.class {
			t.Errorf("daysLeft(%s) = %q, %q; want %q, %q", tc.left, text, class, tc.text, tc.class)
		}
	}
	if _, class := daysLeft(2*day, nil); class != "ok" {
		t.Errorf("with warnings off, 2 days = %s, want ok", class)
	}
}

// When the source stops, open event streams end, so that the HTTP
// server's shutdown does not wait on them.
func TestStatusEventsEndAtStop(t *testing.T) {
	t.Parallel()
	src, ctx, events := openLive(t)
	<-events
	src.stop()
	for {
		select {
		case _, open := <-events:
			if !open {
				return
			}
		case <-ctx.Done():
			t.Fatal("the event stream outlived its source")
		}
	}
}

// The page shows who asked for a run and why once outcomes carry it.
func TestStatusPageShowsAuditFields(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	o := succeeded(workertest.Job(), "audit-1", workertest.Conn1)[0]
	o.Trigger, o.RequestReason, o.RequestedBy = contract.TriggerEvent, "new bundle written", "ci-pipeline"
	src := newMemSource()
	src.record(now, o)
	entries, _ := src.Snapshot()
	var b strings.Builder
	if err := pageTemplates.ExecuteTemplate(&b, "status", newTestPage(src).buildStatusPage(entries, now)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"by ci-pipeline", "new bundle written", contract.TriggerEvent, "2027-01-01 00:00 UTC", "31 days"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, b.String())
		}
	}
}

// A job that is not in this replica's config (removed, or another
// deployment's) is shown on the page, marked, with when it goes.
func TestStatusPageShowsUnconfiguredTargets(t *testing.T) {
	t.Parallel()
	other := workertest.Job()
	other.Name = "other-api"
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	src := newMemSource()
	src.record(now, succeeded(workertest.Job(), "a-1")...)
	_, page := testkit.Get(t, newTestServer(t, newTestPage(src, other)), "/")
	if !strings.Contains(page, workertest.Conn2) || !strings.Contains(page, "not in this replica") ||
		!strings.Contains(page, "removed after 2026-12-02 00:00 UTC") {
		t.Errorf("page of the replica without the job:\n%s", page)
	}
}

// A client that stops reading its stream is cut off by the per-write
// deadline once its socket is full, and its slot is freed: without the
// deadline the handler would block in Write for as long as the client
// keeps the connection.
func TestLiveStreamCutsOffANonReader(t *testing.T) {
	t.Parallel()
	src := newMemSource()
	p := newTestPage(src)
	p.live.writeTimeout = 200 * time.Millisecond
	p.live.ended.Init(t)
	srv := httptest.NewUnstartedServer(p)
	srv.Config.ConnState = func(c net.Conn, st http.ConnState) {
		if tc, ok := c.(*net.TCPConn); ok && st == http.StateNew {
			_ = tc.SetWriteBuffer(4096) // full after a few events
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.(*net.TCPConn).SetReadBuffer(4096)
	if _, err := fmt.Fprint(conn, "GET /events HTTP/1.1\r\nHost: status\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	// Changes, each a row of a few KB, until the stream's write times out.
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		o := succeeded(workertest.Job(), "slow-reader", workertest.Conn1)[0]
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			o.RequestedBy = fmt.Sprintf("%d-%s", i, strings.Repeat("x", 4000))
			src.record(time.Now(), o)
		}
	})
	err = p.live.ended.WaitOrTimeout(t)
	close(done)
	wg.Wait()
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the stream ended with %v, want its write deadline", err)
	}
	if n := p.live.streams(); n != 0 {
		t.Errorf("%d streams still open", n)
	}
}

// The worker's own credentials are listed with their days left, classed
// by the thresholds the worker warns at, and the reason when the expiry is
// not known.
func TestStatusPageShowsCredentials(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	src := newMemSource()
	src.creds = []Credential{
		{Kind: "entra_client_secret", Name: "Entra client secret", Tenant: "contoso", Expires: now.Add(10 * day), Checked: now,
			WarnBefore: []time.Duration{30 * day, 14 * day, 7 * day, day}},
		{Kind: "vault_approle_secret_id", Error: "lookup refused", Checked: now},
	}
	var b strings.Builder
	if err := pageTemplates.ExecuteTemplate(&b, "status", newTestPage(src).buildStatusPage(nil, now)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Entra client secret", "tenant contoso", `class="days warn"><div>10 days`, "vault_approle_secret_id", "unknown", "lookup refused"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("section lacks %q:\n%s", want, b.String())
		}
	}
}

// TestStatusPageShowsWindow: the page says when a job's change window
// opens, or that it is open and until when.
func TestStatusPageShowsWindow(t *testing.T) {
	t.Parallel()
	p := newTestPage(newMemSource(), workertest.WindowJob(t))
	for _, tc := range []struct {
		now  time.Time
		want string
	}{
		{time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), "window opens 2026-12-02 08:00 UTC"},
		{time.Date(2026, 12, 1, 8, 30, 0, 0, time.UTC), "window open until 2026-12-01 09:00 UTC"},
	} {
		var b strings.Builder
		if err := pageTemplates.ExecuteTemplate(&b, "status", p.buildStatusPage(nil, tc.now)); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(b.String(), tc.want) {
			t.Errorf("at %s the page lacks %q:\n%s", tc.now, tc.want, b.String())
		}
	}
	var b strings.Builder
	if err := pageTemplates.ExecuteTemplate(&b, "status", newTestPage(newMemSource()).buildStatusPage(nil, time.Now())); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "window") {
		t.Errorf("a job without windows shows one:\n%s", b.String())
	}
}
