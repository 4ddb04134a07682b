package worker

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// decode reads a request message. The returned Request carries ID and
// Attempt even when the message is rejected; a non-nil error means a bad
// request, to be answered with one bad_request outcome and terminated.
func (s *catalog) decode(msg jetstream.Msg, meta *jetstream.MsgMetadata) (jobs.Request, jobs.Job, error) {
	var req jobs.Request
	id := msg.Headers().Get(jetstream.MsgIDHeader)
	if !safeID(id) {
		// An id that cannot travel in events as it is (empty, huge, odd
		// characters) is replaced by the stream sequence.
		id = contract.SeqID(meta.Sequence.Stream)
	}
	stamp := func(r *jobs.Request) { r.ID, r.Attempt = id, int(meta.NumDelivered) }
	stamp(&req)
	subjectJob := s.subjectJob(msg.Subject())
	if subjectJob == "" {
		return req, jobs.Job{}, fmt.Errorf("the subject does not name a job: publish on %s", contract.RequestSubject(s.prefix, "<job>"))
	}
	if err := decodeStrict(msg.Data(), &req); err != nil {
		req = jobs.Request{}
		stamp(&req)
		return req, jobs.Job{}, err
	}
	stamp(&req)
	if err := contract.CheckRequest(req); err != nil {
		// Nothing of an oversized request is echoed in its answer.
		req = jobs.Request{}
		stamp(&req)
		return req, jobs.Job{}, err
	}
	if req.Trigger == "" {
		req.Trigger = contract.TriggerEvent
	}
	job, err := s.checkRequest(req, subjectJob)
	return req, job, err
}

// decodeStrict decodes one JSON object, rejecting unknown fields and
// trailing data.
func decodeStrict(data []byte, req *jobs.Request) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(req); err != nil {
		return fmt.Errorf("decoding request: %s", describeJSONError(err))
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return errors.New("decoding request: trailing data after the JSON object")
	}
	return nil
}

// describeJSONError says what is wrong with a request body without quoting
// it: the body is anyone's input and its words must not reach events.
func describeJSONError(err error) string {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("not one JSON object (syntax error at byte %d)", syntax.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %s has the wrong type (want %s)", typ.Field, typ.Type)
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return "a field the request does not know: use job, connectors, force, reason, requested_by, trigger, version"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the body is empty or cut short"
	default:
		return "not a request object"
	}
}

// maxIDLen bounds a Msg-Id used as the request id in events; the other
// bounds of a request are the contract's (contract.CheckRequest).
const maxIDLen = 128

// safeID reports whether a Msg-Id can be a request id in events as it is.
func safeID(id string) bool {
	if id == "" || len(id) > maxIDLen {
		return false
	}
	for _, r := range id {
		if r < 0x21 || r > 0x7e {
			return false
		}
	}
	return true
}

// echo is s when it is a valid job name short enough to quote, else a
// placeholder: errors never repeat raw input.
func echo(s string) string {
	if jobs.ValidName(s) && len(s) <= 64 {
		return strconv.Quote(s)
	}
	return fmt.Sprintf("(%d characters, not shown)", len(s))
}

// checkRequest matches the request against the subject and the config.
func (s *catalog) checkRequest(req jobs.Request, subjectJob string) (jobs.Job, error) {
	if req.Job == "" {
		return jobs.Job{}, errors.New("request has no job")
	}
	if req.Job != subjectJob {
		return jobs.Job{}, fmt.Errorf("request job %s does not match subject job %s", echo(req.Job), echo(subjectJob))
	}
	job, ok := s.job(req.Job)
	if !ok {
		return jobs.Job{}, fmt.Errorf("unknown job %s: %w", echo(req.Job), errUnknownJob)
	}
	if targets := len(job.Connectors) + len(job.KeySets); len(req.Connectors) > targets {
		return jobs.Job{}, fmt.Errorf("the request names %d connectors; job %s has %d", len(req.Connectors), job.Name, targets)
	}
	for i, id := range req.Connectors {
		// A request's connectors may name the job's key sets too.
		if _, ok := job.KeySet(id); ok {
			continue
		}
		if _, ok := job.Connector(id); !ok {
			return jobs.Job{}, fmt.Errorf("job %s has no connector with the id in connectors[%d]", job.Name, i)
		}
	}
	return job, nil
}

// subjectJob reads <job> from <prefix>.request.<job>, or returns "" when
// the rest is not one token of letters, digits, '-' and '_'.
func (s *catalog) subjectJob(subject string) string {
	rest, ok := contract.RequestJob(s.prefix, subject)
	if !ok || !jobs.ValidName(rest) {
		return ""
	}
	return rest
}

// errUnknownJob: the request names a job this replica's config lacks.
// During a rolling config change another replica may know it, so such a
// request is handed back (deferUnknown) until its deliveries are spent.
var errUnknownJob = errors.New("worker: job not configured on this replica")

// codeUnknownJob is the error code of the final outcome of a request for a
// job no replica took before its deliveries were spent.
const codeUnknownJob = "unknown_job"

// reject answers a bad request with one failed bad_request outcome on
// <prefix>.result.<job>._ (or _unknown._), then terminates it. Only a
// configured job's status is stored, so that junk subjects cannot fill the
// status bucket.
func (c *consumer) reject(msg jetstream.Msg, req jobs.Request, bad error) {
	unknown := errors.Is(bad, errUnknownJob)
	if unknown && c.deferUnknown(msg, req) {
		return
	}
	job := c.subjectJob(msg.Subject())
	known := c.known(job)
	o := jobs.BadRequest(job, req, bad)
	if unknown {
		o.Error.Code = codeUnknownJob
		o.Error.Message = "no replica configured job " + echo(job) + " in " + strconv.Itoa(req.Attempt) + " deliveries: add it to the config of the workers"
	}
	o.Error.Message = bounded(o.Error.Message)
	o.Job, o.Connector, o.RequestID, o.Attempt, o.Final = job, "", req.ID, req.Attempt, true
	o.Trigger = cmp.Or(o.Trigger, req.Trigger)
	token := cmp.Or(job, contract.UnknownJobToken)
	c.Logger().Info("bad request", "subject", msg.Subject(), "request_id", req.ID, "error", bad)
	if err := c.publishOutcome(context.WithoutCancel(c.runCtx), o, token, known); err != nil {
		// Terminated all the same: a malformed request never improves, and
		// retrying it to max deliveries would only end in an advisory.
		c.Logger().Error("publishing bad request outcome; terminating the request anyway", "request_id", req.ID, "error", err)
	}
	c.metrics.badRequests.WithLabelValues(c.jobLabel(job)).Inc()
	_ = c.carryOut(msg, decision{Action: actTerm, Code: o.Error.Code}, req)
}

// deferUnknown hands a request for a job this replica does not know back
// with a delay, so that a replica whose config has it (during a rolling
// config change) takes it. It returns false on the last delivery the
// consumer allows: the caller then answers it, once, as unknown_job, and
// no max-deliveries advisory is left to answer.
func (c *consumer) deferUnknown(msg jetstream.Msg, req jobs.Request) bool {
	limit := c.deliveryLimit()
	if req.Attempt >= limit {
		return false
	}
	// At least two pulls' wait: the pull that brought it has expired when
	// it returns, so it goes to whichever replica's pull waits then, not
	// back to this one's.
	delay := max(c.backoff.Delay(req.Attempt), 2*c.fetchWait())
	c.Logger().Info("job not configured on this replica, handing the request back for one that has it",
		"job", req.Job, "request_id", req.ID, "attempt", req.Attempt, "deliveries", limit, "retry_in", delay)
	_ = c.carryOut(msg, decision{Action: actNak, Delay: delay}, req)
	return true
}

// deliveryLimit is the requests consumer's max deliver as the server has
// it now (replicas with other job lists set it in turn), else as this
// replica set it, else the largest max_attempts this replica knows.
func (c *consumer) deliveryLimit() int {
	fallback := maxDeliver(c.jobList)
	b := c.bus()
	if b == nil {
		return fallback
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.runCtx), c.opTimeout)
	defer cancel()
	n := 0
	if info, err := b.cons.Info(ctx); err == nil {
		n = info.Config.MaxDeliver
	} else if ci := b.cons.CachedInfo(); ci != nil {
		n = ci.Config.MaxDeliver
	}
	if n <= 0 {
		return fallback
	}
	return n
}

// maxMessageLen bounds an error message in an event.
const maxMessageLen = 300

// bounded cuts a message to maxMessageLen bytes on a rune boundary.
func bounded(msg string) string {
	if len(msg) <= maxMessageLen {
		return msg
	}
	cut := maxMessageLen
	for cut > 0 && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return msg[:cut] + "…"
}
