package bench

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

// fleetSize is one fleet the harness measures.
type fleetSize struct {
	Connectors, Tenants int
}

// fleetSizes are issue 9's fleets, from a few teams to a large
// organisation, then one hot tenant of 1,000 connectors: the only fleet
// where Graph's limits bind hard (2,000 calls at 200 per 6 s), and so
// where replicas that pace on their own would exceed them. BENCH_QUICK
// keeps the first only.
var fleetSizes = []fleetSize{{100, 10}, {1000, 100}, {10000, 200}, {1000, 1}}

// Graph's limits for API connectors on a clock compressed tenfold (a
// minute becomes 6 s), so that a fleet's run stays short while the ratio
// of work to budget is Graph's.
var benchLimits = graphsim.Limits{AppPerWindow: 200, TenantPerWindow: 300, Window: 6 * time.Second}

// TestFleet is `make bench`: for each fleet size it runs the sequential
// baseline, then the real worker with one replica and with three, and
// prints one JSON line per run on stdout. It is a test, not a benchmark,
// because one run takes seconds to minutes and must happen exactly once;
// BENCH_FLEET=1 enables it so that `make test` skips it.
func TestFleet(t *testing.T) {
	if os.Getenv("BENCH_FLEET") == "" {
		t.Skip("set BENCH_FLEET=1 (make bench) to run the fleet harness")
	}
	sizes := fleetSizes
	if os.Getenv("BENCH_QUICK") != "" {
		sizes = sizes[:1]
	}
	if only := os.Getenv("BENCH_CONNECTORS"); only != "" {
		sizes = slices.DeleteFunc(slices.Clone(sizes), func(s fleetSize) bool { return strconv.Itoa(s.Connectors) != only })
	}
	if only := os.Getenv("BENCH_TENANTS"); only != "" {
		sizes = slices.DeleteFunc(slices.Clone(sizes), func(s fleetSize) bool { return strconv.Itoa(s.Tenants) != only })
	}
	replicaCounts := []int{1, 3}
	if n := os.Getenv("BENCH_REPLICAS"); n != "" {
		replicaCounts = []int{envInt(t, "BENCH_REPLICAS", 1)}
	}
	withBaseline := os.Getenv("BENCH_NO_BASELINE") == ""
	latency := envDuration(t, "BENCH_LATENCY", 80*time.Millisecond)
	baselineMax := envInt(t, "BENCH_BASELINE_MAX", 1000)
	vault := vaulttest.Start(t)
	bundles := writeBundles(t, vault, bundleCount)
	var bin binaries
	if !inProcess() {
		bin = buildBinaries(t)
	}
	for _, size := range sizes {
		spec := fleetSpec{fleetSize: size, Latency: latency, Limits: benchLimits, Bundles: bundles}
		var base Result
		if withBaseline {
			t.Run(fmt.Sprintf("baseline/%d", size.Connectors), func(t *testing.T) {
				base = runBaseline(t, vault, spec, baselineMax)
				emit(t, base)
			})
		}
		for _, replicas := range replicaCounts {
			t.Run(fmt.Sprintf("worker/%d/replicas=%d", size.Connectors, replicas), func(t *testing.T) {
				var r Result
				if inProcess() {
					r = runFleet(t, vault, spec, replicas)
				} else {
					r = runFleetProc(t, bin, vault, spec, replicas)
				}
				if base.MakespanS > 0 && r.MakespanS > 0 {
					r.Speedup = round(base.MakespanS / r.MakespanS)
				}
				emit(t, r)
			})
		}
	}
	if idle, ok := idleFor(t); ok {
		t.Run("idle", func(t *testing.T) {
			spec := fleetSpec{Latency: latency, Limits: benchLimits, Bundles: bundles}
			emit(t, runIdle(t, bin, vault, spec, idle))
		})
	}
}

// idleFor is how long the idle worker is watched: a minute, 15 s with
// BENCH_QUICK, or BENCH_IDLE's duration. It runs in the process mode when
// no BENCH_CONNECTORS picks a fleet, or when BENCH_IDLE is set.
func idleFor(t *testing.T) (time.Duration, bool) {
	def := time.Minute
	if os.Getenv("BENCH_QUICK") != "" {
		def = 15 * time.Second
	}
	run := !inProcess() && (os.Getenv("BENCH_CONNECTORS") == "" || os.Getenv("BENCH_IDLE") != "")
	return envDuration(t, "BENCH_IDLE", def), run
}

// emit prints r as one JSON line on stdout (the harness's output) and
// records it in the test log.
func emit(t *testing.T, r Result) {
	t.Helper()
	line, err := json.Marshal(r)
	if err != nil {
		t.Fatalf("encoding result: %v", err)
	}
	fmt.Fprintln(os.Stdout, string(line))
}

// envInt is the positive integer in the environment variable name, def
// when it is unset.
func envInt(t *testing.T, name string, def int) int {
	t.Helper()
	return envParse(t, name, def, strconv.Atoi, func(n int) bool { return n >= 1 }, "a positive integer")
}

// envDuration is the duration in the environment variable name, def when
// it is unset.
func envDuration(t *testing.T, name string, def time.Duration) time.Duration {
	t.Helper()
	return envParse(t, name, def, time.ParseDuration, func(d time.Duration) bool { return d >= 0 }, "a duration such as 80ms")
}

// envParse reads the environment variable name with parse, def when it is
// unset; a value parse refuses or ok rejects fails the test, naming the
// variable and what it wants.
func envParse[T any](t *testing.T, name string, def T, parse func(string) (T, error), ok func(T) bool, want string) T {
	t.Helper()
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	v, err := parse(s)
	if err != nil || !ok(v) {
		t.Fatalf("%s=%q: want %s", name, s, want)
	}
	return v
}
