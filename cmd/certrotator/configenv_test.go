package main

import (
	"strings"
	"testing"

	"github.com/certrotator/certrotator/internal/testkit"
)

// Every command that takes -c reads $CERTROTATOR_CONFIG when -c is not
// given, as the README promises: doctor, history and rollback too.
func TestEveryCommandReadsConfigEnv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	// Invalid on purpose: the command must get as far as loading it.
	path := testkit.WriteFile(t, dir, "env.yaml", "instance: a\nbogus_key: 1\n")
	env := map[string]string{"CERTROTATOR_CONFIG": path}
	for _, args := range [][]string{
		{"validate"}, {"doctor"}, {"history", "api"}, {"rollback", "api", "--to-version", "1"},
		{"plan", "api"}, {"check-source"}, {"rotate", "api"}, {"status"}, {"events"},
	} {
		code, _, errOut := runCLI(t, env, args...)
		if code != exitUsage || !strings.Contains(errOut, "bogus_key") || strings.Contains(errOut, "-c FILE is required") {
			t.Errorf("%q with CERTROTATOR_CONFIG: exit %d, stderr %q; want exit 2 naming the config's problem", args, code, errOut)
		}
	}
}
