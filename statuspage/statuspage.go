// Package statuspage is the worker's status page, an http.Handler: the
// shared status of every connector and key set at /, what changes streamed
// to open pages at /events, one target's recent outcomes at /history, the
// worker's own credentials, and the page's stylesheet and script under
// /static/. It reads everything through a Source, so that it needs neither
// NATS nor a worker to run or to test: the worker implements Source and
// mounts the handler beside /metrics, /healthz and /readyz, which stay its
// own.
package statuspage

import (
	"cmp"
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// Source is what the page reads. The worker implements it over its watched
// copy of the status bucket; the page's tests over a map.
type Source interface {
	// Snapshot returns the status entries sorted by key, and a channel
	// closed at the next change. The entries are shared, not copied: the
	// page never changes them.
	Snapshot() ([]*Entry, <-chan struct{})
	// Ready reports whether the worker takes requests (the page's header).
	Ready() bool
	// History returns the outcome events of one target (a connector, a
	// key set's keyset-<id>, or _ for requests that failed before any)
	// since since, newest first, at most limit. An error whose cause can
	// be told to an unauthenticated reader is an *Unavailable.
	History(ctx context.Context, job, target string, since time.Time, limit int) ([]contract.Event, error)
	// Credentials are the last check of the worker's own credentials.
	Credentials() []Credential
	// Done is closed when the source stops: open live streams end then, so
	// that a server's shutdown does not wait on them.
	Done() <-chan struct{}
}

// Credential is one of the worker's own credentials as last checked.
type Credential struct {
	Kind   string // the kind label of the worker's credential metric
	Name   string // the kind as the page says it
	Tenant string // the config's tenant key; "" for Vault's
	// Expires is when it stops working; zero when it never does (Never)
	// or is not known (Error).
	Expires time.Time
	Never   bool
	Error   string // why the expiry is not known; holds no secret
	Checked time.Time
	// WarnBefore are the thresholds at which the worker warns: they class
	// the days left as the job's certificates are classed.
	WarnBefore []time.Duration
}

// Unavailable is a Source error the page may show: Reason says what is
// missing in words safe for an unauthenticated reader; Err, which may
// name hosts, goes to the log only.
type Unavailable struct {
	Reason string
	Err    error
}

func (u *Unavailable) Error() string {
	if u.Err == nil {
		return u.Reason
	}
	return u.Reason + ": " + u.Err.Error()
}
func (u *Unavailable) Unwrap() error { return u.Err }

// Options are what the page needs.
type Options struct {
	// Source is what the page reads. Required.
	Source Source
	// Jobs are the configured jobs, in config order: one row per connector
	// and key set, their schedules, windows and warning thresholds.
	Jobs []jobs.Job
	// Instance names the replica in the page's header.
	Instance string
	// Logger defaults to a discarding logger.
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
	// RemoveAfter is how long after its last update the worker removes
	// the entry of a target not configured here; the page says when that
	// will be. Zero says nothing.
	RemoveAfter time.Duration
}

// page is the handler. Its fields are set once by newPage.
type page struct {
	src         Source
	jobList     []jobs.Job
	jobs        map[string]jobs.Job
	instance    string
	log         *slog.Logger
	now         func() time.Time
	removeAfter time.Duration
	live        liveFeed // what the open /events streams share; see sse.go
	mux         *http.ServeMux
}

// New returns the status page's handler for GET /, /events, /history and
// /static/. It panics without a Source: that is a wiring mistake, not
// input.
func New(opts Options) http.Handler { return newPage(opts) }

func newPage(opts Options) *page {
	if opts.Source == nil {
		panic("statuspage: Options.Source is required")
	}
	p := &page{
		src:         opts.Source,
		jobList:     opts.Jobs,
		jobs:        make(map[string]jobs.Job, len(opts.Jobs)),
		instance:    opts.Instance,
		log:         cmp.Or(opts.Logger, slog.New(slog.DiscardHandler)),
		now:         opts.Now,
		removeAfter: opts.RemoveAfter,
		live:        liveFeed{max: liveStreamsDefault},
	}
	if p.now == nil {
		p.now = time.Now
	}
	for _, j := range opts.Jobs {
		p.jobs[j.Name] = j
	}
	p.mux = http.NewServeMux()
	p.mux.HandleFunc("GET /{$}", p.serveStatusPage)
	p.mux.HandleFunc("GET /events", p.serveEvents)
	p.mux.HandleFunc("GET /history", p.serveHistory)
	p.mux.Handle("GET /static/", http.StripPrefix("/static/", http.HandlerFunc(serveStatic)))
	return p
}

func (p *page) ServeHTTP(rw http.ResponseWriter, r *http.Request) { p.mux.ServeHTTP(rw, r) }
