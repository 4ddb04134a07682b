package contract_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestCodesSpelledOnce fails when production code outside contract spells
// one of the contract's codes or reasons as a string literal instead of
// naming contract's constant: a second spelling can drift from the wire.
// Only the words with an underscore are checked; "network" or "timeout"
// are also ordinary words (flag names, log keys).
func TestCodesSpelledOnce(t *testing.T) {
	t.Parallel()
	fset := token.NewFileSet()
	own := map[string]bool{}
	for _, f := range []string{"codes.go", "outcome.go"} {
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(file, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
				if s, err := strconv.Unquote(lit.Value); err == nil && strings.Contains(s, "_") && !strings.ContainsAny(s, ". :\"") {
					own[s] = true
				}
			}
			return true
		})
	}
	if len(own) < 20 {
		t.Fatalf("found %d codes in contract, want the codes and reasons", len(own))
	}
	productionLiterals(t, func(pos token.Position, s string) {
		if own[s] {
			t.Errorf("%s spells %q: name contract's constant instead", pos, s)
		}
	})
}

// subjectParts are pieces of the contract's subjects, keys and stream
// names that only a builder in contract should write.
var subjectParts = []string{"$JS.", "$KV.", "KV_", ".request.", ".result.", ".intent.", "seq-", "CERTROTATION_", "certrotation-", "certrotation."}

// TestNoSubjectsBuiltOutsideContract fails when production code outside
// contract writes a piece of a subject, key or stream name itself: every
// one is built by contract, so that the deploy files generated from it
// and the worker cannot disagree.
func TestNoSubjectsBuiltOutsideContract(t *testing.T) {
	t.Parallel()
	productionLiterals(t, func(pos token.Position, s string) {
		for _, part := range subjectParts {
			if strings.Contains(s, part) {
				t.Errorf("%s writes %q by hand: build it with package contract", pos, s)
				return
			}
		}
	})
}

// productionLiterals calls fn with every string literal of the
// repository's production Go files outside contract (and graphsim, which
// speaks Graph, not the contract), struct tags left out.
func productionLiterals(t *testing.T, fn func(token.Position, string)) {
	t.Helper()
	fset := token.NewFileSet()
	err := filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "contract", "graphsim", "testdata", ".git", "bin", "tools":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		file, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				if n.Tag != nil {
					n.Tag = nil // a struct tag is no literal of the wire
				}
			case *ast.BasicLit:
				if n.Kind == token.STRING {
					if s, err := strconv.Unquote(n.Value); err == nil {
						fn(fset.Position(n.Pos()), s)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
