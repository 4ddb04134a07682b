package worker

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// The JetStream configs the worker provisions, mapped from the contract's
// data (contract.Streams, Consumers, Buckets), which deploy/nats's files
// and `doctor` are made from too.

var retentions = map[contract.Retention]jetstream.RetentionPolicy{
	contract.RetentionLimits:    jetstream.LimitsPolicy,
	contract.RetentionWorkQueue: jetstream.WorkQueuePolicy,
}

var storages = map[contract.Storage]jetstream.StorageType{
	contract.StorageFile:   jetstream.FileStorage,
	contract.StorageMemory: jetstream.MemoryStorage,
}

// streamConfig is the contract's stream name with subjects under prefix.
func streamConfig(prefix, name string) jetstream.StreamConfig {
	for _, s := range contract.Streams(prefix) {
		if s.Name == name {
			return jetstream.StreamConfig{
				Name: s.Name, Description: s.Description, Subjects: s.Subjects,
				Retention: retentions[s.Retention], Storage: storages[s.Storage],
				MaxAge: s.MaxAge, Duplicates: s.Duplicates, MaxMsgSize: s.MaxMsgSize,
			}
		}
	}
	panic("worker: the contract has no stream " + name)
}

func requestsStreamConfig(prefix string) jetstream.StreamConfig {
	return streamConfig(prefix, contract.RequestsStream)
}

func resultsStreamConfig(prefix string) jetstream.StreamConfig {
	return streamConfig(prefix, contract.ResultsStream)
}

// advisoriesStreamConfig keeps the requests consumer's max-deliveries
// advisories until a replica has answered them; its subject has no prefix.
func advisoriesStreamConfig() jetstream.StreamConfig {
	return streamConfig(contract.SubjectPrefixDefault, contract.AdvisoriesStream)
}

// bucketConfig is the contract's bucket name.
func bucketConfig(name string) jetstream.KeyValueConfig {
	b := contract.BucketNamed(name)
	return jetstream.KeyValueConfig{
		Bucket: b.Name, Description: b.Description, History: uint8(b.History), TTL: b.TTL, Storage: storages[b.Storage],
	}
}

func warningsBucketConfig() jetstream.KeyValueConfig { return bucketConfig(contract.WarningsBucket) }

func consumerSpecConfig(c contract.ConsumerSpec) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable: c.Durable, Description: c.Description,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: c.AckWait, MaxDeliver: c.MaxDeliver,
	}
}

// consumerConfig is the durable every replica binds (contract.Consumer):
// MaxDeliver is the largest max_attempts of any job.
func consumerConfig(jj []jobs.Job) jetstream.ConsumerConfig {
	return consumerSpecConfig(contract.Consumer(maxDeliver(jj)))
}

func advisoriesConsumerConfig() jetstream.ConsumerConfig {
	return consumerSpecConfig(contract.AdvisoriesConsumer())
}

// maxDeliver is the requests consumer's MaxDeliver for jj
// (jobs.LargestMaxAttempts).
func maxDeliver(jj []jobs.Job) int { return jobs.LargestMaxAttempts(jj) }
