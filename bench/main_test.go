package bench

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run when a benchmark leaves goroutines behind: a
// leak in the worker would otherwise only show as a slow creep in RSS.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
