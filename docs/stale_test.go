package docs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
)

// TestNoStaleWords holds the guides to facts the code defines, where a
// number written in prose drifts (issue 16 item 10).
func TestNoStaleWords(t *testing.T) {
	t.Parallel()
	read := func(p string) string {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	buckets := []string{contract.StatusBucket, contract.LocksBucket, contract.WarningsBucket, contract.OutcomesBucket, contract.BudgetBucket}
	setup := read(filepath.Join("..", "deploy", "nats", "setup.sh"))
	for _, b := range buckets {
		if !strings.Contains(setup, "nats kv add "+b) {
			t.Errorf("setup.sh does not create bucket %s", b)
		}
	}
	words := map[int]string{4: "four", 5: "five", 6: "six"}
	countRE := regexp.MustCompile(`\b(four|five|six|\d) (KV )?buckets`)
	for _, f := range []string{"onboarding.md", "kubernetes.md", filepath.Join("..", "deploy", "README.md"), filepath.Join("..", "README.md")} {
		for _, m := range countRE.FindAllStringSubmatch(read(f), -1) {
			if m[1] != words[len(buckets)] && m[1] != fmt.Sprint(len(buckets)) {
				t.Errorf("%s says %q: there are %d buckets", f, m[0], len(buckets))
			}
		}
	}
	cfg := read("config.md")
	for key, max := range map[string]int{"nats.replicas": config.ReplicasMax, "jobs[].max_attempts": config.MaxAttemptsMax} {
		if want := fmt.Sprintf("| `%s` | integer 1 to %d |", key, max); !strings.Contains(cfg, want) {
			t.Errorf("config.md lacks %q: the decoder accepts 1 to %d", want, max)
		}
	}
	for _, key := range []string{"authority_url", "graph_url"} {
		if !strings.Contains(cfg, "| `tenants.<t>."+key+"` | https URL |") {
			t.Errorf("config.md: %s must say https URL (run refuses http)", key)
		}
	}
	if sm := read(filepath.Join("..", "deploy", "kubernetes", "servicemonitor.yaml")); regexp.MustCompile(`(?m)^\s*honorLabels:`).MatchString(sm) {
		t.Error("servicemonitor.yaml sets honorLabels: the metrics carry no job label to honour")
	}
	for _, f := range []string{filepath.Join("..", "deploy", "kubernetes", "deployment.yaml"), "kubernetes.md", filepath.Join("..", "README.md")} {
		if strings.Contains(read(f), "10s in-progress") {
			t.Errorf("%s speaks of 10s in-progress heartbeats: the worker sends them every 5 s", f)
		}
	}
}
