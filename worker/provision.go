package worker

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/jobs"
)

// Names of the NATS contract. They are fixed; only subjects follow the
// configured prefix.
const (
	RequestsStream = "CERTROTATION_REQUESTS"
	ResultsStream  = "CERTROTATION_RESULTS"
	ConsumerName   = "certrotator"
	StatusBucket   = "certrotation-status"
	LocksBucket    = "certrotation-locks"
	WarningsBucket = "certrotation-warnings"
)

// Retention and timing of the NATS contract.
const (
	DuplicateWindow = 10 * time.Minute
	AckWait         = 30 * time.Second
	ResultsMaxAge   = 90 * 24 * time.Hour
	LockTTL         = 30 * time.Second
	WarningsTTL     = 400 * 24 * time.Hour
)

// provision creates the streams, the consumer and the buckets, or brings
// existing ones to the contract. It is idempotent: replicas starting
// together all run it. It keeps what an operator may have tuned on
// existing objects (replicas, placement, size limits) and only enforces the
// contract's fields.
func (w *Worker) provision(ctx context.Context) error {
	js, err := jetstream.New(w.conn.nc)
	if err != nil {
		return fmt.Errorf("opening JetStream: %w", err)
	}
	w.js = js
	if w.requests, err = ensureStream(ctx, js, requestsStreamConfig(w.prefix)); err != nil {
		return fmt.Errorf("provisioning stream %s: %w", RequestsStream, err)
	}
	if w.cons, err = w.requests.CreateOrUpdateConsumer(ctx, consumerConfig(w.app.Jobs)); err != nil {
		return fmt.Errorf("provisioning consumer %s: %w", ConsumerName, err)
	}
	if _, err = ensureStream(ctx, js, resultsStreamConfig(w.prefix)); err != nil {
		return fmt.Errorf("provisioning stream %s: %w", ResultsStream, err)
	}
	if w.status, err = ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket: StatusBucket, Description: "latest outcome per job.connector", History: 1, Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("provisioning bucket %s: %w", StatusBucket, err)
	}
	if w.locks, err = ensureKV(ctx, js, jetstream.KeyValueConfig{
		Bucket: LocksBucket, Description: "per-job rotation locks", History: 1, TTL: LockTTL, Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("provisioning bucket %s: %w", LocksBucket, err)
	}
	if w.warnings, err = ensureKV(ctx, js, warningsBucketConfig()); err != nil {
		return fmt.Errorf("provisioning bucket %s: %w", WarningsBucket, err)
	}
	return nil
}

// ensureStream creates the stream, or updates an existing one's contract
// fields (subjects, retention, duplicate window, max age) when they differ,
// keeping the rest of its config.
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
		want.Replicas = bs.StreamInfo().Config.Replicas
	}
	return js.UpdateKeyValue(ctx, want)
}

func requestsStreamConfig(prefix string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        RequestsStream,
		Description: "certrotator rotation requests",
		Subjects:    []string{prefix + ".request.>"},
		Retention:   jetstream.WorkQueuePolicy,
		Duplicates:  DuplicateWindow,
		Storage:     jetstream.FileStorage,
	}
}

func resultsStreamConfig(prefix string) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        ResultsStream,
		Description: "certrotator outcome events (CloudEvents)",
		Subjects:    []string{prefix + ".result.>"},
		Retention:   jetstream.LimitsPolicy,
		MaxAge:      ResultsMaxAge,
		Storage:     jetstream.FileStorage,
	}
}

func warningsBucketConfig() jetstream.KeyValueConfig {
	return jetstream.KeyValueConfig{
		Bucket: WarningsBucket, Description: "expiry warnings already published", History: 1, TTL: WarningsTTL, Storage: jetstream.FileStorage,
	}
}

// consumerConfig is the durable every replica binds. A work-queue stream
// takes one unfiltered consumer, so every replica must ask for the same
// config. MaxDeliver is the largest max_attempts of any job: the worker
// terminates a job's request itself at that job's own max_attempts.
func consumerConfig(jj []jobs.Job) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable:     ConsumerName,
		Description: "certrotator workers",
		AckPolicy:   jetstream.AckExplicitPolicy,
		AckWait:     AckWait,
		MaxDeliver:  maxDeliver(jj),
	}
}

func maxDeliver(jj []jobs.Job) int {
	n := jobs.MaxAttemptsDefault
	if len(jj) > 0 {
		n = 1
	}
	for _, j := range jj {
		n = max(n, maxAttempts(j))
	}
	return n
}

// maxAttempts is the job's max_attempts, defaulted.
func maxAttempts(j jobs.Job) int {
	if j.MaxAttempts > 0 {
		return j.MaxAttempts
	}
	return jobs.MaxAttemptsDefault
}
