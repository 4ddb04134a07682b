package config

import (
	"fmt"
	"strings"
)

// expand replaces ${VAR} and ${VAR:-default} in s with values from lookup.
// The default applies when VAR is unset or empty, and may itself hold
// references. "$${" stands for a literal "${"; a "$" not followed by "{" is
// kept as is. It returns one message per problem: an unset variable (named,
// never valued), a bad name or an unterminated reference.
func expand(s string, lookup func(string) (string, bool)) (string, []string) {
	if !strings.Contains(s, "${") {
		return s, nil
	}
	var (
		b        strings.Builder
		problems []string
	)
	for i := 0; i < len(s); {
		switch {
		case strings.HasPrefix(s[i:], "$${"):
			b.WriteString("${")
			i += 3
		case strings.HasPrefix(s[i:], "${"):
			end := closingBrace(s, i+2)
			if end < 0 {
				problems = append(problems, `unterminated "${" (write "$${" for a literal "${")`)
				return s, problems
			}
			v, ps := resolveRef(s[i+2:end], lookup)
			b.WriteString(v)
			problems = append(problems, ps...)
			i = end + 1
		default:
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), problems
}

// closingBrace returns the index of the "}" closing a reference whose body
// starts at from, counting nested "${", or -1.
func closingBrace(s string, from int) int {
	depth := 1
	for i := from; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "${"):
			depth++
			i++
		case s[i] == '}':
			depth--
			if depth == 0 {
				return i
			}
		}
	}
	return -1
}

// resolveRef resolves the body of one ${...} reference.
func resolveRef(ref string, lookup func(string) (string, bool)) (string, []string) {
	name, def, hasDef := strings.Cut(ref, ":-")
	if !validVarName(name) {
		// The text is not echoed: it may be part of a secret that happens to
		// contain "${".
		return "", []string{`a "${...}" reference needs a variable name of letters, digits and _ (write "$${" for a literal "${")`}
	}
	v, ok := lookup(name)
	switch {
	case hasDef && (!ok || v == ""):
		return expand(def, lookup)
	case !ok:
		return "", []string{fmt.Sprintf("${%s} is not set", name)}
	}
	return v, nil
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z':
		case '0' <= r && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
