// Package contract is certrotator's NATS contract as code: the names of its
// streams, consumer and buckets, its subjects, and the CloudEvent that
// carries an outcome. The worker serves it and package client speaks it;
// a program in another repository can import either to talk to certrotator.
package contract

import (
	"strconv"
	"strings"
	"time"
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
	OutcomesBucket = "certrotation-outcomes"
	// BudgetBucket holds the Graph rate-limit token buckets every replica
	// shares (package budget).
	BudgetBucket = "certrotation-budget"
	// AdvisoriesStream keeps JetStream's max-deliveries advisories for the
	// requests consumer, so that each is answered even when the replica
	// answering it dies; AdvisoryConsumer is the durable that hands them out.
	AdvisoriesStream = "CERTROTATION_ADVISORIES"
	AdvisoryConsumer = "certrotator-advisories"
	// NotifyBucket keeps, per notification sink that cannot deduplicate
	// itself, the ids of the events it was told, for NotifyTTL; each sink
	// reads the results through its own durable (NotifyConsumer).
	NotifyBucket = "certrotation-notify"
)

// SubjectPrefixDefault is the subject prefix when none is configured.
const SubjectPrefixDefault = "certrotation"

// Retention and timing of the NATS contract.
const (
	DuplicateWindow = 10 * time.Minute
	AckWait         = 30 * time.Second
	ResultsMaxAge   = 90 * 24 * time.Hour
	LockTTL         = 30 * time.Second
	WarningsTTL     = 400 * 24 * time.Hour
	// OutcomesTTL bounds how long a run's record outlives a lost settle.
	OutcomesTTL = 24 * time.Hour
	// BudgetTTL drops the bucket of a limit no call used for a while; it
	// starts full again, which is what an idle limit is.
	BudgetTTL = 10 * time.Minute
	// NotifyTTL outlasts any redelivery: the consumer's backlog of a sink
	// that was down for days still finds what it sent.
	NotifyTTL = 14 * 24 * time.Hour
)

// UnknownJobToken is the job token of the result subject when the job
// cannot be read from the request subject.
const UnknownJobToken = "_unknown"

// RequestSubject is <prefix>.request.<job>.
func RequestSubject(prefix, job string) string { return prefix + ".request." + job }

// ResultSubject is <prefix>.result.<job>.<connector or _>.
func ResultSubject(prefix, job, connector string) string {
	return prefix + ".result." + job + "." + ConnectorToken(connector)
}

// ResultsOf is the wildcard subject of every outcome of job.
func ResultsOf(prefix, job string) string { return prefix + ".result." + job + ".>" }

// SeqID names a request by its stream sequence: the request id of a request
// whose own Msg-Id cannot travel in events, and the outcomes bucket's key
// of its kept record.
func SeqID(seq uint64) string { return "seq-" + strconv.FormatUint(seq, 10) }

// IntentKey is the outcomes bucket's key of an upload's intent:
// seq-<seq>.intent.<target token>.
func IntentKey(seq uint64, target string) string {
	return SeqID(seq) + ".intent." + strings.ToLower(target)
}

// IntentKeys matches every IntentKey of the request at seq: a key filter
// (a subject wildcard), never a key to write.
func IntentKeys(seq uint64) string { return SeqID(seq) + ".intent.>" }

// RequestJob returns the job token of a request subject, and false when
// subject is not <prefix>.request.<one token>.
func RequestJob(prefix, subject string) (string, bool) {
	rest, ok := strings.CutPrefix(subject, prefix+".request.")
	if !ok || rest == "" || strings.Contains(rest, ".") {
		return "", false
	}
	return rest, true
}

// MaxDeliveriesSubject is where JetStream announces that the worker's
// consumer reached MaxDeliver for a request; the advisories stream keeps it.
const MaxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + RequestsStream + "." + ConsumerName

// BudgetAppLimit and BudgetTenantLimit name Graph's two rate limits of a
// tenant (per app, per tenant) as the shared budget keys them.
func BudgetAppLimit(tenant, app string) string { return "app." + tenant + "." + app }

// BudgetTenantLimit: see BudgetAppLimit.
func BudgetTenantLimit(tenant string) string { return "tenant." + tenant }

// AllRequests is the wildcard subject of every request.
func AllRequests(prefix string) string { return prefix + ".request.>" }

// AllResults is the wildcard subject of every outcome.
func AllResults(prefix string) string { return prefix + ".result.>" }

// StatusKey is the status bucket key <job>.<connector or _>.
func StatusKey(job, connector string) string { return job + "." + ConnectorToken(connector) }

// StatusKeysOf is the status bucket filter of every target of job: <job>.*.
func StatusKeysOf(job string) string { return job + ".*" }

// AllKeys is the filter of every key of a bucket.
const AllKeys = ">"

// LockKey is the locks bucket key of a job's lock: <job>.
func LockKey(job string) string { return job }

// KVSubject is the subject a bucket's key is stored on: $KV.<bucket>.<key>.
func KVSubject(bucket, key string) string { return "$KV." + bucket + "." + key }

// KVStream is the stream that backs a bucket: KV_<bucket>.
func KVStream(bucket string) string { return "KV_" + bucket }

// NotifyConsumerPrefix starts each notification sink's durable's name.
const NotifyConsumerPrefix = "certrotator-notify-"

// NotifyConsumer is the durable of notification sink sink on the results:
// certrotator-notify-<sink>.
func NotifyConsumer(sink string) string { return NotifyConsumerPrefix + sink }

// NotifySentKey is the notify bucket key of an event a sink was told:
// <sink>.<event id>, the id hashed by the caller when it is not a safe
// key token.
func NotifySentKey(sink, id string) string { return sink + "." + id }

// ExpiringKey names one expiry warning in the warnings bucket:
// <job>.<connector>.<THUMBPRINT>.<threshold>, the thumbprint upper-cased.
// It is a valid NATS KV key when the parts are (job names and GUIDs are).
func ExpiringKey(job, connector, thumbprint, threshold string) string {
	return job + "." + connector + "." + strings.ToUpper(thumbprint) + "." + threshold
}

// UnauthenticatedKey names one day's unauthenticated warning in the
// warnings bucket: api-unauthenticated.<job>.<connector>.<YYYY-MM-DD> (UTC).
func UnauthenticatedKey(job, connector string, now time.Time) string {
	return "api-unauthenticated." + job + "." + connector + "." + day(now)
}

// SupersededKey names one day's superseded warning in the warnings
// bucket: keyset-superseded.<job>.<keyset>.<YYYY-MM-DD> (UTC).
func SupersededKey(job, keySet string, now time.Time) string {
	return "keyset-superseded." + job + "." + keySet + "." + day(now)
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

// CredentialJob is the job token of a warning about one of the worker's
// own credentials: its outcome's job and its subject's job token,
// "_"-prefixed like UnknownJobToken so that it stands apart from the
// rotation jobs.
const CredentialJob = "_credential"

// CredentialSubject is where a credential's expiry warning is published:
// <prefix>.result._credential.<kind>, in the results stream with the
// certificates' expiring warnings.
func CredentialSubject(prefix, kind string) string { return ResultSubject(prefix, CredentialJob, kind) }

// CredentialKey names one credential warning in the warnings bucket:
// _credential.<kind>.<tenant or _>.<unix seconds of its expiry>.<threshold>.
func CredentialKey(kind, tenant string, expires time.Time, threshold string) string {
	return CredentialJob + "." + kind + "." + ConnectorToken(tenant) + "." + strconv.FormatInt(expires.Unix(), 10) + "." + threshold
}

// ConnectorToken is the connector as a subject token or key part: "_" for
// an outcome with no connector.
func ConnectorToken(connector string) string {
	if connector == "" {
		return "_"
	}
	return connector
}

// StatusPruneAfter is how long a status entry of a job or connector absent
// from the config stays, counted from its last update; the worker prunes
// it then, and the status page and `status` say when.
const StatusPruneAfter = 24 * time.Hour
