package bus

import (
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
)

// The JetStream configs Provision creates and Verify expects, mapped from the contract's
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
	panic("bus: the contract has no stream " + name)
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

func consumerSpecConfig(c contract.ConsumerSpec) jetstream.ConsumerConfig {
	return jetstream.ConsumerConfig{
		Durable: c.Durable, Description: c.Description,
		AckPolicy: jetstream.AckExplicitPolicy, AckWait: c.AckWait, MaxDeliver: c.MaxDeliver,
	}
}

// consumerConfig is the durable every replica binds (contract.Consumer):
// a work-queue stream takes one unfiltered consumer, so every replica asks
// for the same config; maxDeliver is the largest max_attempts of any job
// (the worker ends a job's request itself at that job's own max_attempts).
func consumerConfig(maxDeliver int) jetstream.ConsumerConfig {
	return consumerSpecConfig(contract.Consumer(maxDeliver))
}

func advisoryConsumerConfig() jetstream.ConsumerConfig {
	return consumerSpecConfig(contract.AdvisoriesConsumer())
}
