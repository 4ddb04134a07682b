package worker

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/internal/testsignal"
	"github.com/certrotator/certrotator/jobs"
)

// CodeMaxDeliveries is the error code of the final outcome published for a
// request JetStream gave up redelivering (workers crashed or hung on it).
const CodeMaxDeliveries = "max_deliveries"

// maxDeliveriesAdvisory is the part of io.nats.jetstream.advisory.v1.max_deliver
// the worker reads.
type maxDeliveriesAdvisory struct {
	StreamSeq  uint64 `json:"stream_seq"`
	Deliveries uint64 `json:"deliveries"`
}

// advisoryListener is the service that answers max-deliveries advisories,
// so that a request no worker could finish still gets a final failed
// outcome. The advisories are kept in a stream and handed out by a durable
// consumer, so an answer survives the death of the replica that began it:
// the advisory is acked only once answered, and answering is idempotent
// (fixed event ids, a request already deleted means done).
type advisoryListener struct {
	startstop.Base
	baseservice.BaseService
	*results
	advisories func() (jetstream.Consumer, jetstream.Stream) // nil, nil until provisioned
	backoff    retry.Backoff
	signals    struct {
		answered testsignal.Signal[uint64] // an advisory was answered (stream seq)
	}
}

func newAdvisoryListener(a *baseservice.Archetype, r *results) *advisoryListener {
	l := &advisoryListener{results: r, backoff: defaultBackoff}
	l.advisories = func() (jetstream.Consumer, jetstream.Stream) {
		if b := r.bus(); b != nil {
			return b.advisories, b.requests
		}
		return nil, nil
	}
	l.BaseService.Init(a)
	return l
}

// Start binds the advisories consumer and launches the loop.
func (a *advisoryListener) Start(ctx context.Context) error {
	return a.Launch(ctx, func(runCtx context.Context) (func(), error) {
		advisories, _ := a.advisories()
		if advisories == nil {
			return nil, errNotConnected
		}
		iter, err := advisories.Messages(jetstream.PullMaxMessages(4))
		if err != nil {
			return nil, fmt.Errorf("consuming %s: %w", contract.AdvisoriesStream, err)
		}
		go func() {
			<-runCtx.Done() // Stop: closing the iterator ends the loop
			iter.Stop()
		}()
		return func() { a.loop(runCtx, iter) }, nil
	})
}

func (a *advisoryListener) loop(ctx context.Context, iter jetstream.MessagesContext) {
	for {
		m, err := iter.Next()
		if err != nil {
			if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
				return
			}
			a.Logger().Warn("pulling advisories", "error", err)
			continue
		}
		if err := a.runOnce(ctx, m.Data()); err != nil {
			a.Logger().Warn("answering max-deliveries advisory, will retry", "error", err)
			md, _ := m.Metadata()
			attempt := 1
			if md != nil {
				attempt = int(md.NumDelivered)
			}
			_ = m.NakWithDelay(a.backoff.Delay(attempt))
			continue
		}
		_ = m.Ack()
	}
}

// runOnce publishes a final failed outcome for the request an advisory
// names, then deletes the request from the stream. A request already gone
// was answered before.
func (a *advisoryListener) runOnce(ctx context.Context, data []byte) error {
	var adv maxDeliveriesAdvisory
	if err := json.Unmarshal(data, &adv); err != nil {
		a.Logger().Warn("dropping an advisory that does not decode", "error", err)
		return nil
	}
	_, requests := a.advisories()
	if requests == nil {
		return errNotConnected
	}
	ctx, cancel := context.WithTimeout(ctx, 3*a.opTimeout)
	defer cancel()
	raw, err := requests.GetMsg(ctx, adv.StreamSeq)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil // already answered and deleted
	}
	if err != nil {
		return fmt.Errorf("reading request %d: %w", adv.StreamSeq, err)
	}
	// What an attempt kept is the truth for its connectors: it is told
	// again, with the same event ids, and only the connectors without a
	// final outcome fail. A record kept whole means the request ran to its
	// end and only settling failed: nothing fails.
	rec, kept := a.loadRecord(ctx, adv.StreamSeq)
	for _, ev := range rec.Events {
		if err := a.publishEvent(ctx, ev, ev.Data.Job, a.known(ev.Data.Job)); err != nil {
			return fmt.Errorf("republishing the kept outcomes of request %d: %w", adv.StreamSeq, err)
		}
	}
	if !kept || rec.Done != nil {
		for _, o := range a.gaveUp(raw, int(adv.Deliveries), rec.Done) {
			ev := contract.NewEvent(a.instance, o, a.Now())
			// The same id every time, so a second answer is dropped by the
			// results stream's duplicate window.
			ev.ID = "maxdel-" + strconv.FormatUint(adv.StreamSeq, 10) + "-" + contract.ConnectorToken(o.Connector)
			if err := a.publishEvent(ctx, ev, cmp.Or(o.Job, contract.UnknownJobToken), a.known(o.Job)); err != nil {
				return err
			}
		}
	}
	if err := requests.DeleteMsg(ctx, adv.StreamSeq); err != nil {
		// Another answer may have deleted it in between (the server then
		// says "no message found" under a generic code): gone is done.
		if _, gerr := requests.GetMsg(ctx, adv.StreamSeq); !errors.Is(gerr, jetstream.ErrMsgNotFound) {
			return fmt.Errorf("deleting request %d: %w", adv.StreamSeq, err)
		}
	}
	if kept {
		a.dropRecord(ctx, adv.StreamSeq, rec.Intents)
	}
	a.Logger().Warn("request gave up after max deliveries", "subject", raw.Subject, "seq", adv.StreamSeq, "deliveries", adv.Deliveries, "kept", len(rec.Done))
	a.signals.answered.Signal(adv.StreamSeq)
	return nil
}

// gaveUp builds the final outcomes of a request that exhausted its
// deliveries: one per connector it had in play and not done (an earlier
// attempt kept their final outcomes), or, when the request itself is
// invalid, one for the request alone (on connector "_"), so that a bad
// request never overwrites the status of the job's connectors.
func (s *catalog) gaveUp(raw *jetstream.RawStreamMsg, deliveries int, done []string) []jobs.Outcome {
	id := raw.Header.Get(jetstream.MsgIDHeader)
	if !safeID(id) {
		id = contract.SeqID(raw.Sequence)
	}
	e := &jobs.ErrorInfo{
		Code: CodeMaxDeliveries, Class: jobs.ClassPermanent,
		Message: fmt.Sprintf("no worker finished the request after %d deliveries", deliveries),
	}
	name := s.subjectJob(raw.Subject)
	var req jobs.Request
	decodeErr := decodeStrict(raw.Data, &req)
	req.ID, req.Attempt, req.Trigger = id, deliveries, cmp.Or(req.Trigger, contract.TriggerEvent)
	job, known := s.job(name)
	if decodeErr != nil || !known {
		return failEach(jobs.Job{Name: name}, jobs.Request{ID: id, Attempt: deliveries, Trigger: req.Trigger}, e, true)
	}
	if _, err := s.checkRequest(req, job.Name); err != nil {
		return failEach(jobs.Job{Name: job.Name}, jobs.Request{ID: id, Attempt: deliveries, Trigger: req.Trigger}, e, true)
	}
	if len(done) > 0 {
		if req.Connectors = remaining(job, req, done); len(req.Connectors) == 0 {
			return nil
		}
	}
	out := failEach(job, req, e, true)
	for i := range out {
		req.Stamp(&out[i])
	}
	return out
}
