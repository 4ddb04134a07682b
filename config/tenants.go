package config

import (
	"strings"

	"github.com/certrotator/certrotator/jobs"
)

var tenantKeys = []string{
	"tenant_id", "cloud", "client_id", "client_secret", "client_secret_file",
	"client_certificate_file", "workload_identity", "authority_url", "graph_url",
	"rate_limit",
}

// credentialKeys are the ways a tenant authenticates to Graph; exactly one
// is set.
var credentialKeys = []string{"client_secret", "client_secret_file", "client_certificate_file", "workload_identity"}

// tenants reads the `tenants` mapping, keyed by tenant key.
func (d *decoder) tenants(root section) map[string]Tenant {
	out := map[string]Tenant{}
	n := root.mapping("tenants")
	if n == nil {
		return out
	}
	for _, e := range d.pairs(n, "tenants") {
		name := e.key.Value
		path := join("tenants", name)
		if !jobs.ValidName(name) {
			d.add(e.key.Line, path, "tenant keys may hold only letters, digits, - and _")
		}
		out[name] = d.tenant(d.section(e.value, path, e.key.Line, tenantKeys...))
	}
	return out
}

func (d *decoder) tenant(s section) Tenant {
	t := Tenant{
		TenantID:              s.str("tenant_id", ""),
		Cloud:                 s.str("cloud", CloudDefault),
		ClientID:              s.str("client_id", ""),
		ClientCertificateFile: s.str("client_certificate_file", ""),
		WorkloadIdentity:      s.boolean("workload_identity", false),
		AuthorityURL:          s.str("authority_url", ""),
		GraphURL:              s.str("graph_url", ""),
		RateLimit:             d.rateLimit(s.sub("rate_limit", rateLimitKeys...)),
	}
	d.requireGUID(s, "tenant_id", t.TenantID)
	d.requireGUID(s, "client_id", t.ClientID)
	if t.Cloud != CloudGlobal && t.Cloud != CloudChina {
		s.problem("cloud", "%q is not global or china", t.Cloud)
	}
	for _, k := range []string{"authority_url", "graph_url"} {
		if v := s.str(k, ""); v != "" && !isHTTPURL(v) {
			s.problem(k, "%q is not an http:// or https:// URL", redactURL(v))
		}
	}
	d.credential(s, &t)
	return t
}

func (d *decoder) requireGUID(s section, name, v string) {
	switch {
	case !s.has(name):
		s.problem(name, "required")
	case !jobs.IsGUID(v):
		s.problem(name, "%q is not a GUID", v)
	}
}

// credential reads the tenant's one credential, loading client_secret_file.
func (d *decoder) credential(s section, t *Tenant) {
	if s.has("client_secret") {
		t.ClientSecret = d.secretString(s, "client_secret")
	}
	if s.has("client_secret_file") {
		var secret string
		t.ClientSecretFile, secret = d.secretFile(s, "client_secret_file")
		t.ClientSecret = secret
	}
	var set []string
	for _, k := range credentialKeys {
		if s.has(k) && (k != "workload_identity" || t.WorkloadIdentity) {
			set = append(set, k)
		}
	}
	switch len(set) {
	case 0:
		d.add(s.line, s.path, "needs one credential: client_secret, client_secret_file, client_certificate_file or workload_identity: true")
	case 1:
	default:
		s.problem(set[1], "set only one of %s (%s is set too)", strings.Join(credentialKeys, ", "), set[0])
	}
}
