package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/jobs"
)

// CodeMaxDeliveries is the error code of the final outcome published for a
// request JetStream gave up redelivering (workers crashed or hung on it).
const CodeMaxDeliveries = "max_deliveries"

// maxDeliveriesSubject is where JetStream announces that the consumer
// reached MaxDeliver for a message.
const maxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + contract.RequestsStream + "." + contract.ConsumerName

// maxDeliveriesAdvisory is the part of io.nats.jetstream.advisory.v1.max_deliver
// the worker reads.
type maxDeliveriesAdvisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// advisoryListener is the service that answers max-deliveries advisories,
// so that a request no worker could finish still gets a final failed
// outcome.
type advisoryListener struct {
	startstop.Base
	*shared
}

// Start subscribes to the advisories and launches the loop.
func (a *advisoryListener) Start(ctx context.Context) error {
	ctx, ok, stopped := a.StartInit(ctx)
	if !ok {
		return nil
	}
	b := a.bus()
	if b == nil {
		stopped()
		return errNotConnected
	}
	ch := make(chan *nats.Msg, 64)
	sub, err := b.nc.ChanSubscribe(maxDeliveriesSubject, ch)
	if err != nil {
		stopped()
		return fmt.Errorf("subscribing to %s: %w", maxDeliveriesSubject, err)
	}
	go func() {
		defer stopped()
		defer func() { _ = sub.Unsubscribe() }()
		for {
			select {
			case <-ctx.Done():
				return
			case m := <-ch:
				if err := a.runOnce(ctx, m.Data); err != nil {
					a.log.Warn("answering max-deliveries advisory", "error", err)
				}
			}
		}
	}()
	return nil
}

// runOnce publishes a final failed outcome for every connector the
// request had in play, then deletes the request from the stream. One
// replica does it: the one that creates adv.<seq> in the locks bucket.
func (a *advisoryListener) runOnce(ctx context.Context, data []byte) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &adv); err != nil {
		return fmt.Errorf("decoding advisory: %w", err)
	}
	b := a.bus()
	if b == nil {
		return errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, 3*a.tune.opTimeout)
	defer cancel()
	key := "adv." + strconv.FormatUint(adv.StreamSeq, 10)
	if _, err := b.locks.Create(ctx, key, []byte(a.instance)); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil // another replica answers it
		}
		return fmt.Errorf("claiming advisory %s: %w", key, err)
	}
	raw, err := b.requests.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // already answered and deleted
	}
	if err != nil {
		return fmt.Errorf("reading request %d: %w", adv.StreamSeq, err)
	}
	for _, o := range a.gaveUp(raw, int(adv.Deliveries)) {
		if err := a.publishOutcome(ctx, o, cmp.Or(o.Job, contract.UnknownJobToken), a.known(o.Job)); err != nil {
			return err
		}
	}
	if err := b.requests.DeleteMsg(ctx, adv.StreamSeq); err != nil {
		return fmt.Errorf("deleting request %d: %w", adv.StreamSeq, err)
	}
	a.log.Warn("request gave up after max deliveries", "subject", raw.Subject, "seq", adv.StreamSeq, "deliveries", adv.Deliveries)
	a.signals.answered.Signal(adv.StreamSeq)
	return nil
}

// gaveUp builds the final outcomes of a request that exhausted its
// deliveries, reading as much of it as can be read.
func (s *shared) gaveUp(raw *jetstream.RawStreamMsg, deliveries int) []jobs.Outcome {
	req := jobs.Request{}
	_ = decodeStrict(raw.Data, &req) // best effort: a bad body still gets its answer
	req.ID = raw.Header.Get(jetstream.MsgIDHeader)
	if req.ID == "" {
		req.ID = "seq-" + strconv.FormatUint(raw.Sequence, 10)
	}
	req.Attempt = deliveries
	if req.Trigger == "" {
		req.Trigger = jobs.TriggerEvent
	}
	e := &jobs.ErrorInfo{
		Code: CodeMaxDeliveries, Class: jobs.ClassPermanent,
		Message: fmt.Sprintf("no worker finished the request after %d deliveries", deliveries),
	}
	job, ok := s.job(s.subjectJob(raw.Subject))
	if !ok {
		return failEach(jobs.Job{Name: s.subjectJob(raw.Subject)}, jobs.Request{ID: req.ID, Attempt: deliveries, Trigger: req.Trigger}, e, true)
	}
	if _, err := s.checkRequest(req, job.Name); err != nil {
		req.Connectors = nil
	}
	return failEach(job, req, e, true)
}
