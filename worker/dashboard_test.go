package worker

import (
	"encoding/json"
	"maps"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/certrotator/certrotator/worker/inventory"
	"github.com/certrotator/certrotator/worker/statusview"
)

// exportedMetrics names every series the worker registers (histograms with
// their _bucket, _count and _sum series) and every label they carry.
func exportedMetrics(t *testing.T) (names, labels map[string]bool) {
	t.Helper()
	w := offline(t)
	ch := make(chan *prometheus.Desc, 100)
	for _, c := range append(w.metrics.collectors(), statusview.NewCollector(w.view, w.jobList, time.Now)) {
		c.Describe(ch)
	}
	ch <- inventory.NewCollector(w.inventory).Desc() // unchecked: its Describe sends nothing
	close(ch)
	fqName := regexp.MustCompile(`fqName: "([^"]+)"`)
	varLabels := regexp.MustCompile(`variableLabels: \{([^}]*)\}`)
	names, labels = map[string]bool{}, map[string]bool{}
	for d := range ch {
		m := fqName.FindStringSubmatch(d.String())
		if m == nil {
			t.Fatalf("no name in %s", d)
		}
		names[m[1]] = true
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if strings.HasSuffix(m[1], "_seconds") && strings.Contains(m[1], "duration") {
				names[m[1]+suffix] = true
			}
		}
		if l := varLabels.FindStringSubmatch(d.String()); l != nil {
			for _, name := range strings.Split(l[1], ",") {
				if name = strings.TrimSpace(name); name != "" {
					labels[name] = true
				}
			}
		}
	}
	if len(names) < 11 {
		t.Fatalf("only %d metric names found: %v", len(names), names)
	}
	return names, labels
}

var (
	metricName = regexp.MustCompile(`\bcertrotator_[a-z_]+`)
	byClause   = regexp.MustCompile(`\b(?:by|on)\s*\(([^)]*)\)`)
	matcher    = regexp.MustCompile(`([a-z_]+)\s*(?:=~|!~|!=|=)\s*"`)
)

// exprProblems lists every metric name the expression uses that the worker
// does not export, and every label it groups or matches on that no series
// carries (job on a certrotator metric was the old, colliding label).
func exprProblems(expr string, names, labels map[string]bool) []string {
	var out []string
	for _, n := range metricName.FindAllString(expr, -1) {
		if !names[n] {
			out = append(out, "metric "+n+" is not exported")
		}
	}
	if !metricName.MatchString(expr) {
		return out // up{job=...}: Prometheus' own series
	}
	var used []string
	for _, m := range byClause.FindAllStringSubmatch(expr, -1) {
		for _, l := range strings.Split(m[1], ",") {
			used = append(used, strings.TrimSpace(l))
		}
	}
	for _, m := range matcher.FindAllStringSubmatch(expr, -1) {
		used = append(used, m[1])
	}
	for _, l := range used {
		if l != "" && !labels[l] && l != "le" && l != "instance" {
			out = append(out, "label "+l+" is on no certrotator series")
		}
	}
	return out
}

// The checker catches an unknown name and the old job label.
func TestExprProblemsCatches(t *testing.T) {
	t.Parallel()
	names, labels := exportedMetrics(t)
	if p := exprProblems(`sum by (job) (certrotator_rotations_total)`, names, labels); len(p) != 1 {
		t.Errorf("by (job): problems %v, want one", p)
	}
	if p := exprProblems(`certrotator_renamed_total{rotation_job="x"}`, names, labels); len(p) != 1 {
		t.Errorf("unknown metric: problems %v, want one", p)
	}
	if p := exprProblems(`max by (rotation_job, connector) (certrotator_certificate_expiry_timestamp_seconds)`, names, labels); len(p) != 0 {
		t.Errorf("a good expression: problems %v", p)
	}
}

// The Grafana dashboard uses only metrics and labels the worker exports.
func TestDashboardUsesExportedMetrics(t *testing.T) {
	t.Parallel()
	names, labels := exportedMetrics(t)
	raw, err := os.ReadFile("../deploy/grafana/certrotator-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("decoding the dashboard: %v", err)
	}
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			n++
			for _, problem := range exprProblems(tg.Expr, names, labels) {
				t.Errorf("panel %q: %s: %s", p.Title, problem, tg.Expr)
			}
		}
	}
	if n == 0 {
		t.Fatal("no expression found in the dashboard")
	}
}

// The alert rules use only metrics and labels the worker exports.
func TestAlertRulesUseExportedMetrics(t *testing.T) {
	t.Parallel()
	names, labels := exportedMetrics(t)
	raw, err := os.ReadFile("../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	exprs := regexp.MustCompile(`(?m)^\s+expr: (\|\n(?:\s{10}.*\n)+|.*)$`).FindAllStringSubmatch(string(raw), -1)
	if len(exprs) < 6 {
		t.Fatalf("found %d rule expressions, want 6", len(exprs))
	}
	for _, m := range exprs {
		for _, problem := range exprProblems(m[1], names, labels) {
			t.Errorf("alerts.yaml: %s: %s", problem, m[1])
		}
	}
}

// README's "Metrics" section documents every metric the worker exports.
func TestReadmeDocumentsEveryMetric(t *testing.T) {
	t.Parallel()
	names, _ := exportedMetrics(t)
	raw, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	start := strings.Index(readme, "\n## Metrics\n")
	if start < 0 {
		t.Fatal(`README has no "## Metrics" section`)
	}
	section := readme[start+1:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		base := strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(n, "_bucket"), "_count"), "_sum")
		if !strings.Contains(section, "`"+base+"`") {
			t.Errorf("README's Metrics section does not document %s", base)
		}
	}
}
