package contract

import "time"

// The streams, consumers and buckets of the contract as data. The worker
// maps them to its JetStream configs, `doctor` checks a server against
// them, and `go generate ./contract` writes deploy/nats's files and
// README's table from them: every copy comes from here.

// Retention is a stream's retention policy, spelled as JetStream's JSON.
type Retention string

// The retentions the contract uses.
const (
	RetentionLimits    Retention = "limits"
	RetentionWorkQueue Retention = "workqueue"
)

// Storage is where a stream or bucket keeps its messages, spelled as
// JetStream's JSON.
type Storage string

// The storages the contract uses.
const (
	StorageFile   Storage = "file"
	StorageMemory Storage = "memory"
)

// Stream is one stream of the contract with the settings the worker
// provisions and relies on. A zero duration or size is not part of the
// contract (the server's default, or what an operator set).
type Stream struct {
	Name        string
	Description string
	Subjects    []string
	Retention   Retention
	Storage     Storage
	MaxAge      time.Duration
	Duplicates  time.Duration
	MaxMsgSize  int32
	// Consumer is the durable the worker binds on the stream, "" for none.
	Consumer string
	// Doc says what the stream is for, in README's words.
	Doc string
}

// ConsumerSpec is a durable pull consumer of the contract, with explicit
// acks. MaxDeliver -1 redelivers without limit.
type ConsumerSpec struct {
	Stream      string
	Durable     string
	Description string
	AckWait     time.Duration
	MaxDeliver  int
	Doc         string
}

// Bucket is one KV bucket of the contract.
type Bucket struct {
	Name        string
	Description string
	History     int
	TTL         time.Duration // 0: entries do not expire
	Storage     Storage
	// Keys says what its keys are, in README's words.
	Keys string
	// Only names the config section whose presence makes the worker create
	// the bucket ("notify"); "" for a bucket every worker creates.
	Only string
}

// MaxAttemptsDefault is a job's max_attempts when it sets none, and so the
// requests consumer's MaxDeliver when no job says more.
const MaxAttemptsDefault = 8

// AdvisoriesMaxAge is how long an unanswered max-deliveries advisory is
// kept.
const AdvisoriesMaxAge = 7 * 24 * time.Hour

// Streams are the contract's streams for subject prefix prefix: the
// requests, the outcomes, and the consumer's max-deliveries advisories.
func Streams(prefix string) []Stream {
	return []Stream{
		{
			Name: RequestsStream, Description: "certrotator rotation requests",
			Subjects: []string{AllRequests(prefix)}, Retention: RetentionWorkQueue, Storage: StorageFile,
			Duplicates: DuplicateWindow,
			// see CheckRequest: a request's text is copied into every outcome
			MaxMsgSize: RequestMaxBytes,
			Consumer:   ConsumerName,
			Doc:        "a request is taken off the stream once settled",
		},
		{
			Name: ResultsStream, Description: "certrotator outcome events (CloudEvents)",
			Subjects: []string{AllResults(prefix)}, Retention: RetentionLimits, Storage: StorageFile,
			MaxAge: ResultsMaxAge, Duplicates: DuplicateWindow,
			Doc: "a republished outcome keeps its event id and is dropped",
		},
		{
			Name: AdvisoriesStream, Description: "max-deliveries advisories of the certrotator consumer, until answered",
			Subjects: []string{MaxDeliveriesSubject}, Retention: RetentionWorkQueue, Storage: StorageFile,
			MaxAge: AdvisoriesMaxAge, Consumer: AdvisoryConsumer,
			Doc: "JetStream's max-deliveries advisories for `" + ConsumerName + "`, kept until a replica answered them",
		},
	}
}

// Consumer is the requests' durable every replica binds. A work-queue
// stream takes one unfiltered consumer, so every replica must ask for the
// same config: its MaxDeliver is the largest max_attempts of any job
// (maxAttempts), the worker ending a job's request itself at that job's own.
func Consumer(maxAttempts int) ConsumerSpec {
	return ConsumerSpec{
		Stream: RequestsStream, Durable: ConsumerName, Description: "certrotator workers",
		AckWait: AckWait, MaxDeliver: maxAttempts,
		Doc: "max deliver = the largest `max_attempts`; in-progress every 5s while a request runs",
	}
}

// AdvisoriesConsumer is the durable that hands each max-deliveries
// advisory to one replica, acked once answered.
func AdvisoriesConsumer() ConsumerSpec {
	return ConsumerSpec{
		Stream: AdvisoriesStream, Durable: AdvisoryConsumer,
		Description: "certrotator workers answering max-deliveries advisories",
		AckWait:     AckWait, MaxDeliver: -1,
		Doc: "hands each advisory to one replica, acked once answered",
	}
}

// Consumers are the durables the worker binds, the requests' with
// maxAttempts deliveries.
func Consumers(maxAttempts int) []ConsumerSpec {
	return []ConsumerSpec{Consumer(maxAttempts), AdvisoriesConsumer()}
}

// Buckets are the contract's KV buckets.
func Buckets() []Bucket {
	return []Bucket{
		{Name: StatusBucket, Description: "latest outcome per job.connector", History: 1, Storage: StorageFile,
			Keys: "key `<job>.<connector>`: the latest outcome's `data`"},
		{Name: LocksBucket, Description: "per-job rotation locks", History: 1, TTL: LockTTL, Storage: StorageFile,
			Keys: "key `<job>`: a lock renewed while working; a holder that dies stops renewing and its lock expires"},
		{Name: WarningsBucket, Description: "expiry warnings already published", History: 1, TTL: WarningsTTL, Storage: StorageFile,
			Keys: "one key per expiry warning sent, so each threshold is announced once per certificate; the TTL outlasts any public certificate's lifetime"},
		{Name: OutcomesBucket, Description: "outcomes of runs not yet settled", History: 1, TTL: OutcomesTTL, Storage: StorageFile,
			Keys: "key `seq-<stream sequence>`: a run's final outcome from before it is published until its request is settled; " +
				"key `seq-<stream sequence>.intent.<connector>`: an upload's intent (request, attempt, thumbprint), kept before it is sent, " +
				"so that a retry after an unclear end reports `succeeded`/`confirmed_on_retry`"},
		{Name: BudgetBucket, Description: "Graph rate-limit token buckets shared by the replicas", History: 1, TTL: BudgetTTL, Storage: StorageMemory,
			Keys: "key `tenant.<id>`: the tenant's Graph call schedules (its per-app and per-tenant limits), reserved in small grants by compare-and-set " +
				"and timed by the server's clock, so that every replica together stays under Graph's limits; in memory, an idle one vanishes"},
		{Name: NotifyBucket, Description: "certrotator: event ids each notification sink was told", History: 1, TTL: NotifyTTL, Storage: StorageFile,
			Keys: "key `<sink>.<event id>`: one per event a Slack, Teams or email sink has sent, written before the ack so nothing is sent twice",
			Only: "notify"},
	}
}

// BucketNamed returns the contract's bucket called name; it panics on a
// name that is not one, which is a programming error.
func BucketNamed(name string) Bucket {
	for _, b := range Buckets() {
		if b.Name == name {
			return b
		}
	}
	panic("contract: no bucket " + name)
}
