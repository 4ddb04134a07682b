package budget

import (
	"fmt"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector"
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
			slots, _ := sched.slots(map[string]time.Time{}, now, 3*tc.count)
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
