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
	return bundleFrom(tb, -time.Hour, d, testkit.BundleSpec{CN: "api.e2e.example", Password: password})
}

// bundleFrom is the bundle spec describes, valid from now+from to now+until
// (a positive from is a staged bundle).
func bundleFrom(tb testing.TB, from, until time.Duration, spec testkit.BundleSpec) testkit.Bundle {
	tb.Helper()
	now := time.Now()
	spec.NotBefore, spec.NotAfter = now.Add(from), now.Add(until)
	return testkit.NewBundle(tb, spec)
}
