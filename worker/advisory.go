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

	"github.com/certrotator/certrotator/jobs"
)

// CodeMaxDeliveries is the error code of the final outcome published for a
// request JetStream gave up redelivering (workers crashed or hung on it).
const CodeMaxDeliveries = "max_deliveries"

// maxDeliveriesSubject is where JetStream announces that the consumer
// reached MaxDeliver for a message.
const maxDeliveriesSubject = "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES." + RequestsStream + "." + ConsumerName

// maxDeliveriesAdvisory is the part of io.nats.jetstream.advisory.v1.max_deliver
// the worker reads.
type maxDeliveriesAdvisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// startAdvisories listens for max-deliveries advisories, so that a request
// no worker could finish still gets a final failed outcome.
func (w *Worker) startAdvisories() error {
	ch := make(chan *nats.Msg, 64)
	sub, err := w.conn.nc.ChanSubscribe(maxDeliveriesSubject, ch)
	if err != nil {
		return fmt.Errorf("subscribing to %s: %w", maxDeliveriesSubject, err)
	}
	w.advSub = sub
	w.bg.Add(1)
	go func() {
		defer w.bg.Done()
		for {
			select {
			case <-w.bgCtx.Done():
				return
			case m := <-ch:
				if err := w.onMaxDeliveries(w.bgCtx, m.Data); err != nil {
					w.log.Warn("answering max-deliveries advisory", "error", err)
				}
			}
		}
	}()
	return nil
}

// onMaxDeliveries publishes a final failed outcome for every connector the
// request had in play, then deletes the request from the stream. One
// replica does it: the one that creates adv.<seq> in the locks bucket.
func (w *Worker) onMaxDeliveries(ctx context.Context, data []byte) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &adv); err != nil {
		return fmt.Errorf("decoding advisory: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 3*w.tune.opTimeout)
	defer cancel()
	key := "adv." + strconv.FormatUint(adv.StreamSeq, 10)
	if _, err := w.locks.Create(ctx, key, []byte(w.app.Instance)); err != nil {
		if errors.Is(err, jetstream.ErrKeyExists) {
			return nil // another replica answers it
		}
		return fmt.Errorf("claiming advisory %s: %w", key, err)
	}
	raw, err := w.requests.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // already answered and deleted
	}
	if err != nil {
		return fmt.Errorf("reading request %d: %w", adv.StreamSeq, err)
	}
	for _, o := range w.gaveUp(raw, int(adv.Deliveries)) {
		if err := w.publishOutcome(ctx, o, cmp.Or(o.Job, unknownJobToken), w.known(o.Job)); err != nil {
			return err
		}
	}
	if err := w.requests.DeleteMsg(ctx, adv.StreamSeq); err != nil {
		return fmt.Errorf("deleting request %d: %w", adv.StreamSeq, err)
	}
	w.log.Warn("request gave up after max deliveries", "subject", raw.Subject, "seq", adv.StreamSeq, "deliveries", adv.Deliveries)
	return nil
}

// gaveUp builds the final outcomes of a request that exhausted its
// deliveries, reading as much of it as can be read.
func (w *Worker) gaveUp(raw *jetstream.RawStreamMsg, deliveries int) []jobs.Outcome {
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
	job, ok := w.app.Job(w.subjectJob(raw.Subject))
	if !ok {
		return failEach(jobs.Job{Name: w.subjectJob(raw.Subject)}, jobs.Request{ID: req.ID, Attempt: deliveries, Trigger: req.Trigger}, e, true)
	}
	if _, err := w.checkRequest(req, job.Name); err != nil {
		req.Connectors = nil
	}
	return failEach(job, req, e, true)
}
