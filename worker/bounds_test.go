package worker

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

// TestHugeFieldsAreAnswered: a request field over its bound gets one final
// bad_request naming the field (never its text); a request too large for
// the stream is refused to its publisher instead of never being answered;
// and an outcome whose text a remote made huge is still published, cut to
// its bound, instead of being nak'd because its record or event exceeds
// the server's max payload.
func TestHugeFieldsAreAnswered(t *testing.T) {
	t.Parallel()
	r := newRig(t)
	huge := strings.Repeat("h", 2<<20) // twice the server's max payload
	rot := workertest.NewRecorder(func(_ context.Context, job jobs.Job, req jobs.Request) []jobs.Outcome {
		out := workertest.Fail(jobs.ClassPermanent, "remote_refused")(job, req)
		for i := range out {
			out[i].Error.Message = huge // a remote's error text, relayed
		}
		return out
	})
	w := r.start(t, testApp(), rot)
	events := r.Outcomes(t)
	subject := contract.RequestSubject("certrotation", jobName)

	for _, field := range []string{"trigger", "reason", "requested_by"} {
		body, _ := json.Marshal(map[string]string{"job": jobName, field: strings.Repeat("x", 200_000)})
		testkit.Publish(t, r.JS, subject, string(body), "huge-"+field)
		ev, subj := events.Next(t)
		d := ev.Data
		if subj != "certrotation.result."+jobName+"._" || d.RequestID != "huge-"+field || d.Error == nil ||
			d.Error.Code != contract.CodeBadRequest || !d.Final || !strings.Contains(d.Error.Message, field) ||
			strings.Contains(d.Error.Message, "xxx") || len(d.Trigger)+len(d.RequestReason)+len(d.RequestedBy) > 64 {
			t.Errorf("200 KB %s: event on %s: request %s, error %v, trigger %d bytes, reason %d, requested_by %d",
				field, subj, d.RequestID, d.Error != nil, len(d.Trigger), len(d.RequestReason), len(d.RequestedBy))
		}
		waitSettled(t, w, "the oversized request settled")
	}

	body, _ := json.Marshal(map[string]string{"job": jobName, "trigger": strings.Repeat("t", 700_000)})
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	_, err := r.JS.Publish(ctx, subject, body, jetstream.WithMsgID("huge-700k"))
	var api *jetstream.APIError
	if !errors.As(err, &api) || api.ErrorCode != jetstream.JSErrCodeStreamMessageExceedsMaximum {
		t.Errorf("publishing a 700 KB request: %v, want the stream to refuse it (message size exceeds maximum)", err)
	}

	// A valid request whose outcomes carry a remote's 2 MB error text.
	testkit.Publish(t, r.JS, subject, `{"job":"`+jobName+`","reason":"`+strings.Repeat("r", contract.RequestMaxReason)+`"}`, "huge-error")
	for range len(workertest.Job().Connectors) {
		ev, subj := events.Next(t)
		d := ev.Data
		if d.RequestID != "huge-error" || !d.Final || d.Error == nil || d.Error.Code != "remote_refused" ||
			len(d.Error.Message) > contract.OutcomeMaxText || !strings.HasSuffix(d.Error.Message, "…") ||
			len(d.RequestReason) != contract.RequestMaxReason {
			t.Errorf("outcome with a huge error text on %s: request %s final %v error %d bytes, reason %d bytes",
				subj, d.RequestID, d.Final, len(d.Error.Message), len(d.RequestReason))
		}
	}
	if d := waitSettled(t, w, "the request with huge outcomes settled"); d.Action != actTerm {
		t.Errorf("settled with %s, want term (a permanent failure)", d.Action)
	}
}
