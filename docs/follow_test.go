package docs_test

import (
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// follow runs a guide's blocks in order: run blocks in the shell, yaml
// blocks parsed, skipped ones checked for a reason; other kinds go to
// other (nil: not expected in this guide). It returns how many blocks ran.
func (s *scenario) follow(file string, other func(block)) int {
	t := s.t
	t.Helper()
	ran := 0
	for _, b := range blocks(t, file) {
		switch b.kind {
		case "run", "run-if-exists":
			if b.kind == "run-if-exists" {
				if _, err := os.Stat(filepath.Join(s.clone, b.arg)); err != nil {
					s.note("%s: %s is not on this branch yet (issue 16 item 6, the PKI policy)", b.where(), b.arg)
					continue
				}
			}
			out, err := s.run(b)
			if err != nil && s.knownGap(b, out) {
				continue
			}
			if err != nil {
				t.Fatalf("%s failed: %v\n--- block\n%s--- output\n%s", b.where(), err, b.body, out)
			}
			if want := expectArg(b.arg); want != "" && !strings.Contains(out, want) {
				t.Errorf("%s: output lacks %q:\n%s", b.where(), want, out)
			}
			s.afterBlock(b, out)
			ran++
		case "yaml":
			var doc any
			if err := yaml.Unmarshal([]byte(b.body), &doc); err != nil {
				t.Errorf("%s: not YAML: %v", b.where(), err)
			}
		case "skip":
			if strings.TrimSpace(b.arg) == "" {
				t.Errorf("%s: a skipped block must say why", b.where())
			}
		case "", "config-example":
		default:
			if other == nil {
				t.Fatalf("%s: marker %q is not expected in %s", b.where(), b.kind, file)
			}
			other(b)
		}
	}
	if ran == 0 {
		t.Fatalf("no block of %s ran", file)
	}
	return ran
}

// knownGap says whether a failed block failed only for an item another
// change fixes, and then proves what it can without it and notes the gap
// (see finish).
func (s *scenario) knownGap(b block, out string) bool {
	t := s.t
	t.Helper()
	body := b.body
	last := func(out string) string {
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines[len(lines)-1]
	}
	for range 2 {
		switch {
		case strings.Contains(out, "in publisher.yaml (jobs: )"):
			s.note("%s: a publisher config with a nats section only is refused (%s): issue 16 item 3 (H5's publisher config); the block ran again with the worker's config",
				b.where(), last(out))
			body = strings.ReplaceAll(body, "publisher.yaml", "config.yaml")
		case strings.Contains(body, "CERTROTATOR_CONFIG") && strings.Contains(out, "-c FILE is required (or set CERTROTATOR_CONFIG)"):
			s.note("%s: a command ignores CERTROTATOR_CONFIG (%s): issue 16 item 7 (H5)", b.where(), last(out))
			return true
		default:
			return false
		}
		alt := block{file: b.file, line: b.line, body: body}
		got, err := s.run(alt)
		if err == nil {
			s.afterBlock(alt, got)
			return true
		}
		out = got
	}
	t.Fatalf("%s failed, also with the worker's config:\n%s", b.where(), out)
	return false
}
