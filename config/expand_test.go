package config

import (
	"slices"
	"testing"
)

func TestExpand(t *testing.T) {
	t.Parallel()
	lookup := env(map[string]string{"A": "a", "EMPTY": "", "DOLLAR": "${A}"})
	tests := []struct {
		in, want string
		problems []string
	}{
		{"plain", "plain", nil},
		{"${A}", "a", nil},
		{"x${A}y${A}z", "xayaz", nil},
		{"${UNSET:-def}", "def", nil},
		{"${EMPTY:-def}", "def", nil},
		{"${A:-def}", "a", nil},
		{"${UNSET:-}", "", nil},
		{"${UNSET:-${A}}", "a", nil},
		{"${UNSET:-x:-y}", "x:-y", nil},
		{"${DOLLAR}", "${A}", nil}, // values are not expanded again
		{"$${A}", "${A}", nil},
		{"$$${A}", "$${A}", nil}, // "$" then the escape "$${"
		{"$A $ $$ a$b", "$A $ $$ a$b", nil},
		{"${UNSET}", "", []string{"${UNSET} is not set"}},
		{"${UNSET} ${OTHER}", " ", []string{"${UNSET} is not set", "${OTHER} is not set"}},
		{"${A", "${A", []string{`unterminated "${" (write "$${" for a literal "${")`}},
		{"${}", "", []string{`a "${...}" reference needs a variable name of letters, digits and _ (write "$${" for a literal "${")`}},
		{"${1A}", "", []string{`a "${...}" reference needs a variable name of letters, digits and _ (write "$${" for a literal "${")`}},
	}
	for _, tt := range tests {
		got, problems := expand(tt.in, lookup)
		if got != tt.want || !slices.Equal(problems, tt.problems) {
			t.Errorf("expand(%q) = %q, %q; want %q, %q", tt.in, got, problems, tt.want, tt.problems)
		}
	}
}
