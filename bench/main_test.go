package bench

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a benchmark leaves goroutines behind: a
// leak in the worker would otherwise only show as a slow creep in RSS. It
// also removes the binaries the fleet harness's process mode built.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m, goleak.Cleanup(func(int) {
		if buildDir != "" {
			_ = os.RemoveAll(buildDir)
		}
	}))
}
