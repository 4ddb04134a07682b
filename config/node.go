package config

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// decoder walks the YAML tree and collects every problem instead of
// stopping at the first one.
type decoder struct {
	lookup   func(string) (string, bool)
	problems []Problem
	// merging holds the mappings whose "<<" merge is being expanded, to stop
	// a mapping that merges itself; merges counts expansions, to bound the
	// work of merges of merges (the YAML "billion laughs").
	merging map[*yaml.Node]bool
	merges  int
	// sectionFunc, when set, hears the keys every section accepts, so that
	// a test can list the whole schema from the decoder's own tables
	// (config/reference_test.go checks docs/config.md against it).
	sectionFunc func(path string, known []string)
}

// mergesMax bounds how many mappings "<<" keys may merge in one file.
const mergesMax = 1000

func (d *decoder) add(line int, key, format string, args ...any) {
	d.problems = append(d.problems, Problem{Line: line, Key: key, Message: fmt.Sprintf(format, args...)})
}

// sorted returns the problems ordered by line, keeping the walk's order
// within a line, without the duplicates that an anchor merged in several
// places produces.
func (d *decoder) sorted() []Problem {
	sort.SliceStable(d.problems, func(i, j int) bool { return d.problems[i].Line < d.problems[j].Line })
	out := d.problems[:0]
	seen := map[Problem]bool{}
	for _, p := range d.problems {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// entry is one key and value of a YAML mapping.
type entry struct {
	key, value *yaml.Node
}

// resolve follows aliases.
func resolve(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = resolve(n)
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// kindName says what a node is, for "expected X, got Y" messages.
func kindName(n *yaml.Node) string {
	return kindText(resolve(n).Kind)
}

// kindText says what a node of kind k is.
func kindText(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return "a scalar"
}

// pairs returns the entries of mapping n in order, with merge keys ("<<")
// applied, reporting duplicate and non-scalar keys.
func (d *decoder) pairs(n *yaml.Node, path string) []entry {
	var (
		out    []entry
		merged []entry
		seen   = map[string]int{}
	)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		switch {
		case k.Kind != yaml.ScalarNode:
			d.add(k.Line, path, "keys must be plain strings, not %s", kindName(k))
		case k.ShortTag() == "!!merge":
			merged = append(merged, d.mergeSources(v, path)...)
		case seen[k.Value] > 0:
			d.add(k.Line, join(path, k.Value), "duplicate key (first at line %d)", seen[k.Value])
		default:
			seen[k.Value] = k.Line
			out = append(out, entry{k, v})
		}
	}
	for _, e := range merged {
		if seen[e.key.Value] == 0 {
			seen[e.key.Value] = e.key.Line
			out = append(out, e)
		}
	}
	return out
}

// mergeSources returns the entries a "<<" key merges in: one mapping or a
// list of them, earlier ones winning.
func (d *decoder) mergeSources(v *yaml.Node, path string) []entry {
	v = resolve(v)
	srcs := []*yaml.Node{v}
	if v.Kind == yaml.SequenceNode {
		srcs = v.Content
	}
	var out []entry
	for _, s := range srcs {
		s = resolve(s)
		switch {
		case s.Kind != yaml.MappingNode:
			d.add(s.Line, join(path, "<<"), "can only merge mappings, not %s", kindName(s))
		case d.merging[s]:
			d.add(s.Line, join(path, "<<"), "a mapping cannot merge itself")
		case d.merges >= mergesMax:
			d.add(s.Line, join(path, "<<"), "more than %d merges", mergesMax)
			return out
		default:
			d.merges++
			if d.merging == nil {
				d.merging = map[*yaml.Node]bool{}
			}
			d.merging[s] = true
			out = append(out, d.pairs(s, path)...)
			delete(d.merging, s)
		}
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// sensitive reports whether a key holds a secret whose value must never
// appear in a problem. Paths (_file) and field names (_field) are not secret.
func sensitive(key string) bool {
	name := strings.ToLower(key[strings.LastIndexAny(key, ".]")+1:])
	if strings.HasSuffix(name, "_file") || strings.HasSuffix(name, "_field") {
		return false
	}
	for _, w := range []string{"secret", "token", "password", "passwd", "credential", "jwt"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// shown quotes value for a problem message, or hides it when key is
// sensitive.
func shown(key, value string) string {
	if sensitive(key) {
		return "the value"
	}
	return strconv.Quote(value)
}

// scalar returns the expanded text of n, the value of key. ok is false when
// n is nil or null, or when a problem was reported (want names the expected
// type).
func (d *decoder) scalar(n *yaml.Node, key, want string) (string, bool) {
	if isNull(n) {
		return "", false
	}
	if n = resolve(n); n.Kind != yaml.ScalarNode {
		d.add(n.Line, key, "expected %s, got %s", want, kindName(n))
		return "", false
	}
	v, problems := expand(n.Value, d.lookup)
	for _, p := range problems {
		d.add(n.Line, key, "%s", p)
	}
	return v, len(problems) == 0
}
