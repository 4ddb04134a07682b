package jobs

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/certrotator/certrotator/bundle"
	"github.com/certrotator/certrotator/contract"
)

// ConnectorConcurrencyDefault bounds how many connectors of one job are
// handled at once. It is a generous cap: the Graph client paces every call
// at the tenant's rate limit, which is what really bounds a run.
const ConnectorConcurrencyDefault = 64

// Warnings remembers which expiry warnings were already published, so that
// each threshold is announced once per certificate. First reports whether
// key is new (and records it). A nil Warnings announces every time.
type Warnings interface {
	First(ctx context.Context, key string) (bool, error)
}

// Config configures a Rotator. Source and Connector are required.
type Config struct {
	Source      Source
	Connector   Connector
	Warnings    Warnings         // optional; defaults to none (every warning is announced)
	NowFunc     func() time.Time // the only clock; defaults to time.Now
	Concurrency int              // connectors at once per run; defaults to ConnectorConcurrencyDefault
	// InFlight bounds the connectors handled at once across all the runs
	// of the Rotator (each run still at most Concurrency): a worker
	// running 64 requests of big jobs at once otherwise holds 64×64
	// connectors' calls, goroutines and buffers at the same instant, for
	// no more throughput than Graph's rate limits allow. 0: no such bound.
	InFlight int
	Logger   *slog.Logger // defaults to a discarding logger

	// Issuer, Writer and Versions are needed by jobs with source.pki (see
	// ensureIssued); *vaultsrc.Client implements all three. Default to none:
	// such a job then fails with CodeIssuerMissing.
	Issuer   Issuer
	Writer   Writer
	Versions VersionLister

	// Prober calls the API behind a connector for jobs with a probe;
	// nil skips probes.
	Prober Prober

	// KeySets reads and uploads to B2C policy key containers, for jobs with
	// keysets; *connector.Client implements it. Defaults to none: such a
	// job's key sets then fail with CodeKeySetsMissing.
	KeySets KeySets
}

// Rotator runs the rotation pipeline. It is safe for concurrent use; the
// only state it keeps between runs is the bundles the scheduled runs of one
// tick share (see bundleCache).
type Rotator struct {
	cfg     Config
	log     *slog.Logger
	slots   chan struct{} // Config.InFlight's; nil without one
	cache   bundleCache
	decodes decodeCache
	lists   listCache
	// decode is bundle.DecodeContext; tests count its calls.
	decode func(ctx context.Context, pfx []byte, password string) (*bundle.Bundle, error)
}

// New checks cfg and fills its defaults. It returns an error when Source or
// Connector is missing or Concurrency is negative.
func New(cfg Config) (*Rotator, error) {
	switch {
	case cfg.Source == nil:
		return nil, errors.New("jobs: Config.Source is required")
	case cfg.Connector == nil:
		return nil, errors.New("jobs: Config.Connector is required")
	case cfg.Concurrency < 0:
		return nil, fmt.Errorf("jobs: Config.Concurrency %d is negative", cfg.Concurrency)
	case cfg.InFlight < 0:
		return nil, fmt.Errorf("jobs: Config.InFlight %d is negative", cfg.InFlight)
	}
	cfg.Concurrency = cmp.Or(cfg.Concurrency, ConnectorConcurrencyDefault)
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	r := &Rotator{cfg: cfg, log: cfg.Logger.With("component", "jobs"), decode: bundle.DecodeContext}
	if cfg.InFlight > 0 {
		r.slots = make(chan struct{}, cfg.InFlight)
	}
	return r, nil
}

func (r *Rotator) now() time.Time { return r.cfg.NowFunc() }

// Rotate runs one request for one job and returns one Outcome per connector
// in play, each followed by its expiring warning when there is one. A request
// naming a connector the job does not bind yields a single bad_request
// outcome. It never returns an empty slice, and it reports every failure in
// the outcomes rather than as an error.
//
// The bundle is read, decoded, validated and (when job.Reencode) re-encoded
// once per run; each connector is then read once and, when the rules call
// for it, uploaded to once. The read is the re-check that keeps a retried or
// duplicated request from uploading a thumbprint twice.
func (r *Rotator) Rotate(ctx context.Context, job Job, req Request) []Outcome {
	req = normalize(req)
	refs, err := selectConnectors(job, req)
	keySets := selectKeySets(job, req)
	if err != nil {
		o := BadRequest(job.Name, req, err)
		r.logOutcome(ctx, o)
		return []Outcome{o}
	}
	rn := &run{job: job, req: req}
	rn.b, _ = r.prepareRun(ctx, job, req, false)
	rn.lists = r.listTenants(ctx, job, req, refs)
	per := forEach(ctx, r.cfg.Concurrency, r.slots, refs,
		func(ctx context.Context, ref ConnectorRef) []Outcome { return r.rotateOne(ctx, rn, ref) },
		func(ref ConnectorRef, err error) []Outcome {
			o := rn.outcome(ref, result{status: contract.StatusFailed, err: err}, 0)
			r.logOutcome(ctx, o)
			return []Outcome{o}
		})
	out := make([]Outcome, 0, len(refs)+len(keySets)+1)
	for _, list := range per {
		out = append(out, list...)
	}
	return append(out, r.rotateKeySets(ctx, rn, keySets)...)
}

// BadRequest builds the single failed outcome for a request that failed
// before any connector was in play: class permanent, code bad_request, final,
// with an empty connector.
func BadRequest(job string, req Request, err error) Outcome {
	req = normalize(req)
	msg := "bad request"
	if err != nil {
		msg = err.Error()
	}
	return Outcome{
		Job:           job,
		RequestID:     req.ID,
		Trigger:       req.Trigger,
		RequestReason: req.Reason,
		RequestedBy:   req.RequestedBy,
		Status:        contract.StatusFailed,
		Error:         &ErrorInfo{Code: contract.CodeBadRequest, Class: ClassPermanent, Message: msg},
		Attempt:       req.Attempt,
		Final:         true,
	}
}

// normalize fills the request's defaults: trigger "event", attempt 1.
func normalize(req Request) Request {
	req.Trigger = cmp.Or(req.Trigger, contract.TriggerEvent)
	req.Attempt = max(req.Attempt, 1)
	return req
}

// selectConnectors returns the job's connectors the request puts in play, in
// the job's order, each once even when the job binds it twice.
func selectConnectors(job Job, req Request) ([]ConnectorRef, error) {
	if req.Version < 0 {
		return nil, fmt.Errorf("version %d is not a KV version (1 or more)", req.Version)
	}
	if len(job.Connectors) == 0 && len(job.KeySets) == 0 {
		return nil, fmt.Errorf("job %q binds no connector", job.Name)
	}
	var named map[string]bool // nil: every connector
	for _, id := range req.Connectors {
		if _, ok := job.KeySet(id); ok {
			// A request names targets of either kind (see selectKeySets).
			if named == nil {
				named = map[string]bool{}
			}
			continue
		}
		ref, ok := job.Connector(id)
		if !ok {
			return nil, fmt.Errorf("job %q binds no connector %q", job.Name, id)
		}
		if named == nil {
			named = map[string]bool{}
		}
		named[strings.ToLower(ref.ID)] = true
	}
	return inPlay(job.Connectors, func(c ConnectorRef) string { return c.ID }, named), nil
}

// inPlay returns the targets of all whose id named holds (every one when
// named is nil), in all's order and each once, even when the job binds it
// twice. named holds ids in lower case: Graph's ids compare without case.
func inPlay[T any](all []T, id func(T) string, named map[string]bool) []T {
	seen := map[string]bool{}
	var out []T
	for _, t := range all {
		key := strings.ToLower(id(t))
		if (named == nil || named[key]) && !seen[key] {
			seen[key] = true
			out = append(out, t)
		}
	}
	return out
}

// forEach calls fn for every ref with at most n calls at once, and at most
// one per free slot of shared (a Rotator's InFlight, across its runs; nil:
// no such bound), and returns the results in refs' order. A panic in fn
// becomes onPanic's result for that ref, because a panic in these
// goroutines would escape the worker's per-message recovery and stop the
// process.
func forEach[T any](ctx context.Context, n int, shared chan struct{}, refs []ConnectorRef,
	fn func(context.Context, ConnectorRef) T, onPanic func(ConnectorRef, error) T) []T {
	out := make([]T, len(refs))
	sem := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i, ref := range refs {
		// The turns are taken before the goroutine starts, so that a run of
		// thousands of connectors holds n goroutines, not one (and its
		// stack) per connector waiting for a turn. Once ctx is done the
		// rest go without one: fn sees the canceled context and fails fast
		// without I/O.
		turn := take(ctx, sem)
		slot := turn && take(ctx, shared)
		wg.Go(func() {
			if turn {
				defer func() { <-sem }()
			}
			if slot && shared != nil {
				defer func() { <-shared }()
			}
			defer func() {
				if v := recover(); v != nil {
					// The panic value may hold anything an adapter had in
					// hand (bytes, a password): report its type, not its text.
					out[i] = onPanic(ref, Permanent("internal_panic", fmt.Errorf("handling connector %s: panic of type %T", ref.ID, v)))
				}
			}()
			out[i] = fn(ctx, ref)
		})
	}
	wg.Wait()
	return out
}

// take waits for a free slot of sem (nil: there is always one) and
// reports whether it got one before ctx ended.
func take(ctx context.Context, sem chan struct{}) bool {
	if sem == nil {
		return true
	}
	select {
	case sem <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}
