package e2e

import (
	"testing"
	"time"

	"github.com/certrotator/certrotator/internal/testkit"
)

// validFor is a bundle valid from an hour ago for d, protected by password,
// encoded SHA1/3DES with the kit's CA as chain.
func validFor(tb testing.TB, d time.Duration, password string) testkit.Bundle {
	tb.Helper()
	now := time.Now()
	return testkit.NewBundle(tb, testkit.BundleSpec{CN: "api.e2e.example", NotBefore: now.Add(-time.Hour), NotAfter: now.Add(d), Password: password})
}
