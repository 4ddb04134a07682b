package bus

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
)

// ProvisionOptions say what Provision creates and how it waits.
type ProvisionOptions struct {
	// Prefix of every subject. Required.
	Prefix string
	// MaxDeliver is the requests consumer's: the largest max_attempts of
	// any job (the worker terminates a job's request itself at that job's
	// own max_attempts). Required, at least 1.
	MaxDeliver int
	// Replicas of what is created. Defaults to 1.
	Replicas int
	// Logger receives the retries and a replication other than Replicas.
	Logger *slog.Logger
	// AttemptTimeout bounds one try of a step; a step that fails in a way
	// time can heal is retried with Backoff until ctx ends. Zero tries each
	// step once, without a deadline of its own.
	AttemptTimeout time.Duration
	// Backoff paces the retries. Defaults to 250 ms doubling to 15 s,
	// jittered by a fifth.
	Backoff retry.Backoff
	// Clock times the retries. Defaults to the wall clock.
	Clock retry.Clock
	// Waiting, when set, is told what provisioning waits for (what, and
	// the last error), and ("", nil) once it is done: the worker's /readyz
	// shows it.
	Waiting func(what string, err error)
}

// Objects are the streams, consumers and buckets Provision made sure of.
type Objects struct {
	Requests jetstream.Stream
	Consumer jetstream.Consumer
	Status   jetstream.KeyValue
	Locks    jetstream.KeyValue
	Warnings jetstream.KeyValue
	Outcomes jetstream.KeyValue // records of runs not yet settled
	// OutcomesStream is the outcomes bucket's stream, to drop settled keys
	// without delete markers; nil when it could not be read.
	OutcomesStream jetstream.Stream
	Budget         jetstream.KeyValue // Graph rate-limit buckets shared by the replicas
	// Advisories hands out the max-deliveries advisories kept in their
	// stream, one replica each.
	Advisories jetstream.Consumer
}

// Provision creates the streams, the consumer and the buckets, or brings
// existing ones to the contract. It is idempotent: replicas starting
// together all run it, and each step is create, or find and verify. It
// keeps what an operator may have tuned on existing objects (replicas,
// placement, size limits) and only enforces the contract's fields. A step
// that fails in a way time can heal (no answer, no leader yet, peers not
// all up) is retried with backoff until ctx ends; see provisioner.do.
func Provision(ctx context.Context, b *Bus, o ProvisionOptions) (*Objects, error) {
	if o.Prefix == "" || o.MaxDeliver < 1 {
		return nil, fmt.Errorf("provisioning: a subject prefix and a max deliveries of at least 1 are required (got %q, %d)", o.Prefix, o.MaxDeliver)
	}
	p := &provisioner{
		replicas:       max(o.Replicas, 1),
		log:            cmp.Or(o.Logger, slog.New(slog.DiscardHandler)),
		attemptTimeout: o.AttemptTimeout,
		backoff:        provisionBackoff,
		clock:          cmp.Or[retry.Clock](o.Clock, retry.System),
		waitingFunc:    o.Waiting,
	}
	if o.Backoff.Base > 0 {
		p.backoff = o.Backoff
	}
	prefix, js := o.Prefix, b.js
	ob := &Objects{}
	var adv jetstream.Stream
	type step struct {
		what string
		run  func(context.Context) error
	}
	bucket := func(into *jetstream.KeyValue, name string) step {
		return step{"bucket " + name, func(ctx context.Context) (err error) {
			*into, err = p.kv(ctx, js, bucketConfig(name))
			return err
		}}
	}
	steps := []step{
		{"stream " + contract.RequestsStream, func(ctx context.Context) (err error) {
			ob.Requests, err = p.stream(ctx, js, requestsStreamConfig(prefix))
			return err
		}},
		{"consumer " + contract.ConsumerName, func(ctx context.Context) (err error) {
			ob.Consumer, err = ob.Requests.CreateOrUpdateConsumer(ctx, consumerConfig(o.MaxDeliver))
			return err
		}},
		{"stream " + contract.ResultsStream, func(ctx context.Context) (err error) {
			_, err = p.stream(ctx, js, resultsStreamConfig(prefix))
			return err
		}},
		bucket(&ob.Status, contract.StatusBucket),
		bucket(&ob.Locks, contract.LocksBucket),
		bucket(&ob.Warnings, contract.WarningsBucket),
		{"stream " + contract.AdvisoriesStream, func(ctx context.Context) (err error) {
			adv, err = p.stream(ctx, js, advisoriesStreamConfig())
			return err
		}},
		{"consumer " + contract.AdvisoryConsumer, func(ctx context.Context) (err error) {
			ob.Advisories, err = adv.CreateOrUpdateConsumer(ctx, advisoryConsumerConfig())
			return err
		}},
		bucket(&ob.Budget, contract.BudgetBucket),
		{"bucket " + contract.OutcomesBucket, func(ctx context.Context) (err error) {
			ob.Outcomes, err = p.kv(ctx, js, bucketConfig(contract.OutcomesBucket))
			if err == nil {
				ob.OutcomesStream = outcomesStreamOf(ctx, js)
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
	return ob, nil
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
const ProvisionAttemptTimeout = 10 * time.Second

// provisionBackoff paces the retries of a provisioning step by default.
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

// outcomesStreamOf returns the stream behind the outcomes bucket, or nil
// when it cannot be read (the worker then deletes settled keys with
// markers).
func outcomesStreamOf(ctx context.Context, js jetstream.JetStream) jetstream.Stream {
	st, err := js.Stream(ctx, contract.KVStream(contract.OutcomesBucket))
	if err != nil {
		return nil
	}
	return st
}
