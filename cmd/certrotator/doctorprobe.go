package main

import (
	"cmp"
	"fmt"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/probe"
)

// checkProbes runs the probe of every job that has one, as plan does: the
// job's bundle from Vault, each connector's targetUrl from Graph, then a
// call of the API with the certificate and one without. It changes nothing.
func (d *doctor) checkProbes(cfg *config.Config, off *offline) {
	for _, j := range cfg.Jobs {
		if j.Probe == nil {
			continue
		}
		if d.vault == nil {
			d.report(finding{Area: "probe", Check: "job " + j.Name, Verdict: verdictWarn, Detail: "not run: no Vault login to read the bundle",
				Fix: "fix the Vault findings above, then run doctor again"})
			continue
		}
		rot, err := jobs.New(jobs.Config{Source: d.vault, Connector: off.graph, Prober: &probe.Prober{},
			Issuer: d.vault, Writer: d.vault, Versions: d.vault})
		if err != nil {
			d.report(finding{Area: "probe", Check: "job " + j.Name, Verdict: verdictFail, Detail: err.Error()})
			continue
		}
		ctx, cancel := d.ctx()
		ds := rot.Plan(ctx, j, jobs.Request{Job: j.Name, Trigger: contract.TriggerManual, RequestedBy: "doctor"})
		cancel()
		for _, dc := range ds {
			d.report(probeVerdictFinding(dc))
		}
	}
}

// probeVerdictFinding judges one connector's probe in a plan decision.
func probeVerdictFinding(dc jobs.Decision) finding {
	f := finding{Area: "probe", Check: fmt.Sprintf("job %s connector %s", dc.Job, dc.Connector)}
	p := dc.Probe
	switch {
	case p == nil:
		f.Verdict, f.Detail = verdictWarn, "not run"
		if dc.Error != nil {
			f.Detail += ": " + dc.Error.Code + ": " + dc.Error.Message
		}
		f.Fix = "the bundle or the connector could not be read: see the Vault and Graph findings"
	case !p.Accepted && p.Error != nil && p.Error.Code == jobs.CodeAPIRejectsCertificate:
		f.Verdict, f.Detail = verdictFail, p.Error.Message
		f.Fix = "the next rotation will fail and upload nothing: have the API's owner trust the new certificate (its thumbprint or CA; docs/probe.md), then let the retry go ahead"
	case !p.Accepted:
		f.Verdict, f.Detail = verdictFail, cmp.Or(errMessage(p.Error), p.Answer)
		f.Fix = "the API could not be asked: check probe.url (or the connector's targetUrl), probe.ca_file and the network path from the worker"
	case p.Unauthenticated:
		f.Verdict, f.Detail = verdictWarn, fmt.Sprintf("%s accepts the certificate (%s) and also a call without one", p.URL, p.Answer)
		f.Fix = "the API checks no client certificate: the certificate protects nothing until it does"
	default:
		f.Verdict, f.Detail = verdictOK, fmt.Sprintf("%s accepts the certificate (%s)", p.URL, p.Answer)
	}
	return f
}

func errMessage(e *jobs.ErrorInfo) string {
	if e == nil {
		return ""
	}
	return e.Code + ": " + e.Message
}
