package bus_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
)

// provisionOptions are the worker's, for a config whose largest
// max_attempts is 3.
func provisionOptions() bus.ProvisionOptions {
	return bus.ProvisionOptions{Prefix: contract.SubjectPrefixDefault, MaxDeliver: 3}
}

func TestProvisioningKeepsOperatorSettings(t *testing.T) {
	t.Parallel()
	b := bustest.On(t, testkit.Connect(t, testkit.NATS(t, "")))
	js := b.JetStream()
	ctx := context.Background()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: contract.ResultsStream, Subjects: []string{"certrotation.result.>"}, MaxAge: time.Hour, MaxBytes: 1 << 20, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: contract.LocksBucket, History: 5, MaxBytes: 1 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := bus.Provision(ctx, b, provisionOptions()); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, contract.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	if c := st.CachedInfo().Config; c.MaxAge != contract.ResultsMaxAge || c.MaxBytes != 1<<20 {
		t.Errorf("results stream max age %s max bytes %d; want the contract's age and the operator's size", c.MaxAge, c.MaxBytes)
	}
	kv, err := js.KeyValue(ctx, contract.LocksBucket)
	if err != nil {
		t.Fatal(err)
	}
	if st, err := kv.Status(ctx); err != nil || st.TTL() != contract.LockTTL || st.History() != 1 {
		t.Errorf("locks bucket not brought to the contract: %v", err)
	}
}

func TestProvisionNeedsPrefixAndMaxDeliver(t *testing.T) {
	t.Parallel()
	b := bustest.On(t, testkit.Connect(t, testkit.NATS(t, "")))
	if _, err := bus.Provision(context.Background(), b, bus.ProvisionOptions{Prefix: "certrotation"}); err == nil {
		t.Fatal("provisioning with max deliver 0: no error")
	}
}

// TestVerifySaysWhatProvisionWouldDo: on an empty server every object is
// missing; after Provision every one is present with the contract's
// settings; an object an operator changed is reported with what differs.
func TestVerifySaysWhatProvisionWouldDo(t *testing.T) {
	t.Parallel()
	b := bustest.On(t, testkit.Connect(t, testkit.NATS(t, "")))
	ctx := context.Background()
	vo := bus.VerifyOptions{Prefix: contract.SubjectPrefixDefault, MaxDeliver: 3}
	before := bus.Verify(ctx, b.JetStream(), vo)
	// Three streams and five buckets; no consumer is looked at without
	// its stream.
	if len(before) != 8 {
		t.Fatalf("%d findings on an empty server, want 8: %+v", len(before), before)
	}
	for _, f := range before {
		if f.State != bus.Missing {
			t.Errorf("%s on an empty server: state %d (%s %v), want missing", f.Object(), f.State, f.Detail, f.Err)
		}
	}
	if _, err := bus.Provision(ctx, b, provisionOptions()); err != nil {
		t.Fatal(err)
	}
	after := bus.Verify(ctx, b.JetStream(), vo)
	want := map[string]bool{}
	for _, f := range after {
		want[f.Object()] = true
		if f.State != bus.Present {
			t.Errorf("%s after Provision: state %d (%s %v), want present", f.Object(), f.State, f.Detail, f.Err)
		}
	}
	for _, o := range []string{
		"stream " + contract.RequestsStream, "consumer " + contract.RequestsStream + "/" + contract.ConsumerName,
		"stream " + contract.ResultsStream, "stream " + contract.AdvisoriesStream,
		"consumer " + contract.AdvisoriesStream + "/" + contract.AdvisoryConsumer,
		"bucket " + contract.StatusBucket, "bucket " + contract.LocksBucket, "bucket " + contract.WarningsBucket,
		"bucket " + contract.OutcomesBucket, "bucket " + contract.BudgetBucket,
	} {
		if !want[o] {
			t.Errorf("Verify did not look at %s", o)
		}
	}
	// An operator's edits: a longer results age, a locks TTL, and a
	// consumer that gives up before the largest max_attempts.
	js := b.JetStream()
	st, err := js.Stream(ctx, contract.ResultsStream)
	if err != nil {
		t.Fatal(err)
	}
	sc := st.CachedInfo().Config
	sc.MaxAge = 2 * contract.ResultsMaxAge
	if _, err := js.UpdateStream(ctx, sc); err != nil {
		t.Fatal(err)
	}
	if _, err := js.UpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: contract.LocksBucket, History: 1, TTL: time.Hour}); err != nil {
		t.Fatal(err)
	}
	req, err := js.Stream(ctx, contract.RequestsStream)
	if err != nil {
		t.Fatal(err)
	}
	c, err := req.Consumer(ctx, contract.ConsumerName)
	if err != nil {
		t.Fatal(err)
	}
	cc := c.CachedInfo().Config
	cc.MaxDeliver = 2
	if _, err := req.UpdateConsumer(ctx, cc); err != nil {
		t.Fatal(err)
	}
	differs := map[string]bool{}
	for _, f := range bus.Verify(ctx, js, vo) {
		if f.State == bus.Differs {
			differs[f.Object()] = true
		}
	}
	for _, o := range []string{"stream " + contract.ResultsStream, "bucket " + contract.LocksBucket, "consumer " + contract.RequestsStream + "/" + contract.ConsumerName} {
		if !differs[o] {
			t.Errorf("%s edited by hand: not reported as differing (%v)", o, differs)
		}
	}
	if len(differs) != 3 {
		t.Errorf("differing: %v, want the three edited", differs)
	}
}
