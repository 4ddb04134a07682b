package contract

import "strings"

// The NATS permissions of the contract's two users, as data:
// deploy/nats/nats-permissions.conf is generated from them (and
// deploy/nats/nsc-users.sh reads that file), and the tests in deploy/nats
// prove them against a real server.

// Permission is one group of subjects a user may publish or subscribe to,
// with the comment that says why.
type Permission struct {
	Comment  string // one or more lines, without "# "
	Subjects []string
}

// PublisherInboxPrefix is the publisher user's reply prefix: it may
// subscribe to its own replies only, never to the shared _INBOX.> where the
// worker's pulled requests and KV reads pass.
const PublisherInboxPrefix = "_INBOX_publisher"

// jsAPI is a JetStream API subject: $JS.API.<parts joined by dots>.
func jsAPI(parts ...string) string { return "$JS.API." + strings.Join(parts, ".") }

// acks are the subjects the acks of the consumers under (a stream, or
// <stream>.<consumer>) are published on, in the server's two ack formats.
func acks(under string) []string {
	return []string{"$JS.ACK." + under + ".>", "$JS.ACK.*.*." + under + ".>"}
}

// durable is what binding a durable pull consumer takes: create (both
// forms) and info, fetching, and acking.
func durable(stream, consumer string) []string {
	return append([]string{
		jsAPI("CONSUMER.CREATE", stream, consumer),
		jsAPI("CONSUMER.CREATE", stream, consumer, ">"),
		jsAPI("CONSUMER.DURABLE.CREATE", stream, consumer),
		jsAPI("CONSUMER.INFO", stream, consumer),
		jsAPI("CONSUMER.MSG.NEXT", stream, consumer),
	}, acks(stream+"."+consumer)...)
}

// provisioned is info, create and update of a stream.
func provisioned(stream string) []string {
	return []string{jsAPI("STREAM.INFO", stream), jsAPI("STREAM.CREATE", stream), jsAPI("STREAM.UPDATE", stream)}
}

// bucketRW is what the worker does with a bucket: provision it, get (both
// ways) and put or delete its keys.
func bucketRW(bucket string, purge bool) []string {
	s := KVStream(bucket)
	out := append(provisioned(s), jsAPI("STREAM.MSG.GET", s))
	if purge {
		out = append(out, jsAPI("STREAM.PURGE", s))
	}
	return append(out, jsAPI("DIRECT.GET", s, ">"), KVSubject(bucket, ">"))
}

// WorkerPublish is what the worker user may publish: what the worker and
// its CLI (rotate, status, events, which share its config) need.
func WorkerPublish(prefix string) []Permission {
	status := KVStream(StatusBucket)
	return []Permission{
		{"requests (cron fires, `certrotator rotate`) and outcome events",
			[]string{AllRequests(prefix), AllResults(prefix)}},
		{"streams: info; create/update only because the worker provisions them\n(drop CREATE/UPDATE when setup.sh created everything)",
			append(append([]string{"$JS.API.INFO"}, provisioned(RequestsStream)...), provisioned(ResultsStream)...)},
		{"the shared durable pull consumer: create/info, fetch, ack/nak/in-progress/term (both ack formats)",
			durable(RequestsStream, ConsumerName)},
		{"reading the request a max-deliveries advisory names, to report it as\nfailed, then deleting it from the stream",
			[]string{jsAPI("STREAM.MSG.GET", RequestsStream), jsAPI("STREAM.MSG.DELETE", RequestsStream)}},
		{"max-deliveries advisories kept in a stream until a replica answered them",
			append(provisioned(AdvisoriesStream), durable(AdvisoriesStream, AdvisoryConsumer)...)},
		{"`certrotator events` / `rotate --wait`: short-lived ordered consumers on results",
			[]string{jsAPI("CONSUMER.CREATE", ResultsStream, ">"), jsAPI("CONSUMER.INFO", ResultsStream, "*"),
				jsAPI("CONSUMER.DELETE", ResultsStream, "*"), jsAPI("CONSUMER.MSG.NEXT", ResultsStream, "*")}},
		{"KV buckets (backed by streams KV_<bucket>): info/create/update, get, put/delete",
			append(append(bucketRW(StatusBucket, false), bucketRW(LocksBucket, false)...), bucketRW(WarningsBucket, false)...)},
		{"Graph rate-limit buckets shared by the replicas", bucketRW(BudgetBucket, false)},
		{"a run's outcome, kept until its request is settled; a settled run's keys\nare purged, leaving no delete marker",
			bucketRW(OutcomesBucket, true)},
		{"notifications (`notify`): a durable consumer per sink on results\n(" + NotifyConsumerPrefix + "<sink>, created with the CONSUMER.CREATE." + ResultsStream + ".> above),\nits acks, and the bucket of event ids each sink sent",
			append(acks(ResultsStream), bucketRW(NotifyBucket, false)...)},
		{"watching the status bucket (status page, `certrotator status`)",
			[]string{jsAPI("CONSUMER.CREATE", status, ">"), jsAPI("CONSUMER.DELETE", status, "*"),
				"$JS.FC." + status + ".>", "$JS.FC.*.*." + status + ".>"}},
	}
}

// WorkerSubscribe is what the worker user may subscribe to.
func WorkerSubscribe(prefix string) []Permission {
	return []Permission{
		{"replies to API requests and publishes, pulled messages, KV watch deliveries", []string{"_INBOX.>"}},
		{"`rotate --wait` may listen for outcomes directly", []string{AllResults(prefix)}},
	}
}

// PublisherPublish is what the publisher user may publish: requests, and
// reading outcomes and the status, nothing else.
func PublisherPublish(prefix string) []Permission {
	status := KVStream(StatusBucket)
	return []Permission{
		{"rotation requests (the stream answers each publish on an " + PublisherInboxPrefix + " reply)",
			[]string{AllRequests(prefix)}},
		{"`certrotator events` / `history`: short-lived ordered consumers on results",
			[]string{jsAPI("STREAM.INFO", ResultsStream), jsAPI("CONSUMER.CREATE", ResultsStream, "*", ">"),
				jsAPI("CONSUMER.INFO", ResultsStream, "*"), jsAPI("CONSUMER.MSG.NEXT", ResultsStream, "*")}},
		{"`certrotator status`: read and watch the status bucket, never write it",
			[]string{jsAPI("STREAM.INFO", status), jsAPI("STREAM.MSG.GET", status), jsAPI("DIRECT.GET", status, ">"),
				jsAPI("CONSUMER.CREATE", status, "*", ">")}},
		{"the status watch removes its own consumer when it ends (the bucket has only\nshort-lived watchers: the worker's are recreated if anyone removes them)",
			[]string{jsAPI("CONSUMER.DELETE", status, "*"), "$JS.FC." + status + ".>", "$JS.FC.*.*." + status + ".>"}},
	}
}

// PublisherSubscribe is what the publisher user may subscribe to.
func PublisherSubscribe(prefix string) []Permission {
	return []Permission{
		{"its own replies only (nats.inbox_prefix): publish acks, API answers,\nordered-consumer and watch deliveries", []string{PublisherInboxPrefix + ".>"}},
		{"`rotate --wait` listens for its request's outcomes directly", []string{AllResults(prefix)}},
	}
}
