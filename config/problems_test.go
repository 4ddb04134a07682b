package config

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestParseReportsEveryProblemWithLineAndKey(t *testing.T) {
	t.Parallel()
	got := problems(t, string(readTestdata(t, "problems.yaml")), nil)
	type at struct {
		line int
		key  string
	}
	want := []at{
		{3, "nats.url"},
		{4, "nats.subject_prefix"},
		{5, "vault.address"},
		{6, "vault.adress"},
		{7, "vault.auth.role_id"},
		{7, "vault.auth.secret_id_file"},
		{9, "tenants.contoso"},
		{10, "tenants.contoso.tenant_id"},
		{11, "tenants.contoso.cloud"},
		{13, "tenants.bad.key"},
		{17, "tenants.bad.key.workload_identity"},
		{19, "jobs[0].source.path"},
		{20, "jobs[0].sorce"},
		{21, "jobs[0].schedule"},
		{22, "jobs[0].policy"},
		{23, "jobs[0].renew_before"},
		{24, "jobs[0].max_attempts"},
		{26, "jobs[0].connectors[0].tenant"},
		{27, "jobs[0].connectors[1].id"},
		{28, "jobs[0].connectors[2].id"},
		{29, "jobs[1].connectors"},
		{29, "jobs[1].name"},
		{31, "jobs[2].name"},
		{33, "jobs[2].connectors"},
		{34, "http.listen"},
		{35, "log.level"},
		{35, "log.format"},
		{36, "concurrency"},
	}
	gotAt := make([]at, len(got))
	for i, p := range got {
		gotAt[i] = at{p.Line, p.Key}
	}
	if !slices.Equal(gotAt, want) {
		t.Errorf("problems at\n%v\nwant\n%v\nproblems:\n%s", gotAt, want, joinProblems(got))
	}
	// The messages the brief and operators rely on, verbatim.
	for _, w := range []string{
		`line 20: jobs[0].sorce: unknown key; did you mean "source"?`,
		`line 23: jobs[0].renew_before: "3O%" is not a duration or a percentage`,
		`line 26: jobs[0].connectors[0].tenant: unknown tenant "contso"; did you mean "contoso"?`,
	} {
		if !slices.ContainsFunc(got, func(p Problem) bool { return p.String() == w }) {
			t.Errorf("no problem %q in\n%s", w, joinProblems(got))
		}
	}
}

// editCase is one edit of a config file, old (which must occur once)
// replaced by new, and the problem it must cause: at line and key, with a
// message that starts with message.
type editCase struct {
	name, old, new string
	line           int
	key, message   string
}

// wantEditProblems parses base with each case's edit and fails the case
// when its problem is not among those reported. The rule tables of every
// config section run through it.
func wantEditProblems(t *testing.T, base string, tests []editCase) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if n := strings.Count(base, tt.old); n != 1 {
				t.Fatalf("%q occurs %d times, want 1", tt.old, n)
			}
			got := problems(t, strings.Replace(base, tt.old, tt.new, 1), nil)
			for _, p := range got {
				if p.Key == tt.key && p.Line == tt.line && strings.HasPrefix(p.Message, tt.message) {
					return
				}
			}
			t.Errorf("no problem at line %d %s: %s...; got\n%s", tt.line, tt.key, tt.message, joinProblems(got))
		})
	}
}

func joinProblems(ps []Problem) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func TestParseSyntaxErrorHasLine(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, data string
		want       Problem
	}{
		{"scanner", "instance: a\nnats:\n  url: x\n  bad: [\n", Problem{Line: 5, Message: "invalid YAML: did not find expected node content"}},
		{"tab", "instance: a\n\tnats: {}\n", Problem{Line: 2, Message: "invalid YAML: found a tab character that violates indentation"}},
		// The design's first example had this: a plain ${VAR} ends a flow
		// mapping at its brace.
		{"flow mapping", "vault:\n  address: x\n  auth: {method: token, token: ${VAULT_TOKEN}}\n", Problem{Line: 3,
			Message: `invalid YAML: did not find expected ',' or '}' (inside {...} or [...], quote a value holding ${VAR}: "${VAR}")`}},
		{"two documents", "instance: a\n---\ninstance: b\n", Problem{Line: 2, Message: "only one YAML document is allowed"}},
		// yaml.v3 names the line where the mapping starts (3, `- name`);
		// the fault is the key indented one column short (8).
		{"indentation", "instance: a\njobs:\n  - name: api\n    source:\n      mount: secret\n      path: b2c/api\n\n     pfx_field: pfx\n    connectors: []\n",
			Problem{Line: 8, Message: "invalid YAML: did not find expected key (this line is not indented as the mapping that starts at line 3)"}},
		{"indentation in a list", "instance: a\njobs:\n  - name: a\n  - name: b\n bad: 1\n",
			Problem{Line: 5, Message: "invalid YAML: did not find expected key"}}, // already at the fault
		{"not a mapping", "- a\n- b\n", Problem{Line: 1, Message: "expected a mapping, got a list"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, tt.data, nil)
			if len(got) != 1 || got[0] != tt.want {
				t.Errorf("problems = %+v, want [%+v]", got, tt.want)
			}
		})
	}
}

func TestValidationErrorWithoutPath(t *testing.T) {
	t.Parallel()
	e := &ValidationError{Problems: []Problem{{Line: 0, Key: "vault.address", Message: "required"}, {Line: 2, Message: "invalid YAML: x"}}}
	want := "config: 2 problem(s)\n  vault.address: required\n  line 2: invalid YAML: x"
	if e.Error() != want {
		t.Errorf("Error() = %q, want %q", e.Error(), want)
	}
}

func TestParseMergeKeysAreBounded(t *testing.T) {
	t.Parallel()
	var laughs strings.Builder
	laughs.WriteString("a0: &a0 {log: {level: info}}\n")
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&laughs, "a%d: &a%d {<<: [", i, i)
		for j := range 10 {
			if j > 0 {
				laughs.WriteString(", ")
			}
			fmt.Fprintf(&laughs, "*a%d", i-1)
		}
		laughs.WriteString("]}\n")
	}
	laughs.WriteString("<<: *a11\n")
	tests := []struct{ name, data, message string }{
		{"itself", "nats: &x {<<: *x}\n", "a mapping cannot merge itself"},
		{"through another", "nats: &x {tls: &y {<<: *x}, <<: *y}\n", "a mapping cannot merge itself"},
		{"billion laughs", laughs.String(), "more than 1000 merges"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := problems(t, tt.data, nil)
			if !slices.ContainsFunc(got, func(p Problem) bool { return p.Message == tt.message }) {
				t.Errorf("problems = %s, want one saying %q", joinProblems(got), tt.message)
			}
		})
	}
}
