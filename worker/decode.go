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

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// decode reads a request message. The returned Request carries ID and
// Attempt even when the message is rejected; a non-nil error means a bad
// request, to be answered with one bad_request outcome and terminated.
func (s *shared) decode(msg jetstream.Msg, meta *jetstream.MsgMetadata) (jobs.Request, jobs.Job, error) {
	var req jobs.Request
	id := msg.Headers().Get(jetstream.MsgIDHeader)
	if id == "" {
		id = "seq-" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	stamp := func(r *jobs.Request) { r.ID, r.Attempt = id, int(meta.NumDelivered) }
	stamp(&req)
	subjectJob := s.subjectJob(msg.Subject())
	if subjectJob == "" {
		return req, jobs.Job{}, fmt.Errorf("subject %q does not name a job", msg.Subject())
	}
	if err := decodeStrict(msg.Data(), &req); err != nil {
		req = jobs.Request{}
		stamp(&req)
		return req, jobs.Job{}, err
	}
	stamp(&req)
	if req.Trigger == "" {
		req.Trigger = jobs.TriggerEvent
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
		return fmt.Errorf("decoding request: %w", err)
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		return errors.New("decoding request: trailing data after the JSON object")
	}
	return nil
}

// checkRequest matches the request against the subject and the config.
func (s *shared) checkRequest(req jobs.Request, subjectJob string) (jobs.Job, error) {
	if req.Job == "" {
		return jobs.Job{}, errors.New("request has no job")
	}
	if req.Job != subjectJob {
		return jobs.Job{}, fmt.Errorf("request job %q does not match subject job %q", req.Job, subjectJob)
	}
	job, ok := s.job(req.Job)
	if !ok {
		return jobs.Job{}, fmt.Errorf("unknown job %q", req.Job)
	}
	for _, id := range req.Connectors {
		if _, ok := job.Connector(id); !ok {
			return jobs.Job{}, fmt.Errorf("job %s has no connector %q", job.Name, id)
		}
	}
	return job, nil
}

// subjectJob reads <job> from <prefix>.request.<job>, or returns "" when
// the rest is not one token of letters, digits, '-' and '_'.
func (s *shared) subjectJob(subject string) string {
	rest, ok := strings.CutPrefix(subject, s.prefix+".request.")
	if !ok || !jobs.ValidName(rest) {
		return ""
	}
	return rest
}

// reject answers a bad request with one failed bad_request outcome on
// <prefix>.result.<job>._ (or _unknown._), then terminates it. Only a
// configured job's status is stored, so that junk subjects cannot fill the
// status bucket.
func (c *consumer) reject(msg jetstream.Msg, req jobs.Request, bad error) {
	job := c.subjectJob(msg.Subject())
	known := c.known(job)
	o := jobs.BadRequest(job, req, bad)
	o.Job, o.Connector, o.RequestID, o.Attempt, o.Final = job, "", req.ID, req.Attempt, true
	o.Trigger = cmp.Or(o.Trigger, req.Trigger)
	token := cmp.Or(job, contract.UnknownJobToken)
	c.log.Info("bad request", "subject", msg.Subject(), "request_id", req.ID, "error", bad)
	if err := c.publishOutcome(context.WithoutCancel(c.runCtx), o, token, known); err != nil {
		c.log.Warn("publishing bad request outcome, will retry", "request_id", req.ID, "error", err)
		c.carryOut(msg, decision{Action: actNak, Delay: c.tune.backoff.Delay(req.Attempt)}, req)
		return
	}
	c.metrics.badRequests.WithLabelValues(c.jobLabel(job)).Inc()
	c.carryOut(msg, decision{Action: actTerm, Code: jobs.CodeBadRequest}, req)
}
