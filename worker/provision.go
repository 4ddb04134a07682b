package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/jobs"
)

// provision creates the streams, the consumer and the buckets, or brings
// existing ones to the contract. It is idempotent: replicas starting
// together all run it, and each step is create, or find and verify. It
// keeps what an operator may have tuned on existing objects (replicas,
// placement, size limits) and only enforces the contract's fields. A step
// that fails in a way time can heal (no answer, no leader yet, peers not
// all up) is retried with backoff until ctx ends; see provisioner.do.
func provision(ctx context.Context, nc *nats.Conn, prefix string, jj []jobs.Job, p *provisioner) (*bus, error) {
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, fmt.Errorf("opening JetStream: %w", err)
	}
	b := &bus{nc: nc, js: js}
	var adv jetstream.Stream
	steps := []struct {
		what string
		run  func(context.Context) error
	}{
		{"stream " + contract.RequestsStream, func(ctx context.Context) (err error) {
			b.requests, err = p.stream(ctx, js, requestsStreamConfig(prefix))
			return err
		}},
		{"consumer " + contract.ConsumerName, func(ctx context.Context) (err error) {
			b.cons, err = b.requests.CreateOrUpdateConsumer(ctx, consumerConfig(jj))
			return err
		}},
		{"stream " + contract.ResultsStream, func(ctx context.Context) (err error) {
			_, err = p.stream(ctx, js, resultsStreamConfig(prefix))
			return err
		}},
		{"bucket " + contract.StatusBucket, func(ctx context.Context) (err error) {
			b.status, err = p.kv(ctx, js, bucketConfig(contract.StatusBucket))
			return err
		}},
		{"bucket " + contract.LocksBucket, func(ctx context.Context) (err error) {
			b.locks, err = p.kv(ctx, js, bucketConfig(contract.LocksBucket))
			return err
		}},
		{"bucket " + contract.WarningsBucket, func(ctx context.Context) (err error) {
			b.warnings, err = p.kv(ctx, js, warningsBucketConfig())
			return err
		}},
		{"stream " + contract.AdvisoriesStream, func(ctx context.Context) (err error) {
			adv, err = p.stream(ctx, js, advisoriesStreamConfig())
			return err
		}},
		{"consumer " + contract.AdvisoryConsumer, func(ctx context.Context) (err error) {
			b.advisories, err = adv.CreateOrUpdateConsumer(ctx, advisoriesConsumerConfig())
			return err
		}},
		{"bucket " + contract.BudgetBucket, func(ctx context.Context) (err error) {
			b.budget, err = p.kv(ctx, js, bucketConfig(contract.BudgetBucket))
			return err
		}},
		{"bucket " + contract.OutcomesBucket, func(ctx context.Context) (err error) {
			b.outcomes, err = p.kv(ctx, js, bucketConfig(contract.OutcomesBucket))
			if err == nil {
				b.outcomesStream = outcomesStreamOf(ctx, js)
			}
			return err
		}},
	}
	for _, s := range steps {
		if err := p.do(ctx, s.what, s.run); err != nil {
			return nil, err
		}
	}
	p.waiting("", nil)
	return b, nil
}

// provisioner creates what is missing with the configured replication and
// says so when an existing stream or bucket has another. Its zero value
// (but for log) tries each step once, without a deadline of its own.
type provisioner struct {
	replicas int
	log      *slog.Logger
	// attemptTimeout bounds one try of a step: a call that gets no answer
	// is asked again rather than waited on.
	attemptTimeout time.Duration
	backoff        retry.Backoff
	clock          retry.Clock
	// waiting, when set, is told what provisioning waits for (what, and
	// the last error), and ("", nil) once it is done: /readyz shows it.
	waitingFunc func(what string, err error)
}

// Provisioning pace: a stream or bucket with replicas on a cluster that has
// just formed may wait for its peers and a meta leader for some seconds;
// two replicas creating it at once may each see the other's half-done work.
const provisionAttemptTimeout = 10 * time.Second

var provisionBackoff = retry.Backoff{Base: 250 * time.Millisecond, Max: 15 * time.Second, Jitter: 0.2}

// do runs one step until it succeeds, fails for good (permanentJSError),
// or ctx ends. Each try is a whole create-or-find-and-verify, so a try
// whose answer was lost is settled by the next one.
func (p *provisioner) do(ctx context.Context, what string, run func(context.Context) error) error {
	for attempt := 1; ; attempt++ {
		actx, cancel := ctx, context.CancelFunc(func() {})
		if p.attemptTimeout > 0 {
			actx, cancel = context.WithTimeout(ctx, p.attemptTimeout)
		}
		err := run(actx)
		cancel()
		if err == nil {
			return nil
		}
		if p.attemptTimeout <= 0 || permanentJSError(err) || ctx.Err() != nil {
			return fmt.Errorf("provisioning %s: %w", what, err)
		}
		p.waiting(what, err)
		delay := p.backoff.Delay(attempt)
		p.log.Warn("provisioning not done yet, retrying", "object", what, "attempt", attempt, "retry_in", delay, "error", err)
		if err := retry.Sleep(ctx, p.clock, delay); err != nil {
			return fmt.Errorf("provisioning %s: %w", what, err)
		}
	}
}

func (p *provisioner) waiting(what string, err error) {
	if p.waitingFunc != nil {
		p.waitingFunc(what, err)
	}
}

// permanentJSError reports whether a provisioning error cannot heal by
// waiting: JetStream is off, the config asks what the server cannot do, or
// another stream owns the subjects. Everything else (timeouts, no leader,
// not enough peers yet, a replica's concurrent create) is retried.
func permanentJSError(err error) bool {
	if errors.Is(err, jetstream.ErrJetStreamNotEnabled) || errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount) {
		return true
	}
	var api *jetstream.APIError
	if !errors.As(err, &api) {
		return false
	}
	switch api.ErrorCode {
	case jsErrReplicasNotSupported, jsErrSubjectOverlap, jsErrStreamInvalidConfig, jsErrNotEnabled, jsErrNotEnabledForAccount:
		return true
	}
	return false
}

// JetStream API error codes (nats-server's errors.json) that provisioning
// treats as permanent.
const (
	jsErrNotEnabledForAccount jetstream.ErrorCode = 10039
	jsErrStreamInvalidConfig  jetstream.ErrorCode = 10052
	jsErrSubjectOverlap       jetstream.ErrorCode = 10065
	jsErrReplicasNotSupported jetstream.ErrorCode = 10074
	jsErrNotEnabled           jetstream.ErrorCode = 10076
)

func (p *provisioner) stream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	want.Replicas = p.replicas
	st, err := ensureStream(ctx, js, want)
	if err == nil {
		p.check(want.Name, st.CachedInfo().Config.Replicas)
	}
	return st, err
}

func (p *provisioner) kv(ctx context.Context, js jetstream.JetStream, want jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	want.Replicas = p.replicas
	kv, err := ensureKV(ctx, js, want)
	if err != nil {
		return nil, err
	}
	if st, err := kv.Status(ctx); err == nil {
		if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
			p.check("bucket "+want.Bucket, bs.StreamInfo().Config.Replicas)
		}
	}
	return kv, nil
}

// check warns when an existing object's replication is not the configured
// one: the worker keeps what an operator set, but says so.
func (p *provisioner) check(name string, have int) {
	if have != p.replicas {
		p.log.Warn("existing stream has another replication than nats.replicas; keeping it", "stream", name, "replicas", have, "configured", p.replicas)
	}
}

// ensureStream creates the stream, or updates an existing one's contract
// fields (subjects, retention, duplicate window, max age, and a max message
// size no larger than the contract's) when they differ, keeping the rest
// of its config.
func ensureStream(ctx context.Context, js jetstream.JetStream, want jetstream.StreamConfig) (jetstream.Stream, error) {
	st, err := js.Stream(ctx, want.Name)
	if errors.Is(err, jetstream.ErrStreamNotFound) {
		st, err = js.CreateStream(ctx, want)
		if errors.Is(err, jetstream.ErrStreamNameAlreadyInUse) {
			st, err = js.Stream(ctx, want.Name) // a replica created it first
		}
	}
	if err != nil {
		return nil, err
	}
	have := st.CachedInfo().Config
	merged := have
	merged.Subjects, merged.Retention, merged.Duplicates = want.Subjects, want.Retention, want.Duplicates
	if want.MaxAge > 0 {
		merged.MaxAge = want.MaxAge
	}
	if want.MaxMsgSize > 0 && (have.MaxMsgSize <= 0 || have.MaxMsgSize > want.MaxMsgSize) {
		// The contract's bound, unless an operator set a tighter one.
		merged.MaxMsgSize = want.MaxMsgSize
	}
	if reflect.DeepEqual(merged, have) {
		return st, nil
	}
	return js.UpdateStream(ctx, merged)
}

// ensureKV opens the bucket, creating it when missing, and updates its
// history and TTL when they differ from want (keeping its replicas).
func ensureKV(ctx context.Context, js jetstream.JetStream, want jetstream.KeyValueConfig) (jetstream.KeyValue, error) {
	kv, err := js.KeyValue(ctx, want.Bucket)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		kv, err = js.CreateKeyValue(ctx, want)
		if errors.Is(err, jetstream.ErrBucketExists) {
			kv, err = js.KeyValue(ctx, want.Bucket)
		}
	}
	if err != nil {
		return nil, err
	}
	st, err := kv.Status(ctx)
	if err != nil {
		return nil, err
	}
	if st.History() == int64(want.History) && st.TTL() == want.TTL {
		return kv, nil
	}
	if bs, ok := st.(*jetstream.KeyValueBucketStatus); ok {
		want.Replicas = bs.StreamInfo().Config.Replicas // keep the operator's
	}
	return js.UpdateKeyValue(ctx, want)
}
