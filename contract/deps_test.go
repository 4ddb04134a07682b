package contract_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestContractImportsNothingOfOurs keeps the dependency direction: the
// wire's package is imported by jobs, the worker and the client, never the
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
		if strings.HasPrefix(dep, module) && dep != module+"contract" {
			t.Errorf("contract depends on %s: the wire's package must import nothing of ours", dep)
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
