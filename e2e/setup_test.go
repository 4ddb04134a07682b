package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/connector/graphsim"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/testkit"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/vaultsrc"
	"github.com/certrotator/certrotator/vaultsrc/vaulttest"
)

const (
	tenantKey = "contoso"
	tenantID  = "00000000-0000-4000-8000-0000000000c1"
	clientID  = "11111111-1111-4111-8111-111111111111"
	secret    = "graph-client-secret-Ee2e~s3cr3t"
	mount     = "secret"
	keySetID  = "B2C_1A_RestApiClientCertificate"
)

var connectorIDs = []string{
	"7b3a0c1e-aaaa-4bbb-8ccc-000000000001",
	"7b3a0c1e-aaaa-4bbb-8ccc-000000000002",
	"7b3a0c1e-aaaa-4bbb-8ccc-000000000003",
}

// stack is one test's real parts: a Vault dev server, the Graph emulator,
// and the pipeline over the real adapters.
type stack struct {
	vault   *vaulttest.Server
	graph   *graphsim.Server
	source  *vaultsrc.Client
	conn    *connector.Client
	rotator *jobs.Rotator
	logs    *testkit.LogBuffer
	waits   *testkit.Sleeps // the retry waits the Graph client asked for
}

// setup starts Vault and graphsim (with the given seeded connectors) and
// builds the pipeline over them, logging at debug level into s.logs.
func setup(t *testing.T, seeds map[string][]graphsim.Cert) *stack {
	t.Helper()
	return newStack(t, seeds, stackLinks{})
}

// stackLinks bend the pipeline's connections, for the fault tests; the
// zero value connects straight to Vault and graphsim.
type stackLinks struct {
	vault func(addr string) string                  // the address to dial for the Vault at addr
	graph func(http.RoundTripper) http.RoundTripper // the Graph client's transport around graphsim's
}

// newStack is setup with the pipeline's links bent by links.
func newStack(t *testing.T, seeds map[string][]graphsim.Cert, links stackLinks) *stack {
	t.Helper()
	s := &stack{vault: vaulttest.Start(t), logs: &testkit.LogBuffer{}, waits: &testkit.Sleeps{}}
	logger := loggerTo(s.logs)
	s.graph = graphsim.NewTest(t).AddTenant(tenantID, clientID, secret)
	for _, id := range connectorIDs {
		s.graph.AddConnector(tenantID, id, "connector "+id[len(id)-1:], seeds[id]...)
	}
	// An empty B2C policy key container, for jobs with keysets.
	s.graph.AddKeySet(tenantID, keySetID)
	s.graph.Start()
	vaultAddr, transport := s.vault.Addr, s.graph.Client().Transport
	if links.vault != nil {
		vaultAddr = links.vault(vaultAddr)
	}
	if links.graph != nil {
		transport = links.graph(transport)
	}
	ctx := context.Background()
	var err error
	s.source, err = vaultsrc.New(ctx, vaultsrc.Config{Address: vaultAddr, Auth: vaultsrc.Auth{Method: "token", Token: s.vault.Token}, Logger: logger})
	if err != nil {
		t.Fatalf("building vault source: %v", err)
	}
	s.conn, err = connector.New(connector.Config{
		Tenants:   map[string]connector.Tenant{tenantKey: {TenantID: tenantID, ClientID: clientID, ClientSecret: secret, AuthorityURL: s.graph.URL(), GraphURL: s.graph.URL()}},
		Transport: transport,
		Logger:    logger,
		SleepFunc: s.waits.Sleep,
	})
	if err != nil {
		t.Fatalf("building graph client: %v", err)
	}
	s.rotator, err = jobs.New(jobs.Config{Source: s.source, Connector: s.conn, Logger: logger})
	if err != nil {
		t.Fatalf("building rotator: %v", err)
	}
	return s
}

// loggerTo logs everything, debug included, as JSON into w, so that tests
// can search the logs for secrets.
func loggerTo(w *testkit.LogBuffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// job binds the bundle at secret/<path> to the given connectors.
func job(path string, ids ...string) jobs.Job {
	j := jobs.Job{
		Name:        "contoso-api",
		Source:      jobs.SourceRef{Mount: mount, Path: path, PFXField: "pfx", PasswordField: "password"},
		Policy:      jobs.PolicyOnChange,
		MinValidity: jobs.MinValidityDefault,
		WarnBefore:  jobs.WarnBeforeDefault(),
		MaxAttempts: jobs.MaxAttemptsDefault,
		Reencode:    true,
	}
	for _, id := range ids {
		j.Connectors = append(j.Connectors, jobs.ConnectorRef{Tenant: tenantKey, ID: id})
	}
	return j
}

// rotate runs one rotation of j by the stack's pipeline.
func (s *stack) rotate(t *testing.T, j jobs.Job, req jobs.Request) []jobs.Outcome {
	t.Helper()
	return s.rotateBy(t, s.rotator, j, req)
}

// rotateFirst is rotate's outcome for the first connector.
func (s *stack) rotateFirst(t *testing.T, j jobs.Job, req jobs.Request) jobs.Outcome {
	t.Helper()
	return byConnector(t, s.rotate(t, j, req))[connectorIDs[0]]
}

// rotateBy runs one rotation of j by rot (a pipeline over the stack's
// parts, built for the test), within a minute; the request names the job
// and the test unless req does.
func (s *stack) rotateBy(t *testing.T, rot *jobs.Rotator, j jobs.Job, req jobs.Request) []jobs.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if req.Job == "" {
		req.Job = j.Name
	}
	if req.ID == "" {
		req.ID = "e2e-" + t.Name()
	}
	return rot.Rotate(ctx, j, req)
}

// byConnector keeps the rotation outcomes (not the expiring warnings) by
// connector id, failing on duplicates.
func byConnector(t *testing.T, outs []jobs.Outcome) map[string]jobs.Outcome {
	t.Helper()
	m := map[string]jobs.Outcome{}
	for _, o := range outs {
		if o.Status == contract.StatusExpiring {
			continue
		}
		if _, dup := m[o.Connector]; dup {
			t.Fatalf("two outcomes for connector %s: %+v", o.Connector, outs)
		}
		m[o.Connector] = o
	}
	return m
}

// put writes b to secret/<path> (a new KV version) and returns it.
func (s *stack) put(t *testing.T, path string, b testkit.Bundle) testkit.Bundle {
	t.Helper()
	s.vault.PutBundle(t, mount, path, b.PFX, b.Password)
	return b
}

func (s *stack) uploads(id string) []string { return s.graph.Uploads(tenantID, id) }

func (s *stack) active(t *testing.T, id string) string {
	t.Helper()
	for _, c := range s.graph.Certificates(tenantID, id) {
		if c.IsActive {
			return c.Thumbprint
		}
	}
	return ""
}
