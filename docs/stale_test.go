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

// TestNscListsMatchTheConf: the nsc command for the publisher (operator
// mode, which the docs test cannot run) grants exactly what the shipped
// server-config user has.
func TestNscListsMatchTheConf(t *testing.T) {
	t.Parallel()
	conf, err := os.ReadFile(filepath.Join("..", "deploy", "nats", "nats-permissions.conf"))
	if err != nil {
		t.Fatal(err)
	}
	_, pubPart, ok := strings.Cut(string(conf), "nkey: UREPLACE_WITH_THE_PUBLISHER_USER_PUBLIC_NKEY")
	if !ok {
		t.Fatal("nats-permissions.conf has no publisher user")
	}
	pubPart, _, _ = strings.Cut(pubPart, "nkey:")
	pubList, subList, _ := strings.Cut(pubPart, "subscribe")
	quoted := regexp.MustCompile(`(?m)^\s*"([^"]+)"`)
	list := func(s string) []string {
		var out []string
		for _, m := range quoted.FindAllStringSubmatch(s, -1) {
			out = append(out, m[1])
		}
		return out
	}
	var nsc string
	for _, b := range blocks(t, "onboarding.md") {
		if strings.Contains(b.body, "nsc add user") {
			nsc = b.body
		}
	}
	_, pubCmd, ok := strings.Cut(nsc, "certrotator-publisher")
	if !ok {
		t.Fatal("onboarding.md has no nsc block for the publisher")
	}
	pubCmd, _, _ = strings.Cut(pubCmd, "nsc add user")
	flag := func(name string) []string {
		m := regexp.MustCompile(name + ` '([^']*)'`).FindStringSubmatch(pubCmd)
		if m == nil {
			t.Fatalf("the nsc publisher command has no %s", name)
		}
		return strings.Split(m[1], ",")
	}
	if got, want := flag("--allow-pub"), list(pubList); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("nsc --allow-pub %v\nconf publish   %v", got, want)
	}
	if got, want := flag("--allow-sub"), list(subList); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("nsc --allow-sub %v\nconf subscribe %v", got, want)
	}
}
