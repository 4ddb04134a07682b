package config

import (
	"cmp"
	"slices"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// section is one YAML mapping with a fixed set of keys, read field by field.
// An absent or null mapping is an empty section, so every field takes its
// default.
type section struct {
	d       *decoder
	path    string // dotted key of the mapping, "" for the root
	line    int    // line of the mapping's key, for problems about a missing field
	entries map[string]entry
}

// section reads n as a mapping whose keys must be among known, reporting
// unknown keys (with a suggestion) and a value that is not a mapping.
func (d *decoder) section(n *yaml.Node, path string, line int, known ...string) section {
	s := section{d: d, path: path, line: line, entries: map[string]entry{}}
	if d.sectionFunc != nil {
		d.sectionFunc(path, known)
	}
	if isNull(n) {
		return s
	}
	if n = resolve(n); n.Kind != yaml.MappingNode {
		d.add(n.Line, path, "expected a mapping, got %s", kindName(n))
		return s
	}
	if s.line == 0 {
		s.line = n.Line
	}
	for _, e := range d.pairs(n, path) {
		if !slices.Contains(known, e.key.Value) {
			d.unknownKey(e.key, path, known)
			continue
		}
		s.entries[e.key.Value] = e
	}
	return s
}

func (d *decoder) unknownKey(k *yaml.Node, path string, known []string) {
	if hint := suggest(k.Value, known); hint != "" {
		d.add(k.Line, join(path, k.Value), "unknown key; did you mean %q?", hint)
		return
	}
	d.add(k.Line, join(path, k.Value), "unknown key")
}

func (s section) key(name string) string { return join(s.path, name) }

// has reports whether the field is present with a non-null value.
func (s section) has(name string) bool {
	e, ok := s.entries[name]
	return ok && !isNull(e.value)
}

// lineOf is the line of the field's key, or of the section when absent.
func (s section) lineOf(name string) int {
	if e, ok := s.entries[name]; ok {
		return e.key.Line
	}
	return s.line
}

// problem reports a problem about the field.
func (s section) problem(name, format string, args ...any) {
	s.d.add(s.lineOf(name), s.key(name), format, args...)
}

// node returns the field's value node (aliases followed), nil when absent
// or null.
func (s section) node(name string) *yaml.Node {
	if !s.has(name) {
		return nil
	}
	return resolve(s.entries[name].value)
}

// scalar returns the field's expanded text. ok is false when the field is
// absent or null, or when a problem was reported (want names the expected
// type).
func (s section) scalar(name, want string) (string, bool) {
	return s.d.scalar(s.node(name), s.key(name), want)
}

// str returns the field's text, or def when it is absent or empty.
func (s section) str(name, def string) string {
	v, _ := s.scalar(name, "a string")
	return cmp.Or(v, def)
}

// integer returns the field as an int, or def when it is absent.
func (s section) integer(name string, def int) int {
	v, ok := s.scalar(name, "an integer")
	if !ok {
		return def
	}
	i, err := strconv.Atoi(v)
	if err != nil {
		s.problem(name, "%s is not an integer", shown(s.key(name), v))
		return def
	}
	return i
}

// boolean returns the field as a bool, or def when it is absent.
func (s section) boolean(name string, def bool) bool {
	v, ok := s.scalar(name, "true or false")
	if !ok {
		return def
	}
	switch v {
	case "true", "True", "TRUE":
		return true
	case "false", "False", "FALSE":
		return false
	}
	s.problem(name, "%s is not true or false", shown(s.key(name), v))
	return def
}

// duration returns the field as a duration (Go syntax plus d for days), or
// def when it is absent.
func (s section) duration(name string, def time.Duration) time.Duration {
	if d, _, ok := s.parsedDuration(name, "90m, 1h30m or 30d"); ok {
		return d
	}
	return def
}

// parsedDuration reads the field as a duration and returns it with the
// text it was written as. ok is false when the field is absent, null or
// not a scalar (scalar reports the last), or when the text does not parse:
// that is reported here with examples of the spellings the field takes.
func (s section) parsedDuration(name, examples string) (d time.Duration, text string, ok bool) {
	v, ok := s.scalar(name, "a duration")
	if !ok {
		return 0, "", false
	}
	if d, ok = parseDuration(v); !ok {
		s.problem(name, "%s is not a duration (such as %s)", shown(s.key(name), v), examples)
		return 0, v, false
	}
	return d, v, true
}

// sub reads the field as a nested section with the given keys.
func (s section) sub(name string, known ...string) section {
	var n *yaml.Node
	if e, ok := s.entries[name]; ok {
		n = e.value
	}
	return s.d.section(n, s.key(name), s.lineOf(name), known...)
}

// list returns the items of a list field, nil when absent, null or not a
// list (reported).
func (s section) list(name string) []*yaml.Node {
	if n := s.nodeOfKind(name, yaml.SequenceNode); n != nil {
		return n.Content
	}
	return nil
}

// mapping returns the node of a mapping field with free-form keys, nil when
// absent, null or not a mapping (reported).
func (s section) mapping(name string) *yaml.Node {
	return s.nodeOfKind(name, yaml.MappingNode)
}

// nodeOfKind returns the field's node when it is of kind k, nil when it is
// absent, null or of another kind (reported).
func (s section) nodeOfKind(name string, k yaml.Kind) *yaml.Node {
	n := s.node(name)
	if n == nil {
		return nil
	}
	if n.Kind != k {
		s.problem(name, "expected %s, got %s", kindText(k), kindName(n))
		return nil
	}
	return n
}
