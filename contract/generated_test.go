package contract_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/certrotator/certrotator/contract/internal/render"
)

// TestGeneratedFilesMatch renders every copy of the NATS contract outside
// Go (deploy/nats's streams, consumers, setup.sh and permissions, README's
// table) from package contract and fails on any difference with the file
// on disk: a change to the contract that was not regenerated, or a hand
// edit of a generated file.
func TestGeneratedFilesMatch(t *testing.T) {
	t.Parallel()
	const root = ".."
	files, err := render.All(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 8 {
		t.Fatalf("rendered %d files, want the 5 JSON files, setup.sh, the permissions and README", len(files))
	}
	for path, want := range files {
		have, err := os.ReadFile(filepath.Join(root, path))
		if err != nil {
			t.Errorf("%s: %v (run `%s`)", path, err, render.Command)
			continue
		}
		if !bytes.Equal(have, want) {
			t.Errorf("%s differs from what package contract generates: run `%s` (and edit package contract, not the file)\n%s",
				path, render.Command, firstDifference(have, want))
		}
	}
}

// firstDifference shows the first line that differs.
func firstDifference(have, want []byte) string {
	h, w := bytes.Split(have, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < max(len(h), len(w)); i++ {
		var hl, wl []byte
		if i < len(h) {
			hl = h[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(hl, wl) {
			return fmt.Sprintf("line %d:\n have: %s\n want: %s", i+1, hl, wl)
		}
	}
	return ""
}
