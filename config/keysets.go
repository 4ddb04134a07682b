package config

import (
	"fmt"
	"strings"

	"github.com/certrotator/certrotator/jobs"
)

// keySets reads a job's `keysets`: B2C custom-policy key containers fed
// the same bundle as its connectors. The id keeps its spelling (B2C shows
// it as created); duplicates are found case-insensitively, as B2C compares
// key container names. A container bound to two jobs would get two
// bundles: refused like a connector bound twice.
func (d *decoder) keySets(s section, job string, tenants map[string]Tenant, bound map[string]binding) []jobs.KeySetRef {
	items := s.list("keysets")
	var out []jobs.KeySetRef // nil when none, like every absent list

	for i, n := range items {
		ks := d.section(n, fmt.Sprintf("%s[%d]", s.key("keysets"), i), resolve(n).Line, "tenant", "id")
		ref := jobs.KeySetRef{Tenant: ks.str("tenant", ""), ID: ks.str("id", "")}
		d.connectorTenant(ks, ref.Tenant, tenants)
		switch {
		case ref.ID == "":
			ks.problem("id", "required: the key container's name as the portal shows it, e.g. B2C_1A_RestApiClientCertificate")
		case !jobs.IsKeySetID(ref.ID):
			ks.problem("id", "%q is not a policy key container id: want B2C_1A_ followed by letters, digits, _ or - (the portal adds the B2C_1A_ prefix)", ref.ID)
		default:
			d.bind(ks, job, "keyset:"+ref.Tenant+":"+strings.ToLower(ref.ID), "key set", bound)
		}
		out = append(out, ref)
	}
	return out
}
