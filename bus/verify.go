package bus

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// State is what Verify found of one object.
type State int

const (
	// Present: the object exists and has the contract's settings.
	Present State = iota
	// Missing: the object does not exist. Provision would create it.
	Missing
	// Differs: the object exists with other settings than the contract's
	// (Finding.Detail lists them). Provision would rewrite them.
	Differs
	// Unreadable: asking for the object failed (Finding.Err).
	Unreadable
)

// Finding is what Verify found of one stream, consumer or bucket.
type Finding struct {
	// Kind is "stream", "consumer" or "bucket".
	Kind string
	// Name is the stream's or bucket's name; a consumer's is
	// "STREAM/durable".
	Name  string
	State State
	// Detail says what differs (Differs), or what the object holds
	// (Present).
	Detail string
	// Err is why the object could not be read (Unreadable).
	Err error
}

// Object names the finding's object, "stream CERTROTATION_REQUESTS".
func (f Finding) Object() string { return f.Kind + " " + f.Name }

// VerifyOptions say what Verify compares with.
type VerifyOptions struct {
	// Prefix of every subject. Required.
	Prefix string
	// MaxDeliver is the least the requests consumer must redeliver: the
	// largest max_attempts of any job.
	MaxDeliver int
	// Notify also looks at the bucket only a worker that notifies creates.
	Notify bool
	// Call runs each JetStream call of Verify; nil calls it as it is. A
	// caller that watches the connection's permission violations (doctor)
	// returns the violation as the error, since a denied request gets no
	// answer.
	Call func(ctx context.Context, fn func(context.Context) error) error
}

// Verify looks at the streams, consumers and buckets Provision would
// create and says, for each, whether it exists and what differs from the
// contract's fields (those Provision enforces on an existing object: a
// stream's subjects, retention, duplicate window and max age; a bucket's
// history and TTL; a consumer's ack policy and, for the requests
// consumer, a max deliveries no lower than MaxDeliver). It changes
// nothing. A consumer is looked at only when its stream is present.
func Verify(ctx context.Context, js jetstream.JetStream, o VerifyOptions) []Finding {
	call := o.Call
	if call == nil {
		call = func(ctx context.Context, fn func(context.Context) error) error { return fn(ctx) }
	}
	v := verifier{js: js, call: call, ctx: ctx}
	var out []Finding
	for _, s := range []struct {
		want     jetstream.StreamConfig
		consumer jetstream.ConsumerConfig
	}{
		{requestsStreamConfig(o.Prefix), consumerConfig(o.MaxDeliver)},
		{resultsStreamConfig(o.Prefix), jetstream.ConsumerConfig{}},
		{advisoriesStreamConfig(), advisoryConsumerConfig()},
	} {
		f, st := v.stream(s.want)
		out = append(out, f)
		if st != nil && s.consumer.Durable != "" {
			out = append(out, v.consumer(st, s.want.Name, s.consumer))
		}
	}
	for _, b := range contract.Buckets() {
		if b.Only == "notify" && !o.Notify {
			continue // created only by a worker that notifies
		}
		out = append(out, v.bucket(bucketConfig(b.Name)))
	}
	return out
}

// read reports whether the lookup of f's object succeeded; when it did
// not, it sets f's state: Missing when the error is notFound, Unreadable
// with the error otherwise.
func (f *Finding) read(err, notFound error) bool {
	switch {
	case errors.Is(err, notFound):
		f.State = Missing
	case err != nil:
		f.State, f.Err = Unreadable, err
	default:
		return true
	}
	return false
}

type verifier struct {
	js   jetstream.JetStream
	call func(context.Context, func(context.Context) error) error
	ctx  context.Context
}

// stream returns the stream's finding, and the stream when it is present
// with the contract's settings.
func (v verifier) stream(want jetstream.StreamConfig) (Finding, jetstream.Stream) {
	f := Finding{Kind: "stream", Name: want.Name}
	var st jetstream.Stream
	err := v.call(v.ctx, func(ctx context.Context) (err error) { st, err = v.js.Stream(ctx, want.Name); return err })
	if !f.read(err, jetstream.ErrStreamNotFound) {
		return f, nil
	}
	c := st.CachedInfo().Config
	var bad []string
	if !slices.Equal(c.Subjects, want.Subjects) {
		bad = append(bad, fmt.Sprintf("subjects %v, want %v", c.Subjects, want.Subjects))
	}
	if c.Retention != want.Retention {
		bad = append(bad, fmt.Sprintf("retention %s, want %s", c.Retention, want.Retention))
	}
	if want.Duplicates > 0 && c.Duplicates != want.Duplicates {
		bad = append(bad, fmt.Sprintf("duplicate window %s, want %s", c.Duplicates, want.Duplicates))
	}
	if want.MaxAge > 0 && c.MaxAge != want.MaxAge {
		bad = append(bad, fmt.Sprintf("max age %s, want %s", c.MaxAge, want.MaxAge))
	}
	if len(bad) > 0 {
		f.State, f.Detail = Differs, fmt.Sprintf("%v", bad)
		return f, nil
	}
	f.Detail = fmt.Sprintf("%s retention, %d messages", c.Retention, st.CachedInfo().State.Msgs)
	return f, st
}

func (v verifier) consumer(st jetstream.Stream, stream string, want jetstream.ConsumerConfig) Finding {
	f := Finding{Kind: "consumer", Name: stream + "/" + want.Durable}
	var c jetstream.Consumer
	err := v.call(v.ctx, func(ctx context.Context) (err error) { c, err = st.Consumer(ctx, want.Durable); return err })
	if !f.read(err, jetstream.ErrConsumerNotFound) {
		return f
	}
	info := c.CachedInfo()
	have := info.Config
	switch {
	case have.AckPolicy != want.AckPolicy:
		f.State, f.Detail = Differs, fmt.Sprintf("ack policy %s, want %s", have.AckPolicy, want.AckPolicy)
	case want.MaxDeliver > 0 && have.MaxDeliver >= 0 && have.MaxDeliver < want.MaxDeliver:
		f.State, f.Detail = Differs, fmt.Sprintf("max deliver %d, below the largest max_attempts %d", have.MaxDeliver, want.MaxDeliver)
	default:
		f.Detail = fmt.Sprintf("max deliver %d, %d pending", have.MaxDeliver, info.NumPending)
	}
	return f
}

func (v verifier) bucket(want jetstream.KeyValueConfig) Finding {
	f := Finding{Kind: "bucket", Name: want.Bucket}
	var sts jetstream.KeyValueStatus
	err := v.call(v.ctx, func(ctx context.Context) error {
		kv, err := v.js.KeyValue(ctx, want.Bucket)
		if err != nil {
			return err
		}
		sts, err = kv.Status(ctx)
		return err
	})
	if !f.read(err, jetstream.ErrBucketNotFound) {
		return f
	}
	if sts.History() != int64(want.History) || sts.TTL() != want.TTL {
		f.State = Differs
		f.Detail = fmt.Sprintf("history %d and TTL %s, want %d and %s", sts.History(), sts.TTL(), want.History, want.TTL)
		return f
	}
	f.Detail = fmt.Sprintf("history %d, TTL %s", want.History, want.TTL)
	return f
}
