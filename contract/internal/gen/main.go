// Command gen writes every copy of the NATS contract outside Go from
// package contract (see package render). `go generate ./contract` runs it
// from contract/, so the repository's root is "..".
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/certrotator/certrotator/contract/internal/render"
)

func main() {
	root := ".."
	if len(os.Args) > 1 {
		root = os.Args[1]
	}
	if err := run(root); err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}

func run(root string) error {
	files, err := render.All(root)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(root, p)
		old, err := os.ReadFile(full)
		if err == nil && bytes.Equal(old, files[p]) {
			continue
		}
		mode := os.FileMode(0o644)
		if filepath.Ext(p) == ".sh" {
			mode = 0o755
		}
		if err := os.WriteFile(full, files[p], mode); err != nil {
			return fmt.Errorf("writing %s: %w", p, err)
		}
		fmt.Println("wrote", p)
	}
	return nil
}
