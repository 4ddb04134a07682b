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

// ConnectorToken is the connector as a subject token or key part: "_" for
// an outcome with no connector.
func ConnectorToken(connector string) string {
	if connector == "" {
		return "_"
	}
	return connector
}
