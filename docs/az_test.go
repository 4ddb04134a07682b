package docs_test

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
)

// azShape is testdata/az-shape.json: the az commands the guides may use,
// the flags each accepts and what each answered when recorded.
type azShape struct {
	Common   map[string]bool      `json:"common_flags"`
	Commands map[string]azCommand `json:"commands"`
}

type azCommand struct {
	Flags    map[string]bool `json:"flags"` // true: the flag takes a value
	Answer   any             `json:"answer"`
	AnswerBy string          `json:"answer_by"` // a flag whose value picks one of Answers
	Answers  map[string]any  `json:"answers"`
	JSONFlag string          `json:"json_flag"` // a flag whose value must be a JSON object
	JSONKeys []string        `json:"json_keys"` // keys that object must have
}

// azShimEnv names the shape file for the test binary when it runs as az.
const azShimEnv = "DOCS_TEST_AZ_SHAPE"

// azShim is what the test binary does when the guides call `az`: it checks
// the command and its flags against the recorded shape and prints the
// recorded answer, filtered by --query and formatted by -o as az does. It
// returns az's exit code (2 for a usage error, as az's parser does).
func azShim(args []string, stdout, stderr io.Writer) int {
	data, err := os.ReadFile(os.Getenv(azShimEnv))
	if err != nil {
		fmt.Fprintf(stderr, "az shim: reading the recorded shape: %v\n", err)
		return 1
	}
	var shape azShape
	if err := json.Unmarshal(data, &shape); err != nil {
		fmt.Fprintf(stderr, "az shim: %v\n", err)
		return 1
	}
	var words []string
	for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		words, args = append(words, args[0]), args[1:]
	}
	name := strings.Join(words, " ")
	cmd, ok := shape.Commands[name]
	if !ok {
		fmt.Fprintf(stderr, "az: '%s' is not an az command recorded in testdata/az-shape.json\n", name)
		return 2
	}
	flags := map[string]string{}
	for len(args) > 0 {
		f := args[0]
		args = args[1:]
		takes, known := cmd.Flags[f]
		if !known {
			takes, known = shape.Common[f]
		}
		if !known {
			fmt.Fprintf(stderr, "az %s: unrecognized argument: %s\n", name, f)
			return 2
		}
		if takes {
			if len(args) == 0 {
				fmt.Fprintf(stderr, "az %s: argument %s: expected one argument\n", name, f)
				return 2
			}
			flags[f], args = args[0], args[1:]
		} else {
			flags[f] = ""
		}
	}
	if body, given := flags[cmd.JSONFlag]; cmd.JSONFlag != "" && given {
		var obj map[string]any
		if err := json.Unmarshal([]byte(body), &obj); err != nil {
			fmt.Fprintf(stderr, "az %s: %s is not JSON: %v\n", name, cmd.JSONFlag, err)
			return 1
		}
		for _, k := range cmd.JSONKeys {
			if _, ok := obj[k]; !ok {
				fmt.Fprintf(stderr, "az %s: %s lacks %q\n", name, cmd.JSONFlag, k)
				return 1
			}
		}
	}
	answer := cmd.Answer
	if cmd.AnswerBy != "" {
		a, ok := cmd.Answers[flags[cmd.AnswerBy]]
		if !ok {
			fmt.Fprintf(stderr, "az %s: no recorded answer for %s %s\n", name, cmd.AnswerBy, flags[cmd.AnswerBy])
			return 1
		}
		answer = a
	}
	if q, ok := flags["--query"]; ok {
		v, err := jmesPath(answer, q)
		if err != nil {
			fmt.Fprintf(stderr, "az %s: --query %s: %v\n", name, q, err)
			return 1
		}
		answer = v
	}
	if answer == nil {
		return 0
	}
	switch out := flags["-o"] + flags["--output"]; out {
	case "tsv":
		for _, line := range tsv(answer) {
			fmt.Fprintln(stdout, line)
		}
	case "", "json":
		b, _ := json.MarshalIndent(answer, "", "  ")
		fmt.Fprintln(stdout, string(b))
	default:
		fmt.Fprintf(stderr, "az: output format %q is not one the docs test knows\n", out)
		return 2
	}
	return 0
}

// tsv prints a value as az -o tsv does: scalars on a line each, a list one
// element per line.
func tsv(v any) []string {
	switch x := v.(type) {
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, tsv(e)...)
		}
		return out
	case string:
		return []string{x}
	default:
		b, _ := json.Marshal(x)
		return []string{string(b)}
	}
}

var filterRE = regexp.MustCompile(`^(\w+)\[\?(\w+)=='([^']*)'\]\.(\w+)$`)

// jmesPath evaluates the JMESPath forms the guides use: a dotted path
// (a.b), a projection (list[].field) and a filter (list[?k=='v'].field). A
// path that selects nothing is an error: the recorded answer says the docs'
// query no longer matches what az returns.
func jmesPath(v any, q string) (any, error) {
	if m := filterRE.FindStringSubmatch(q); m != nil {
		list, _ := field(v, m[1]).([]any)
		var out []any
		for _, e := range list {
			if fmt.Sprint(field(e, m[2])) == m[3] {
				out = append(out, field(e, m[4]))
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("selects nothing in the recorded answer")
		}
		return out, nil
	}
	if list, rest, ok := strings.Cut(q, "[]."); ok {
		items, _ := field(v, list).([]any)
		var out []any
		for _, e := range items {
			if x := field(e, rest); x != nil {
				out = append(out, x)
			}
		}
		if len(out) == 0 {
			return nil, fmt.Errorf("selects nothing in the recorded answer")
		}
		return out, nil
	}
	for _, k := range strings.Split(q, ".") {
		v = field(v, k)
	}
	if v == nil {
		return nil, fmt.Errorf("selects nothing in the recorded answer")
	}
	return v, nil
}

func field(v any, k string) any {
	m, _ := v.(map[string]any)
	return m[k]
}
