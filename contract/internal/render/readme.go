package render

import (
	"fmt"
	"strings"

	"github.com/certrotator/certrotator/contract"
)

// readmeTable is README's table of the NATS contract: each stream after
// the subjects it holds, each durable after its stream, then the buckets.
func readmeTable() string {
	const p = contract.SubjectPrefixDefault
	var b strings.Builder
	row := func(name, kind, settings string) { fmt.Fprintf(&b, "| `%s` | %s | %s |\n", name, kind, settings) }
	b.WriteString("| name | kind | settings |\n|---|---|---|\n")
	subjects := map[string][][2]string{
		contract.RequestsStream: {
			{contract.RequestSubject(p, "<job>"), "request messages; send `Nats-Msg-Id` to make a send idempotent"},
		},
		contract.ResultsStream: {
			{contract.ResultSubject(p, "<job>", "<connector>"), "outcome events (`" + contract.ConnectorToken("") + "` as connector for a request that failed before any connector)"},
			{contract.ResultSubject(p, "<job>", contract.KeySetToken("<id>")), "outcome events of a job's custom-policy key set (`target_kind: keyset`)"},
			{contract.CredentialSubject(p, "<kind>"), "expiry warnings of the worker's own credentials"},
		},
	}
	durables := map[string][]contract.ConsumerSpec{}
	for _, c := range contract.Consumers(contract.MaxAttemptsDefault) {
		durables[c.Stream] = append(durables[c.Stream], c)
	}
	for _, s := range contract.Streams(p) {
		for _, subj := range subjects[s.Name] {
			row(subj[0], "subject", subj[1])
		}
		row(s.Name, "stream", streamSettings(s))
		for _, c := range durables[s.Name] {
			row(c.Durable, "durable pull consumer", consumerSettings(c))
		}
		if s.Name == contract.ResultsStream {
			row(contract.NotifyConsumer("<sink>"), "durable pull consumer on `"+s.Name+"`",
				"one per notification sink, shared by the replicas: every matching event reaches the sink at least once (only with `notify`)")
		}
	}
	for _, k := range contract.Buckets() {
		row(k.Name, "KV bucket", bucketSettings(k))
	}
	return b.String()
}

var retentionWords = map[contract.Retention]string{
	contract.RetentionLimits:    "limits retention",
	contract.RetentionWorkQueue: "work-queue retention",
}

func streamSettings(s contract.Stream) string {
	parts := []string{"`" + strings.Join(s.Subjects, "`, `") + "`", retentionWords[s.Retention]}
	if s.MaxAge > 0 {
		parts = append(parts, "max age "+days(s.MaxAge))
	}
	if s.Duplicates > 0 {
		parts = append(parts, "duplicate window "+duration(s.Duplicates))
	}
	if s.MaxMsgSize > 0 {
		parts = append(parts, fmt.Sprintf("max message %d KiB", s.MaxMsgSize>>10))
	}
	parts = append(parts, string(s.Storage)+" storage")
	return strings.Join(parts, ", ") + "; " + s.Doc
}

func consumerSettings(c contract.ConsumerSpec) string {
	s := "explicit ack, ack wait " + duration(c.AckWait)
	if c.MaxDeliver < 0 {
		s += ", redelivered without limit"
	}
	return s + "; " + c.Doc
}

func bucketSettings(k contract.Bucket) string {
	s := k.Keys + "; history " + fmt.Sprint(k.History)
	if k.TTL > 0 {
		s += ", TTL " + days(k.TTL)
	}
	s += ", " + string(k.Storage) + " storage"
	if k.Only != "" {
		s += " (only with `" + k.Only + "`)"
	}
	return s
}
