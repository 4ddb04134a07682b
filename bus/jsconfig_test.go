package bus

import (
	"reflect"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// TestJetStreamConfigsMapTheContract holds the configs the worker
// provisions, mapped from contract's data, to the literal values the
// worker provisioned before they were data: the mapping changes nothing
// on a server that the worker set up before.
func TestJetStreamConfigsMapTheContract(t *testing.T) {
	t.Parallel()
	const prefix = "certrotation"
	streams := []struct {
		got, want jetstream.StreamConfig
	}{
		{requestsStreamConfig(prefix), jetstream.StreamConfig{
			Name: "CERTROTATION_REQUESTS", Description: "certrotator rotation requests",
			Subjects: []string{"certrotation.request.>"}, Retention: jetstream.WorkQueuePolicy,
			Duplicates: 10 * time.Minute, MaxMsgSize: 256 << 10, Storage: jetstream.FileStorage,
		}},
		{resultsStreamConfig(prefix), jetstream.StreamConfig{
			Name: "CERTROTATION_RESULTS", Description: "certrotator outcome events (CloudEvents)",
			Subjects: []string{"certrotation.result.>"}, Retention: jetstream.LimitsPolicy,
			MaxAge: 90 * 24 * time.Hour, Duplicates: 10 * time.Minute, Storage: jetstream.FileStorage,
		}},
		{advisoriesStreamConfig(), jetstream.StreamConfig{
			Name: "CERTROTATION_ADVISORIES", Description: "max-deliveries advisories of the certrotator consumer, until answered",
			Subjects:  []string{"$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.CERTROTATION_REQUESTS.certrotator"},
			Retention: jetstream.WorkQueuePolicy, MaxAge: 7 * 24 * time.Hour, Storage: jetstream.FileStorage,
		}},
	}
	for _, s := range streams {
		if !reflect.DeepEqual(s.got, s.want) {
			t.Errorf("stream %s:\n got %+v\nwant %+v", s.want.Name, s.got, s.want)
		}
	}
	buckets := []jetstream.KeyValueConfig{
		{Bucket: "certrotation-status", Description: "latest outcome per job.connector", History: 1, Storage: jetstream.FileStorage},
		{Bucket: "certrotation-locks", Description: "per-job rotation locks", History: 1, TTL: 30 * time.Second, Storage: jetstream.FileStorage},
		{Bucket: "certrotation-warnings", Description: "expiry warnings already published", History: 1, TTL: 400 * 24 * time.Hour, Storage: jetstream.FileStorage},
		{Bucket: "certrotation-budget", Description: "Graph rate-limit token buckets shared by the replicas", History: 1, TTL: 10 * time.Minute, Storage: jetstream.MemoryStorage},
		{Bucket: "certrotation-outcomes", Description: "outcomes of runs not yet settled", History: 1, TTL: 24 * time.Hour, Storage: jetstream.FileStorage},
	}
	for _, want := range buckets {
		if got := bucketConfig(want.Bucket); !reflect.DeepEqual(got, want) {
			t.Errorf("bucket %s:\n got %+v\nwant %+v", want.Bucket, got, want)
		}
	}
	if got := bucketConfig(contract.WarningsBucket); got.Bucket != contract.WarningsBucket {
		t.Errorf("warningsBucketConfig is bucket %s", got.Bucket)
	}
	consumers := []struct {
		got, want jetstream.ConsumerConfig
	}{
		{consumerConfig(jobs.LargestMaxAttempts([]jobs.Job{{Name: "a", MaxAttempts: 3}, {Name: "b", MaxAttempts: 12}})), jetstream.ConsumerConfig{
			Durable: "certrotator", Description: "certrotator workers",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: 12,
		}},
		{consumerConfig(jobs.LargestMaxAttempts(nil)), jetstream.ConsumerConfig{
			Durable: "certrotator", Description: "certrotator workers",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: 8,
		}},
		{advisoryConsumerConfig(), jetstream.ConsumerConfig{
			Durable: "certrotator-advisories", Description: "certrotator workers answering max-deliveries advisories",
			AckPolicy: jetstream.AckExplicitPolicy, AckWait: 30 * time.Second, MaxDeliver: -1,
		}},
	}
	for _, c := range consumers {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("consumer %s:\n got %+v\nwant %+v", c.want.Durable, c.got, c.want)
		}
	}
}
