package graphsim_test

import (
	"testing"
	"time"

	"go.uber.org/goleak"
	"software.sslmate.com/src/go-pkcs12"

	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/internal/testkit"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	tenantID     = "11111111-aaaa-bbbb-cccc-000000000001"
	clientID     = "22222222-aaaa-bbbb-cccc-000000000002"
	clientSecret = "s3cr3t-value~abc"
	connID       = "7b3a0c1e-aaaa-bbbb-cccc-000000000001"
	otherTenant  = "11111111-aaaa-bbbb-cccc-000000000009"
	otherClient  = "22222222-aaaa-bbbb-cccc-000000000009"
	otherSecret  = "other-secret"
	otherConnID  = "7b3a0c1e-aaaa-bbbb-cccc-000000000009"
)

// setup starts an emulator with two tenants, one connector each, and
// returns it with a token for tenantID.
func setup(t *testing.T, configure ...func(*graphsim.Server)) (*graphsim.Server, string) {
	t.Helper()
	s := graphsim.NewTest(t).
		AddTenant(tenantID, clientID, clientSecret).
		AddTenant(otherTenant, otherClient, otherSecret).
		AddConnector(tenantID, connID, "contoso-api").
		AddConnector(otherTenant, otherConnID, "fabrikam-api")
	for _, f := range configure {
		f(s)
	}
	s.Start()
	return s, testkit.GraphToken(t, s, tenantID, clientID, clientSecret)
}

// newBundle is a self-signed EC bundle valid between nb and na, encoded
// with enc.
func newBundle(t *testing.T, enc *pkcs12.Encoder, nb, na time.Time) testkit.Bundle {
	t.Helper()
	return testkit.NewBundle(t, testkit.BundleSpec{Encoder: enc, NotBefore: nb, NotAfter: na, SelfSigned: true})
}
