package docs_test

import (
	"bufio"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// block is one fenced block of a guide and what its marker says to do.
type block struct {
	file string
	line int    // of the opening fence
	kind string // run, run-if-exists, background, skip, yaml, config, nats-server; "" when unmarked
	arg  string // the rest of the marker: a file name, a reason, expect="…"
	lang string
	body string
}

func (b block) where() string { return b.file + ":" + strconv.Itoa(b.line) }

var markerRE = regexp.MustCompile(`^\s*<!-- docs-test: (\S+)\s*(.*?)\s*-->\s*$`)

// blocks reads the fenced blocks of a markdown file, each with the marker
// on the line before its fence (blank lines between are allowed).
func blocks(t *testing.T, file string) []block {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []block
	var kind, arg string
	var cur *block
	var indent, fence string
	n := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		n++
		line := sc.Text()
		trimmed := strings.TrimLeft(line, " ")
		if cur != nil {
			if strings.HasPrefix(trimmed, fence) && strings.TrimSpace(trimmed) == fence {
				out = append(out, *cur)
				cur = nil
				continue
			}
			cur.body += strings.TrimPrefix(line, indent) + "\n"
			continue
		}
		if m := markerRE.FindStringSubmatch(line); m != nil {
			kind, arg = m[1], m[2]
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			indent = line[:len(line)-len(trimmed)]
			fence = "```"
			cur = &block{file: file, line: n, kind: kind, arg: arg, lang: strings.TrimPrefix(trimmed, "```")}
			kind, arg = "", ""
			continue
		}
		if strings.TrimSpace(line) != "" {
			kind, arg = "", "" // a marker belongs to the block right after it
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur != nil {
		t.Fatalf("%s: the block at line %d is never closed", file, cur.line)
	}
	return out
}

// expectArg reads expect="…" from a marker's argument.
func expectArg(arg string) string {
	m := regexp.MustCompile(`expect="([^"]*)"`).FindStringSubmatch(arg)
	if m == nil {
		return ""
	}
	return m[1]
}
