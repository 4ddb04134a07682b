package config

import (
	"fmt"
	"strings"
)

// Problem is one thing wrong with a config file. Its Message never holds the
// value of a secret (a token, password or client secret).
type Problem struct {
	Line    int    `json:"line,omitempty"` // 1-based; 0 when not tied to a line
	Key     string `json:"key,omitempty"`  // e.g. "jobs[2].renew_before"; "" for a YAML syntax error
	Message string `json:"message"`        // e.g. `"3O%" is not a duration or a percentage`
}

// String formats the problem as "line N: key: message".
func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key != "" {
		b.WriteString(p.Key)
		b.WriteString(": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// ValidationError lists every problem of a config file, sorted by line.
type ValidationError struct {
	Path     string // "" when the config was parsed from bytes
	Problems []Problem
}

// Error lists the problems, one per line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	path := e.Path
	if path == "" {
		path = "config"
	}
	fmt.Fprintf(&b, "%s: %d problem(s)", path, len(e.Problems))
	for _, p := range e.Problems {
		b.WriteString("\n  ")
		b.WriteString(p.String())
	}
	return b.String()
}
