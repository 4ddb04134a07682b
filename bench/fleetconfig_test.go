package bench

import (
	"fmt"
	"strings"

	"github.com/certrotator/certrotator/jobs"
)

// workerConfig is what one replica's config file says: the fleet's tenants
// (all on graphsim) and jobs, the harness's NATS and Vault; every tuning
// key (concurrency, the per-run connector concurrency) at its default.
type workerConfig struct {
	Instance, NATSURL, VaultAddr, VaultToken string
	GraphURL, CAFile                         string
	Listen                                   string // the http listener (/readyz, /metrics)
	TenantIDs                                []string
	Jobs                                     []jobs.Job
	AppPerMinute, TenantPerMinute            int
	Schedule                                 string // every job's, "" for none
}

// yaml renders the config as docs/config.md documents it. Secrets are
// ${VAR}s the child's environment holds.
func (c workerConfig) yaml() string {
	var b strings.Builder
	fmt.Fprintf(&b, "instance: %s\nnats:\n  url: %s\nvault:\n  address: %s\n  auth:\n    method: token\n    token: ${%s}\n",
		c.Instance, c.NATSURL, c.VaultAddr, envVaultToken)
	fmt.Fprintf(&b, "http:\n  listen: %s\nlog:\n  level: warn\ntenants:\n", c.Listen)
	for i, id := range c.TenantIDs {
		fmt.Fprintf(&b, "  %s:\n    tenant_id: %s\n    client_id: %s\n    client_secret: ${%s}\n", tenantKeyOf(i), id, fleetClientID, envFleetSecret)
		fmt.Fprintf(&b, "    authority_url: %s\n    graph_url: %s\n", c.GraphURL, c.GraphURL)
		fmt.Fprintf(&b, "    rate_limit: {app_per_minute: %d, tenant_per_minute: %d}\n", c.AppPerMinute, c.TenantPerMinute)
	}
	b.WriteString("jobs:\n")
	for _, j := range c.Jobs {
		fmt.Fprintf(&b, "  - name: %s\n    source: {mount: %s, path: %s, pfx_field: %s, password_field: %s}\n",
			j.Name, j.Source.Mount, j.Source.Path, j.Source.PFXField, j.Source.PasswordField)
		fmt.Fprintf(&b, "    policy: %s\n    max_attempts: %d\n    reencode: %t\n", j.Policy, j.MaxAttempts, j.Reencode)
		if c.Schedule != "" {
			fmt.Fprintf(&b, "    schedule: %q\n", c.Schedule)
		}
		b.WriteString("    connectors:\n")
		for _, ref := range j.Connectors {
			fmt.Fprintf(&b, "      - {tenant: %s, id: %s}\n", ref.Tenant, ref.ID)
		}
	}
	return b.String()
}
