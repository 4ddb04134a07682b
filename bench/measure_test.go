package bench

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"runtime/pprof"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector/graphsim"
)

// Result is one JSON line of the harness. PERFORMANCE.md defines each
// field; the names are issue 9's.
type Result struct {
	Mode                string  `json:"mode"` // "worker" or "baseline"
	Connectors          int     `json:"connectors"`
	Tenants             int     `json:"tenants"`
	Replicas            int     `json:"replicas"`
	MakespanS           float64 `json:"makespan_s"`
	IdealS              float64 `json:"ideal_s"`
	Efficiency          float64 `json:"efficiency"`
	GraphCallsPerUpload float64 `json:"graph_calls_per_upload"`
	Uploads             int     `json:"uploads"`
	// Skipped connectors were found already holding the bundle: in a run
	// where every connector starts empty, a retried request whose first
	// attempt uploaded (an answer lost to a deadline, say).
	Skipped    int     `json:"skipped"`
	Failed     int     `json:"failed"`
	VaultReads int64   `json:"vault_reads"`
	HTTP429    int     `json:"http_429"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	CPUS       float64 `json:"cpu_s"`
	LatencyMS  int64   `json:"latency_ms"`
	// PeakHeapMB and PeakGoroutines are the Go heap's live objects and the
	// goroutines of the process at their highest during the run, sampled
	// every 20 ms: they say where peak_rss_mb went.
	PeakHeapMB     float64 `json:"peak_heap_mb"`
	PeakGoroutines int     `json:"peak_goroutines"`
	// The process mode's figures (TestFleet without BENCH_INPROCESS): each
	// replica's peak RSS (VmHWM) and CPU (utime+stime) from /proc/<pid>,
	// in replica order, and their sums; the harness's own CPU (NATS, the
	// tick, the tracker); graphsim's, apart. peak_rss_mb and cpu_s are
	// then the replicas' sums, and peak_heap_mb and peak_goroutines the
	// harness's.
	WorkerRSSMB    []float64 `json:"worker_rss_mb,omitempty"`
	WorkerRSSMBSum float64   `json:"worker_rss_mb_sum,omitempty"`
	WorkerCPUS     []float64 `json:"worker_cpu_s,omitempty"`
	WorkerCPUSSum  float64   `json:"worker_cpu_s_sum,omitempty"`
	HarnessCPUS    float64   `json:"harness_cpu_s,omitempty"`
	GraphsimCPUS   float64   `json:"graphsim_cpu_s,omitempty"`
	GraphsimRSSMB  float64   `json:"graphsim_rss_mb,omitempty"`
	// The idle line (mode "idle"): Jobs configured, none due; the replica's
	// RSS (VmRSS) once ready and IdleS seconds later, cpu_s over IdleS.
	Jobs       int     `json:"jobs,omitempty"`
	IdleS      float64 `json:"idle_s,omitempty"`
	RSSStartMB float64 `json:"rss_start_mb,omitempty"`
	RSSEndMB   float64 `json:"rss_end_mb,omitempty"`
	// PFXDecodes is how many uploaded PFX files graphsim decoded (with its
	// verdict cache, one per distinct bundle).
	PFXDecodes int `json:"pfx_decodes,omitempty"`
	// GraphConnections is how many client connections graphsim accepted
	// over the process's life (token calls included): a few when they are
	// reused (HTTP/2, keep-alive), about one per call when they are not.
	GraphConnections int64 `json:"graph_connections,omitempty"`
	// Speedup is the baseline's makespan over this run's (worker lines).
	Speedup float64 `json:"speedup,omitempty"`
	// SampledConnectors, on a baseline line, says the baseline ran this
	// many connectors and makespan_s, vault_reads and cpu_s were scaled
	// linearly to the fleet (a sequential run of 10,000 takes half an hour).
	SampledConnectors int `json:"sampled_connectors,omitempty"`
}

// idealSeconds is the shortest makespan Graph allows for the calls the
// run made: for each tenant, its admitted calls (429s excluded) over the
// tenant's rate, the lower of its app limit (one app per tenant here) and
// its tenant-wide limit; the slowest tenant sets the bound. When that is
// shorter than one connector's critical path (a GET then an upload, two
// latencies), the latency bound is the ideal instead.
func idealSeconds(counts map[string]graphsim.Counts, l graphsim.Limits, latency time.Duration) float64 {
	perWindow := l.AppPerWindow
	if l.TenantPerWindow > 0 && (perWindow <= 0 || l.TenantPerWindow < perWindow) {
		perWindow = l.TenantPerWindow
	}
	var worst float64
	if perWindow > 0 {
		for _, c := range counts {
			admitted := float64(c.Calls - c.Throttled)
			worst = max(worst, admitted/float64(perWindow)*l.Window.Seconds())
		}
	}
	return max(worst, 2*latency.Seconds())
}

// graphTotals sums every tenant's calls and 429s.
func graphTotals(counts map[string]graphsim.Counts) (calls, throttled int) {
	for _, c := range counts {
		calls += c.Calls
		throttled += c.Throttled
	}
	return calls, throttled
}

// usage is a snapshot of this process's CPU time; peakRSS reads the high
// water mark since resetPeakRSS. Both cover the whole bench process: the
// worker replicas, and also the embedded NATS server, graphsim and the
// harness (Vault runs in a process of its own and is not counted), so
// they are upper bounds for the worker.
type usage struct{ cpu time.Duration }

func readUsage(t *testing.T) usage {
	t.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatalf("reading rusage: %v", err)
	}
	return usage{cpu: time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
}

// resetPeakRSS returns freed memory to the OS and resets the kernel's peak
// RSS (VmHWM) so that each run's peak is its own, not an earlier, larger
// fleet's. Without /proc (not Linux) peakRSSMB reports 0.
func resetPeakRSS() {
	runtime.GC()
	debug.FreeOSMemory()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// peakRSSMB reads VmHWM from /proc/self/status, in MiB.
func peakRSSMB(t *testing.T) float64 {
	t.Helper()
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:")
		if !ok {
			continue
		}
		kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		if err != nil {
			t.Fatalf("parsing VmHWM %q: %v", rest, err)
		}
		return round(float64(kb) / 1024)
	}
	return 0
}

// procStat is what /proc says of another process: its peak and current
// RSS in MiB and its CPU (user + system) so far.
type procStat struct {
	hwmMB, rssMB float64
	cpu          time.Duration
}

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat's times: 100 on
// every Linux architecture Go supports.
const clockTicks = 100

// readProc reads /proc/<pid>/status and /proc/<pid>/stat.
func readProc(t *testing.T, pid int) procStat {
	t.Helper()
	var ps procStat
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("reading the status of process %d: %v", pid, err)
	}
	for line := range strings.Lines(string(status)) {
		key, rest, _ := strings.Cut(line, ":")
		kb, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		switch {
		case key != "VmHWM" && key != "VmRSS":
			continue
		case err != nil:
			t.Fatalf("parsing %s %q of process %d: %v", key, rest, pid, err)
		case key == "VmHWM":
			ps.hwmMB = round(float64(kb) / 1024)
		default:
			ps.rssMB = round(float64(kb) / 1024)
		}
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatalf("reading the stat of process %d: %v", pid, err)
	}
	// Fields after the command name (which may hold spaces, in parens):
	// state is field 3, utime 14, stime 15.
	_, after, ok := strings.Cut(string(stat), ") ")
	fields := strings.Fields(after)
	if !ok || len(fields) < 13 {
		t.Fatalf("parsing the stat of process %d: %q", pid, stat)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("parsing the CPU times of process %d: %q", pid, stat)
	}
	ps.cpu = time.Duration(utime+stime) * time.Second / clockTicks
	return ps
}

// sampler records the peak of the Go heap's live objects and of the
// goroutine count until stop, from runtime/metrics (which, unlike
// ReadMemStats, does not stop the world).
type sampler struct {
	profile string // when set, a heap profile is written there at each new peak 25 % over the last
	stop    chan struct{}
	ended   chan struct{}
	heap    uint64
	gs      uint64
}

func startSampler(profile string) *sampler {
	s := &sampler{profile: profile, stop: make(chan struct{}), ended: make(chan struct{})}
	samples := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/sched/goroutines:goroutines"}}
	go func() {
		defer close(s.ended)
		var written uint64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(samples)
			s.heap = max(s.heap, samples[0].Value.Uint64())
			if s.profile != "" && s.heap > written+written/4 {
				written = s.heap
				writeHeapProfile(s.profile)
			}
			s.gs = max(s.gs, samples[1].Value.Uint64())
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s
}

// writeHeapProfile is for finding where a run's memory goes; its errors
// only cost the profile.
func writeHeapProfile(path string) {
	f, err := os.Create(path)
	if err != nil {
		return
	}
	defer f.Close()
	_ = pprof.Lookup("heap").WriteTo(f, 0)
}

// end stops the sampler and fills r's peaks.
func (s *sampler) end(r *Result) {
	close(s.stop)
	<-s.ended
	r.PeakHeapMB = round(float64(s.heap) / (1 << 20))
	r.PeakGoroutines = int(s.gs)
}

// round keeps three decimals: enough for seconds and ratios.
func round(v float64) float64 { return math.Round(v*1000) / 1000 }
