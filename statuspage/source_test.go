package statuspage

import (
	"bufio"
	"context"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testsignal"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

const waitTimeout = testsignal.WaitTimeout

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// memSource is a Source over a map: what the worker's status view holds,
// without NATS. Tests put outcomes into it as the worker records them.
type memSource struct {
	mu      sync.Mutex
	entries map[string]*Entry
	records map[string]*contract.StatusRecord // what each key's next outcome builds on
	changed chan struct{}
	done    chan struct{}
	stopOne sync.Once
	ready   bool
	creds   []Credential
	history func(job, target string, since time.Time, limit int) ([]contract.Event, error)
}

func newMemSource() *memSource {
	return &memSource{entries: map[string]*Entry{}, records: map[string]*contract.StatusRecord{},
		changed: make(chan struct{}), done: make(chan struct{}), ready: true}
}

// record stores each outcome under its status key, as the worker's record
// step does (contract.NextStatus over the key's previous record), and
// wakes the live streams once.
func (s *memSource) record(at time.Time, outcomes ...jobs.Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, o := range outcomes {
		key := contract.StatusKeyOf(o)
		rec := contract.NextStatus(s.records[key], o, at)
		s.records[key] = &rec
		s.entries[key] = &Entry{Key: key, Record: RecordOf(rec), Updated: at}
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *memSource) Snapshot() ([]*Entry, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Entry, 0, len(s.entries))
	for _, k := range slices.Sorted(maps.Keys(s.entries)) {
		out = append(out, s.entries[k])
	}
	return out, s.changed
}

func (s *memSource) Ready() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ready
}

func (s *memSource) History(_ context.Context, job, target string, since time.Time, limit int) ([]contract.Event, error) {
	if s.history == nil {
		return nil, nil
	}
	return s.history(job, target, since, limit)
}

func (s *memSource) Credentials() []Credential {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.creds
}

func (s *memSource) Done() <-chan struct{} { return s.done }

// stop ends the source as a stopping worker does.
func (s *memSource) stop() { s.stopOne.Do(func() { close(s.done) }) }

// succeeded is one succeeded outcome per connector of job (or of only),
// uploading the certificate thumb, valid until 2027-01-01.
func succeeded(job jobs.Job, requestID string, only ...string) []jobs.Outcome {
	var out []jobs.Outcome
	for _, c := range job.Connectors {
		if len(only) > 0 && !slices.Contains(only, c.ID) {
			continue
		}
		out = append(out, jobs.Outcome{Job: job.Name, Tenant: c.Tenant, Connector: c.ID, RequestID: requestID,
			Status: contract.StatusSucceeded, Final: true, TargetKind: jobs.KindConnector,
			Certificate: &jobs.CertInfo{Thumbprint: workertest.Thumbprint, Subject: "CN=api.contoso.example",
				NotAfter: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), SourceVersion: 3}})
	}
	return out
}

// newTestPage is the page over src for the jobs (testJob when none).
func newTestPage(src Source, jj ...jobs.Job) *page {
	if len(jj) == 0 {
		jj = []jobs.Job{workertest.Job()}
	}
	return newPage(Options{Source: src, Jobs: jj, Instance: "test-1", RemoveAfter: 24 * time.Hour})
}

func newTestServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// openLive serves the page of a new memSource for the jobs (testJob when
// none) and opens /events; the stream ends with the returned context,
// which ends with the test or at its deadline.
func openLive(t *testing.T, jj ...jobs.Job) (*memSource, context.Context, <-chan sseEvent) {
	t.Helper()
	src := newMemSource()
	srv := newTestServer(t, newTestPage(src, jj...))
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("Content-Type = %q", ct)
	}
	return src, ctx, readEvents(ctx, resp)
}

// sseEvent is one server-sent event: its name and its data lines joined.
type sseEvent struct{ name, data string }

// readEvents yields each event of the stream until it or ctx ends.
func readEvents(ctx context.Context, resp *http.Response) <-chan sseEvent {
	ch := make(chan sseEvent)
	go func() {
		defer close(ch)
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
		var ev sseEvent
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				ev.name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			case line == "" && data != nil:
				ev.data = strings.Join(data, "\n")
				select {
				case ch <- ev:
				case <-ctx.Done():
					return
				}
				ev, data = sseEvent{}, nil
			}
		}
	}()
	return ch
}

// nextRow waits for the next row event, skipping meta events; any other
// event fails the test.
func nextRow(t *testing.T, ctx context.Context, events <-chan sseEvent) string {
	t.Helper()
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("stream ended before a row event")
			}
			switch ev.name {
			case "meta":
				continue
			case "row":
				return ev.data
			}
			t.Fatalf("a %q event; want only rows and meta:\n%s", ev.name, ev.data)
		case <-ctx.Done():
			t.Fatal("no row event before the deadline")
		}
	}
}
