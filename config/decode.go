package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

var rootKeys = []string{"instance", "nats", "vault", "tenants", "jobs", "http", "log", "concurrency", "notify"}

// parse decodes and validates data. hostname supplies the default instance.
func parse(data []byte, lookup func(string) (string, bool), hostname func() (string, error)) (*Config, error) {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	d := &decoder{lookup: lookup}
	root := d.document(data)
	var c *Config
	if root != nil {
		c = d.config(root, hostname)
	}
	if len(d.problems) > 0 {
		return nil, &ValidationError{Problems: d.sorted()}
	}
	return c, nil
}

// document parses the YAML text into its root node, reporting a syntax
// error or a second document. An empty file is an empty mapping.
func (d *decoder) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		d.syntaxError(err, data)
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntaxError(err, data)
	default:
		d.add(next.Line, "", "only one YAML document is allowed")
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		return doc.Content[0]
	}
	return &doc
}

var yamlErrorLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlParserProblems start the messages of yaml.v3's parser (as opposed to
// its scanner). For those, yaml.v3 reports a 0-based line (see parser.fail
// in its decode.go), which syntaxError corrects.
var yamlParserProblems = []string{
	"did not find expected ',' or",
	"did not find expected <",
	"did not find expected '-' indicator",
	"did not find expected key",
	"did not find expected node content",
	"found duplicate %",
	"found incompatible YAML document",
	"found undefined tag handle",
}

// blockContexts are the parser problems that yaml.v3 reports at the line
// where the enclosing block starts (its context mark), not at the line that
// broke it: an indentation error deep in a job would point at `jobs:`.
var blockContexts = map[string]string{
	"did not find expected key":           "mapping",
	"did not find expected '-' indicator": "list",
}

// faultyLine finds the line that breaks the block starting at from (both
// 1-based): the shortest prefix of the document that fails with the same
// problem ends with it. A prefix ending before the faulty line parses or
// fails otherwise (a cut quoted string), and a longer one keeps failing the
// same way, so a binary search finds it. 0 when none does.
func faultyLine(lines []string, from int, problem string) int {
	fails := func(n int) bool {
		var doc yaml.Node
		err := yaml.Unmarshal([]byte(strings.Join(lines[:n], "\n")), &doc)
		if err == nil {
			return false
		}
		m := yamlErrorLine.FindStringSubmatch(err.Error())
		return m != nil && m[2] == problem
	}
	lo, hi := max(from, 1), len(lines)
	if hi < lo || !fails(hi) {
		return 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if fails(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// syntaxError turns a yaml.v3 parse error into a problem with its line.
// Such errors describe the syntax and never echo a value.
func (d *decoder) syntaxError(err error, data []byte) {
	msg := err.Error()
	m := yamlErrorLine.FindStringSubmatch(msg)
	if m == nil {
		d.add(0, "", "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
		return
	}
	line, _ := strconv.Atoi(m[1])
	problem := m[2]
	for _, p := range yamlParserProblems {
		if strings.HasPrefix(problem, p) {
			line++
			break
		}
	}
	lines := strings.Split(string(data), "\n")
	if block := blockContexts[problem]; block != "" {
		if at := faultyLine(lines, line, problem); at > line {
			problem += fmt.Sprintf(" (this line is not indented as the %s that starts at line %d)", block, line)
			line = at
		}
	}
	if strings.HasPrefix(problem, "did not find expected ',' or") && line >= 1 && line <= len(lines) && strings.Contains(lines[line-1], "${") {
		// A plain ${VAR} inside {...} or [...] ends at its brace.
		problem += ` (inside {...} or [...], quote a value holding ${VAR}: "${VAR}")`
	}
	d.add(line, "", "invalid YAML: %s", problem)
}

// config reads the root mapping.
func (d *decoder) config(root *yaml.Node, hostname func() (string, error)) *Config {
	s := d.section(root, "", 0, rootKeys...)
	ns := s.sub("nats", natsKeys...)
	c := &Config{
		Instance:    d.instance(s, hostname),
		NATS:        d.nats(ns),
		Tenants:     d.tenants(s),
		HTTP:        d.http(s.sub("http", "listen")),
		Log:         d.log(s.sub("log", "level", "format")),
		Concurrency: s.integer("concurrency", RequestConcurrencyDefault),
	}
	// The NATS credentials are read by nats.go when it connects; reading
	// them here too makes validate (and a start) name a missing one.
	d.readableSecret(ns, "creds_file")
	d.readableSecret(ns, "nkey_file")
	c.Jobs = d.jobList(s, c.Tenants)
	c.Notify = d.notifyList(s, c.Jobs)
	c.Vault = d.vault(s.sub("vault", "address", "namespace", "ca_cert", "auth"), len(c.Jobs) > 0)
	if c.Concurrency < 1 || c.Concurrency > RequestConcurrencyMax {
		s.problem("concurrency", "must be 1 to %d, got %d", RequestConcurrencyMax, c.Concurrency)
	}
	return c
}

func (d *decoder) instance(s section, hostname func() (string, error)) string {
	if v := s.str("instance", ""); v != "" {
		if !validInstance(v) {
			s.problem("instance", "may hold only letters, digits, '.', '-' and '_', at most 64 (it names this replica in events and locks)")
		}
		return v
	}
	h, err := hostname()
	if err != nil || h == "" {
		s.problem("instance", "not set, and the hostname is unknown")
		return ""
	}
	return h
}

func (d *decoder) http(s section) HTTP {
	h := HTTP{Listen: s.str("listen", HTTPListenDefault)}
	if h.Listen != HTTPOff && !isHostPort(h.Listen) {
		s.problem("listen", "%q is not host:port or %q", h.Listen, HTTPOff)
	}
	return h
}

func (d *decoder) log(s section) Log {
	l := Log{Level: s.str("level", LogLevelDefault), Format: s.str("format", LogFormatDefault)}
	switch l.Level {
	case "debug", "info", "warn", "error":
	default:
		s.problem("level", "%q is not one of debug, info, warn, error", l.Level)
	}
	if l.Format != "json" && l.Format != "text" {
		s.problem("format", "%q is not json or text", l.Format)
	}
	return l
}

// secretString reads a field holding a secret: an explicitly empty value
// is a problem, and the value never appears in one.
func (d *decoder) secretString(s section, name string) string {
	v, ok := s.scalar(name, "a string")
	if ok && v == "" {
		s.problem(name, "is empty")
	}
	return v
}

// secretFile reads the file named by a *_file field, trimming the trailing
// newline. A missing, unreadable or empty file is a problem naming the key
// and the file, never the content.
func (d *decoder) secretFile(s section, name string) (path, secret string) {
	path = s.str(name, "")
	if path == "" {
		return "", ""
	}
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		s.problem(name, "reading %q: %s", path, err.Error())
		return path, ""
	}
	secret = strings.TrimRight(string(data), "\r\n")
	if secret == "" {
		s.problem(name, "%q is empty", path)
	}
	return path, secret
}

// readableSecret checks that the file a *_file field names can be read and
// is not empty, for secrets that their user reads itself at each use (so
// that a rotated file is picked up): the content is not kept.
func (d *decoder) readableSecret(s section, name string) {
	_, _ = d.secretFile(s, name)
}

// validInstance reports whether an instance name is safe in events, lock
// values and a server name: no spaces or control characters, bounded.
func validInstance(v string) bool {
	if len(v) > 64 {
		return false
	}
	for _, r := range v {
		ok := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == '_'
		if !ok {
			return false
		}
	}
	return true
}
