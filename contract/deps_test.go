package contract_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestContractImportsNothingOfOurs keeps the dependency direction: the
// wire's package (standard library only) is imported by jobs, the worker and the client, never the
// other way round, and a program that only publishes requests (package
// client) links no PKCS#12 code.
func TestContractImportsNothingOfOurs(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go command to list the imports")
	}
	const module = "github.com/certrotator/certrotator/"
	out, err := exec.Command("go", "list", "-deps", "-test=false", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./contract: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(dep, "/")
		if dep != module+"contract" && strings.Contains(first, ".") && !strings.HasPrefix(dep, "vendor/") {
			t.Errorf("contract depends on %s: the wire's package imports the standard library only", dep)
		}
	}
	out, err = exec.Command("go", "list", "-deps", "../client").CombinedOutput()
	if err != nil {
		t.Fatalf("go list -deps ./client: %v\n%s", err, out)
	}
	for _, dep := range strings.Fields(string(out)) {
		if dep == module+"bundle" || dep == module+"jobs" || strings.Contains(dep, "go-pkcs12") {
			t.Errorf("client depends on %s: a publisher must link no bundle or PKCS#12 code", dep)
		}
	}
}
