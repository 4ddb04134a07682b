package testkit

import (
	"os"
	"path/filepath"
	"testing"
)

// WriteFile writes content to the file name in dir, readable by its owner
// only as the secret and config files of an installation are, and returns
// its path.
func WriteFile(tb testing.TB, dir, name, content string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatalf("writing %s: %v", p, err)
	}
	return p
}
