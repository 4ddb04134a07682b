package main

import (
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/jobs"
)

// graphPermission is the Microsoft Graph application permission the app
// registration needs, with admin consent.
const graphPermission = "APIConnectors.ReadWrite.All"

// probeConnectorID is read for a tenant no job uses: Graph answers 404 once
// it has accepted the token, which is all that can be checked then.
const probeConnectorID = "00000000-0000-0000-0000-000000000000"

// checkGraph gets a token for each tenant and reads each connector bound to
// it, as the rotation's first step does. The first read proves the token:
// when it fails to get one, the tenant's other connectors are skipped.
func (d *doctor) checkGraph(cfg *config.Config, off *offline) {
	users := newConnectorUsers(cfg.Jobs)
	keys := make([]string, 0, len(cfg.Tenants))
	for k := range cfg.Tenants {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, key := range keys {
		t := cfg.Tenants[key]
		ids := users.ids(key)
		if len(ids) == 0 {
			d.report(finding{Area: "graph", Check: "tenant " + key, Verdict: verdictWarn, Detail: "no job binds a connector of this tenant",
				Fix: "remove the tenant or bind its connectors in a job"})
			ids = []string{probeConnectorID}
		}
		for i, id := range ids {
			ctx, cancel := d.ctx()
			st, err := off.graph.Get(ctx, key, id)
			cancel()
			if i == 0 {
				tf, ok := graphTokenFinding(key, t, err)
				d.report(tf)
				if !ok {
					break
				}
			}
			if id == probeConnectorID {
				d.report(probeFinding(key, t, err))
				continue
			}
			d.report(connectorFinding(key, t, id, users[key][id], st, err))
		}
	}
}

// graphTokenFinding judges the token of tenant key from the first Graph call's
// error; ok is false when no token was obtained.
func graphTokenFinding(key string, t config.Tenant, err error) (finding, bool) {
	f := finding{Area: "graph", Check: "tenant " + key + " token", Verdict: verdictOK,
		Detail: fmt.Sprintf("obtained for app %s in %s", t.ClientID, t.TenantID)}
	var ae *connector.AuthError
	switch {
	case errors.As(err, &ae):
		f.Verdict, f.Detail, f.Fix = verdictFail, err.Error(), authFix(ae, t)
		return f, false
	case err != nil && jobs.AsFailure(err).Code == connector.CodeInvalidCredential:
		f.Verdict, f.Detail = verdictFail, err.Error()
		f.Fix = "check the tenant's credential keys (client_secret_file, client_certificate_file and its password, federated_token_file)"
		return f, false
	}
	return f, true
}

// authFix names what an Entra ID token refusal usually means.
func authFix(ae *connector.AuthError, t config.Tenant) string {
	switch {
	case ae.Status == 0:
		return "no answer from Entra ID: check that this host reaches the authority (" + orDefault(t.AuthorityURL, "login.microsoftonline.com") + ") and any proxy"
	case ae.Code == "AADSTS7000215" || ae.Code == "AADSTS7000222":
		return "the client secret is wrong or expired: create a new one (az ad app credential reset) and update client_secret_file"
	case ae.Code == "AADSTS700016":
		return "no app " + t.ClientID + " in tenant " + t.TenantID + ": check client_id and tenant_id"
	case ae.Code == "AADSTS90002" || ae.Code == "AADSTS900023":
		return "tenant " + t.TenantID + " not found: check tenant_id (GUID or verified domain) and cloud"
	case ae.Code == "AADSTS700027" || ae.Code == "AADSTS700024":
		return "the client assertion was refused: upload the certificate's public part to the app registration, check the clock"
	case ae.Code == "AADSTS70021":
		return "no federated credential matches the token: check the app's federated credential issuer and subject (docs/onboarding.md)"
	}
	return "check the tenant's client_id, tenant_id and credential (docs/onboarding.md)"
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// connectorFinding judges one GET of a connector.
func connectorFinding(key string, t config.Tenant, id string, usedBy []string, st jobs.ConnectorState, err error) finding {
	f := finding{Area: "graph", Check: fmt.Sprintf("tenant %s connector %s (job %s)", key, id, strings.Join(usedBy, ", ")), Verdict: verdictFail}
	var ge *connector.GraphError
	switch {
	case err == nil:
		f.Verdict = verdictOK
		f.Detail = fmt.Sprintf("%q, %d certificates", st.DisplayName, len(st.Certificates))
		if a, ok := st.Active(); ok {
			f.Detail += fmt.Sprintf(", active %s until %s", a.Thumbprint, a.NotAfter.UTC().Format("2006-01-02"))
		}
		if st.AuthType == "basic" {
			f.Verdict = verdictWarn
			f.Fix = "the connector uses basic auth: the first upload switches it to certificate auth; make sure the API behind it accepts the certificate"
		}
	case errors.Is(err, connector.ErrDenied), errors.As(err, &ge) && ge.Status == http.StatusForbidden:
		f.Detail = err.Error()
		f.Fix = fmt.Sprintf("grant app %s the Microsoft Graph application permission %s and admin consent in tenant %s "+
			"(az ad app permission add, then az ad app permission admin-consent; docs/onboarding.md)", t.ClientID, graphPermission, t.TenantID)
	case errors.Is(err, connector.ErrNotFound):
		f.Detail = "no API connector " + id + " in tenant " + t.TenantID
		f.Fix = "correct the connector id in the job (az rest --method get --url https://graph.microsoft.com/v1.0/identity/apiConnectors lists them)"
	case errors.Is(err, connector.ErrInvalidToken):
		f.Detail = err.Error()
		f.Fix = "Graph refused the token: check the tenant's cloud and graph_url match its authority"
	default:
		f.Detail = err.Error()
		f.Fix = "check that this host reaches Microsoft Graph (" + orDefault(t.GraphURL, "graph.microsoft.com") + ") and run doctor again"
	}
	return f
}

// probeFinding judges the read of probeConnectorID for a tenant no job
// uses: Graph checks the permission before it looks the id up, so a 404 says
// the app may read connectors.
func probeFinding(key string, t config.Tenant, err error) finding {
	if errors.Is(err, connector.ErrNotFound) {
		return finding{Area: "graph", Check: "tenant " + key + " permission", Verdict: verdictOK, Detail: "may read API connectors"}
	}
	f := connectorFinding(key, t, probeConnectorID, nil, jobs.ConnectorState{}, err)
	f.Check = "tenant " + key + " permission"
	if err == nil {
		f.Verdict, f.Detail = verdictOK, "may read API connectors"
	}
	return f
}

// connectorUsers maps tenant key → connector id → the jobs binding it.
type connectorUsers map[string]map[string][]string

func newConnectorUsers(jj []jobs.Job) connectorUsers {
	u := connectorUsers{}
	for _, j := range jj {
		for _, c := range j.Connectors {
			if u[c.Tenant] == nil {
				u[c.Tenant] = map[string][]string{}
			}
			u[c.Tenant][c.ID] = append(u[c.Tenant][c.ID], j.Name)
		}
	}
	return u
}

// ids returns the tenant's connector ids, sorted.
func (u connectorUsers) ids(tenant string) []string {
	ids := make([]string, 0, len(u[tenant]))
	for id := range u[tenant] {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}
