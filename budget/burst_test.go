package budget

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/internal/testkit"
)

// TestBurstFitsTheLimit: a tenant far below its limit goes at once up to
// the burst, and the burst with the slots that follow it, each used as
// late as the lane allows, never puts more than Count calls in any
// interval of length Per. With the lateness a share of Per (1.5 s of
// Graph's minute) the burst of 2,000 a minute was 50: a tenant's 101 calls
// at 10,000 connectors over 200 tenants were paced from the 51st.
func TestBurstFitsTheLimit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		count int
		per   time.Duration
		burst int
	}{
		{200, time.Minute, 8},            // Graph's app limit
		{300, time.Minute, 12},           // Graph's tenant limit
		{2000, time.Minute, 84},          // the benchmarks' process mode
		{200, 6 * time.Second, 5},        // the benchmarks' compressed window: late 150 ms as before
		{60, time.Minute, 2},             // the clock-skew test's
		{3, time.Second, 1},              // at least one
		{20000, time.Minute, 841},        // a large limit
		{100, 3 * time.Second, 2},        // TestThreeReplicasShareTheLimit's app limit
		{150, 3 * time.Second, 3},        // and its tenant limit
		{200, 600 * time.Millisecond, 5}, // BenchmarkSharedTake's
	} {
		t.Run(fmt.Sprintf("%d per %s", tc.count, tc.per), func(t *testing.T) {
			s := &Shared{}
			ln := s.lane([]connector.Limit{{Name: "tenant.b", Count: tc.count, Per: tc.per}})
			sched := ln.sched
			sched.horizon = 5 * tc.per
			now := time.Unix(1_000_000, 0)
			slots, _ := sched.slots(map[string]time.Time{}, now, 3*tc.count, false)
			atOnce := 0
			for _, at := range slots {
				if at.Equal(now) {
					atOnce++
				}
			}
			if atOnce != tc.burst {
				t.Errorf("%d slots at once, want a burst of %d", atOnce, tc.burst)
			}
			// A call may go from its slot to late after it: the most calls
			// in an interval of length Per is the most slots in an open
			// interval of length Per + late.
			span := tc.per + ln.late
			most, j := 0, 0
			for i := range slots {
				for j < len(slots) && slots[j].Sub(slots[i]) < span {
					j++
				}
				most = max(most, j-i)
			}
			if most > tc.count {
				t.Errorf("up to %d calls in %s (slots used %s late), limit %d", most, tc.per, ln.late, tc.count)
			}
		})
	}
}

// TestFormerVersionKeepsItsBurst: while a replica of a version before
// LateMax writes a key (its value has no "v"), grants keep that version's
// burst, since its slots may be used 1.5 s late: the larger burst with its
// lateness could put more than Count calls in a minute during a rolling
// upgrade. A value this version wrote gets the larger burst.
func TestFormerVersionKeepsItsBurst(t *testing.T) {
	t.Parallel()
	js, err := jetstream.New(testkit.Connect(t, testkit.NATS(t, "")))
	if err != nil {
		t.Fatal(err)
	}
	kv, err := js.CreateKeyValue(t.Context(), jetstream.KeyValueConfig{Bucket: "budget-legacy", History: 1, Storage: jetstream.MemoryStorage})
	if err != nil {
		t.Fatal(err)
	}
	ln := (&Shared{}).lane([]connector.Limit{{Name: "tenant.legacy", Count: 2000, Per: time.Minute}})
	now := time.Now()
	idle := now.Add(-time.Hour).UnixNano() // the schedule has been idle: the whole burst is free
	atOnce := func(slots []time.Time) int {
		n := 0
		for _, at := range slots {
			if at.Equal(now) {
				n++
			}
		}
		return n
	}
	var ops atomic.Int64
	for _, tc := range []struct {
		name   string
		value  string
		burst  int
		legacy bool
	}{
		{"former version's value", fmt.Sprintf(`{"tats":{"tenant.legacy":%d}}`, idle), 50, true},
		{"this version's value", fmt.Sprintf(`{"tats":{"tenant.legacy":%d},"v":2}`, idle), 84, false},
	} {
		if _, err := kv.Put(t.Context(), "tenant.legacy", []byte(tc.value)); err != nil {
			t.Fatal(err)
		}
		slots, e, err := grant(t.Context(), kv, "tenant.legacy", ln.sched, entry{}, now, 200, false, &ops)
		if err != nil {
			t.Fatal(err)
		}
		if got := atOnce(slots); got != tc.burst || e.legacy != tc.legacy {
			t.Errorf("%s: %d slots at once (legacy %v), want %d (legacy %v)", tc.name, got, e.legacy, tc.burst, tc.legacy)
		}
	}
	// A replica that saw the former version lately keeps its burst.
	slots, _, err := grant(t.Context(), kv, "tenant.legacy2", ln.sched, entry{}, now, 200, true, &ops)
	if err != nil {
		t.Fatal(err)
	}
	if got := atOnce(slots); got != 50 {
		t.Errorf("after a former version's write: %d slots at once, want its burst of 50", got)
	}
}
