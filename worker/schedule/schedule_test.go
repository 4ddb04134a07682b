package schedule

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	natsbus "github.com/certrotator/certrotator/bus"
	"github.com/certrotator/certrotator/bus/bustest"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/baseservice"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/internal/workertest"
	"github.com/certrotator/certrotator/jobs"
)

func TestPrevSlot(t *testing.T) {
	t.Parallel()
	monday := time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC) // a Monday
	tests := []struct {
		spec string
		now  time.Time
		want time.Time
	}{
		{"0 3 * * *", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)},
		{"0 3 * * *", time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)},
		{"0 */6 * * *", time.Date(2026, 11, 25, 13, 5, 0, 0, time.UTC), time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)},
		{"0 3 * * 1-5", monday, time.Date(2026, 11, 27, 3, 0, 0, 0, time.UTC)},
		{"CRON_TZ=Europe/Paris 0 3 * * *", time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC), time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got, ok := PrevSlot(workertest.Schedule(t, tt.spec), tt.now)
		if !ok || !got.Equal(tt.want) {
			t.Errorf("PrevSlot(%q, %s) = %s %v, want %s", tt.spec, tt.now, got, ok, tt.want)
		}
	}
}

func TestMissedSlotEvery(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 25, 10, 30, 0, 0, time.UTC)
	slot, ok := PrevSlot(workertest.Schedule(t, "@every 1h"), now)
	want := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	if !ok || !slot.Equal(want) {
		t.Errorf("PrevSlot(@every 1h) = %s, %v; want the grid point %s", slot, ok, want)
	}
}

// provisioned is a bus with the contract's streams and buckets on a
// server of the test's own, as the worker provisions them.
func provisioned(t *testing.T) (*natsbus.Bus, *natsbus.Objects) {
	t.Helper()
	b := bustest.On(t, testkit.Connect(t, testkit.NATS(t, "")))
	ob, err := natsbus.Provision(t.Context(), b, natsbus.ProvisionOptions{Prefix: contract.SubjectPrefixDefault, MaxDeliver: 3})
	if err != nil {
		t.Fatalf("provisioning: %v", err)
	}
	return b, ob
}

// TestCatchUpDuringTickIsOneRequest: a replica starting while another fires
// the tick publishes the same Msg-Id, so the stream keeps one request.
func TestCatchUpDuringTickIsOneRequest(t *testing.T) {
	t.Parallel()
	b, ob := provisioned(t)
	sched := workertest.Schedule(t, "0 3 * * *")
	now := time.Now()
	s := New(baseservice.NewArchetype(nil, func() time.Time { return now }), Options{
		Prefix: contract.SubjectPrefixDefault, Jobs: []jobs.Job{{Name: "contoso-api", Schedule: "0 3 * * *", Next: sched}},
		JetStream: b.JetStream(), Status: func() jetstream.KeyValue { return ob.Status },
	})
	ctx := t.Context()
	slot, _ := PrevSlot(sched, now)
	if err := s.Fire(ctx, "contoso-api", slot); err != nil {
		t.Fatal(err)
	}
	if err := s.CatchUp(ctx, "contoso-api", sched); err != nil {
		t.Fatal(err)
	}
	info, err := ob.Requests.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.State.LastSeq != 1 {
		t.Errorf("the tick and the catch-up stored %d requests, want 1", info.State.LastSeq)
	}
}
