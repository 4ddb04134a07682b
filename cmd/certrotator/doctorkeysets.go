package main

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/connector"
	"github.com/certrotator/certrotator/jobs"
)

// keySetPermission is the Graph application permission jobs with keysets
// need besides graphPermission.
const keySetPermission = "TrustFrameworkKeySet.ReadWrite.All"

// checkKeySets reads each key set a job binds, and its active key, as the
// rotation's first step does.
func (d *doctor) checkKeySets(cfg *config.Config, off *offline) {
	for _, j := range cfg.Jobs {
		for _, k := range j.KeySets {
			ctx, cancel := d.ctx()
			st, err := off.graph.GetKeySet(ctx, k.Tenant, k.ID)
			var active jobs.PolicyKey
			var hasActive bool
			if err == nil {
				active, hasActive, err = off.graph.ActiveKey(ctx, k.Tenant, k.ID)
			}
			cancel()
			d.report(keySetFinding(k, j.Name, cfg.Tenants[k.Tenant], st, active, hasActive, err))
		}
	}
}

// keySetFinding judges the read of one key set: a 403 names the
// permission, a 404 says how to create the container.
func keySetFinding(k jobs.KeySetRef, job string, t config.Tenant, st jobs.KeySetState, active jobs.PolicyKey, hasActive bool, err error) finding {
	f := finding{Area: "graph", Check: fmt.Sprintf("tenant %s keyset %s (job %s)", k.Tenant, k.ID, job), Verdict: verdictFail}
	var ge *connector.GraphError
	switch {
	case err == nil && !hasActive:
		f.Verdict = verdictWarn
		f.Detail = fmt.Sprintf("%d keys, none active now: policies that use this container fail", len(st.Keys))
		f.Fix = "run the job (it uploads the bundle) or upload a valid key in the portal"
	case err == nil:
		f.Verdict = verdictOK
		f.Detail = fmt.Sprintf("%d keys, active %s", len(st.Keys), active.Kid)
		if !active.NotAfter.IsZero() {
			f.Detail += " until " + active.NotAfter.UTC().Format("2006-01-02")
		}
		f.Detail += " (Graph beta)"
	case errors.Is(err, connector.ErrDenied), errors.As(err, &ge) && ge.Status == http.StatusForbidden:
		f.Detail = err.Error()
		f.Fix = fmt.Sprintf("grant app %s the Microsoft Graph application permission %s and admin consent in tenant %s "+
			"(docs/onboarding.md, custom-policy key containers)", t.ClientID, keySetPermission, t.TenantID)
	case errors.Is(err, connector.ErrNotFound):
		f.Detail = "no policy key container " + k.ID + " in tenant " + t.TenantID
		f.Fix = "create it in the portal (Identity Experience Framework, Policy keys, Add) or with Graph's POST /beta/trustFramework/keySets, or correct the id; certrotator does not create containers"
	default:
		f.Detail = err.Error()
		f.Fix = "check that this host reaches Microsoft Graph (" + orDefault(t.GraphURL, "graph.microsoft.com") + ") and run doctor again"
	}
	return f
}
