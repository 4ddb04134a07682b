package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/worker"
)

// TestWorkerPlainClientRequest: a request published by a plain NATS client
// becomes one outcome event per connector and the connectors' new state.
func TestWorkerPlainClientRequest(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	sc := s.serve(t, "worker", connectorIDs...)
	sc.publishPlain(t, sc.j.Name, "plain-1", []byte(`{"job":"contoso-api","reason":"new bundle written","requested_by":"e2e"}`))
	got := sc.wait(t, "plain-1", len(connectorIDs))
	for _, ev := range got {
		if ev.Type != "certrotator.rotation.succeeded" || ev.Data.Trigger != contract.TriggerEvent || ev.Subject != sc.j.Name+"/"+ev.Data.Connector {
			t.Errorf("event %+v", ev)
		}
	}
	for _, id := range connectorIDs {
		if s.active(t, id) != sc.b.Thumbprint || len(s.uploads(id)) != 1 {
			t.Errorf("connector %s: active %s, uploads %v", id, s.active(t, id), s.uploads(id))
		}
	}
}

// TestWorkerDuplicateMsgIDRotatesOnce: the same request sent twice with one
// Msg-Id is one rotation.
func TestWorkerDuplicateMsgIDRotatesOnce(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	sc := s.serve(t, "dup", connectorIDs[0])
	body := `{"job":"contoso-api","force":true}`
	if sc.request(t, "dup-1", body) {
		t.Fatal("the first send was taken for a duplicate")
	}
	if !sc.request(t, "dup-1", body) {
		t.Error("the second send with the same Msg-Id was not dropped")
	}
	js, _ := sc.nc.JetStream()
	if info, err := js.StreamInfo(contract.RequestsStream); err != nil || info.State.LastSeq != 1 {
		t.Errorf("stream state %+v (%v): want one stored request for two sends", info.State, err)
	}
	sc.wait(t, "dup-1", 1)
	// A later request of the same job, once the first is done, finds the
	// thumbprint present: a stored copy of the forced duplicate would have
	// uploaded again.
	sc.request(t, "after-dup", `{"job":"contoso-api"}`)
	after := sc.wait(t, "after-dup", 1)
	if after[0].Data.Status != contract.StatusSkipped {
		t.Errorf("the request after the duplicate: %s, want skipped", after[0].Data.Status)
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 1 {
		t.Errorf("uploads %v: a forced request sent twice with one Msg-Id uploaded more than once", got)
	}
}

// TestWorkerMalformedRequest: bad input is answered, never dropped, and the
// worker keeps serving.
func TestWorkerMalformedRequest(t *testing.T) {
	t.Parallel()
	sc := setup(t, nil).serve(t, "malformed", connectorIDs[0])
	bad := map[string]string{
		"bad-json":      `{"job": "contoso-api"`,
		"unknown-field": `{"job": "contoso-api", "forse": true}`,
		"unknown-conn":  `{"job": "contoso-api", "connectors": ["7b3a0c1e-0000-4000-8000-00000000dead"]}`,
	}
	for id, body := range bad {
		sc.request(t, id, body)
	}
	for id := range bad {
		ev := sc.wait(t, id, 1)[0]
		if ev.Type != "certrotator.rotation.failed" || ev.Data.Error == nil || ev.Data.Error.Code != contract.CodeBadRequest || ev.Data.Connector != "" || !ev.Data.Final {
			t.Errorf("%s: event %+v error %+v", id, ev, ev.Data.Error)
		}
	}
	sc.request(t, "good-after-bad", `{"job":"contoso-api"}`)
	if ev := sc.wait(t, "good-after-bad", 1)[0]; ev.Data.Status != contract.StatusSucceeded {
		t.Errorf("the good request after the bad ones: %s", ev.Data.Status)
	}
}

// TestWorkerReplicasOneRotationPerTick: three replicas with the same
// schedule fire every tick, and each tick is one request.
func TestWorkerReplicasOneRotationPerTick(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	sc := s.prepare(t, "cron", connectorIDs[0], connectorIDs[1])
	// Config refuses @every under 10s; the test builds the 2s grid itself
	// so that it sees real ticks quickly.
	sc.j.Schedule = "@every 2s"
	sc.j.Next = grid(2 * time.Second)
	fired := cronCopies(t, sc.nc)
	var ws []*worker.Worker
	for i := range 3 {
		ws = append(ws, sc.start(t, s, fmt.Sprintf("replica-%d", i), sc.j, nil))
	}
	tick := waitTick(t, fired, 3)
	sc.wait(t, tick, 2)
	for _, w := range ws {
		_ = w.Stop(context.Background())
	}
	assertNoCopyStored(t, sc.nc, tick)
	for _, id := range connectorIDs[:2] {
		if got := s.uploads(id); len(got) != 1 {
			t.Errorf("connector %s: uploads %v, want one", id, got)
		}
	}
}

// cronCopies counts, per Msg-Id, the cron requests published by anyone: a
// core subscription sees every copy, duplicates included.
func cronCopies(t *testing.T, nc *nats.Conn) <-chan string {
	t.Helper()
	ch := make(chan string, 256)
	sub, err := nc.Subscribe("certrotation.request.>", func(m *nats.Msg) {
		if id := m.Header.Get(nats.MsgIdHdr); strings.HasPrefix(id, "cron-") {
			ch <- id
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sub.Unsubscribe() })
	return ch
}

// waitTick returns the first cron Msg-Id that n replicas each published.
func waitTick(t *testing.T, fired <-chan string, n int) string {
	t.Helper()
	seen := map[string]int{}
	deadline := time.After(eventTimeout)
	for {
		select {
		case id := <-fired:
			if seen[id]++; seen[id] == n {
				return id
			}
		case <-deadline:
			t.Fatalf("no tick was fired by %d replicas: %v", n, seen)
		}
	}
}

// assertNoCopyStored checks that the requests stream holds no further copy
// of the tick (work-queue retention deletes the one that was handled).
func assertNoCopyStored(t *testing.T, nc *nats.Conn, msgID string) {
	t.Helper()
	js, _ := nc.JetStream()
	info, err := js.StreamInfo(contract.RequestsStream)
	if err != nil {
		t.Fatalf("reading stream info: %v", err)
	}
	for seq := info.State.FirstSeq; seq <= info.State.LastSeq && info.State.Msgs > 0; seq++ {
		m, err := js.GetMsg(contract.RequestsStream, seq)
		if err != nil {
			continue
		}
		if m.Header.Get(nats.MsgIdHdr) == msgID {
			t.Errorf("a second copy of %s was stored at seq %d", msgID, seq)
		}
	}
}

// TestWorkerTakeoverAfterUpload: a worker stopped between upload and ack,
// its outcome lost, is replaced by another that finds the thumbprint active
// and the upload's kept intent, and reports succeeded/confirmed_on_retry;
// Graph saw exactly one upload.
func TestWorkerTakeoverAfterUpload(t *testing.T) {
	t.Parallel()
	s := setup(t, nil)
	sc := s.prepare(t, "takeover", connectorIDs[0])
	// The first worker runs the real rotation, then hangs as a worker would
	// that dies between the upload and the ack, and loses the outcome: what
	// a killed process leaves is the upload (and its kept intent).
	uploaded := make(chan struct{})
	var once sync.Once
	crash := workertest.Around{Rotator: s.rotator, After: func(ctx context.Context, _ jobs.Request, out []jobs.Outcome) []jobs.Outcome {
		once.Do(func() { close(uploaded) })
		<-ctx.Done()
		for i := range out {
			out[i].Status, out[i].Final, out[i].Reason = contract.StatusFailed, false, ""
			out[i].Error = &jobs.ErrorInfo{Code: "canceled", Class: jobs.ClassTransient, Message: "killed"}
		}
		return out
	}}
	first := startWorker(t, s, appConfig("doomed", sc.url, sc.j), crash, 200*time.Millisecond)
	sc.request(t, "takeover-1", `{"job":"contoso-api"}`)
	await(t, uploaded, "the first worker never uploaded")
	stopFirst(t, first)
	sc.start(t, s, "survivor", sc.j, nil)
	ev := sc.wait(t, "takeover-1", 1)[0]
	if ev.Data.Status != contract.StatusSucceeded || ev.Data.Reason != contract.ReasonConfirmedOnRetry || ev.Data.Attempt < 2 {
		t.Errorf("takeover outcome %s/%s attempt %d, want succeeded/%s on a later attempt", ev.Data.Status, ev.Data.Reason, ev.Data.Attempt, contract.ReasonConfirmedOnRetry)
	}
	if got := s.uploads(connectorIDs[0]); len(got) != 1 {
		t.Errorf("uploads %v, want exactly one", got)
	}
}

// grid fires on the multiples of its period, as config's @every does.
type grid time.Duration

func (g grid) Next(t time.Time) time.Time { return t.Truncate(time.Duration(g)).Add(time.Duration(g)) }
