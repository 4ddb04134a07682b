package worker

import (
	"context"
	"net/http"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
	"github.com/certrotator/certrotator/statuspage"
)

// pageSource is what the status page reads of a worker: the watched status
// bucket, readiness, the results stream and the last check of the
// worker's own credentials.
type pageSource struct{ w *Worker }

var _ statuspage.Source = pageSource{}

// credentialNames are the kinds as the status page says them.
var credentialNames = map[string]string{
	CredentialClientCertificate: "Entra client certificate",
	CredentialClientSecret:      "Entra client secret",
	CredentialVaultSecretID:     "Vault AppRole secret id",
}

// statusPage is the status page over this worker, mounted at / beside
// /metrics, /healthz and /readyz.
func (w *Worker) statusPage() http.Handler {
	return statuspage.New(statuspage.Options{Source: pageSource{w}, Jobs: w.jobList, Instance: w.instance, Logger: w.log,
		Now:         func() time.Time { return w.arch.Now() }, // read at each call: tests set the worker's clock after New
		RemoveAfter: StatusPruneAfter})
}

// Snapshot is the view's entries, in key order.
func (s pageSource) Snapshot() ([]*statuspage.Entry, <-chan struct{}) {
	entries, changed := s.w.view.Snapshot()
	out := make([]*statuspage.Entry, len(entries))
	for i, e := range entries {
		out[i] = &e.Entry
	}
	return out, changed
}

func (s pageSource) Ready() bool { return s.w.Ready() }

// History reads the results stream; a failure is told as what is missing.
func (s pageSource) History(ctx context.Context, job, target string, since time.Time, limit int) ([]contract.Event, error) {
	events, err := s.w.history(ctx, job, target, since, limit)
	if err != nil {
		return nil, &statuspage.Unavailable{Reason: describeNATSError(err), Err: err}
	}
	return events, nil
}

// Credentials are the last check of the worker's own credentials, classed
// by the thresholds at which the worker warns.
func (s pageSource) Credentials() []statuspage.Credential {
	states := s.w.Credentials()
	out := make([]statuspage.Credential, 0, len(states))
	for _, st := range states {
		out = append(out, statuspage.Credential{Kind: st.Kind, Name: credentialNames[st.Kind], Tenant: st.Tenant,
			Expires: st.Expires, Never: st.Never, Error: st.Error, Checked: st.Checked, WarnBefore: s.w.creds.Thresholds()})
	}
	return out
}

// Done is closed when the view stops.
func (s pageSource) Done() <-chan struct{} { return s.w.view.Done() }

var _ statuspage.InventorySource = pageSource{}

// Inventory is the latest scans for the status page, which shows the
// unmanaged certificates in a section of their own.
func (s pageSource) Inventory() []statuspage.Inventory {
	scans := s.w.Inventory()
	out := make([]statuspage.Inventory, 0, len(scans))
	for _, sc := range scans {
		p := statuspage.Inventory{Tenant: sc.Tenant, Scanned: sc.Scanned, By: sc.By, Total: sc.Total, Managed: sc.Managed,
			Unmanaged: sc.Unmanaged, Items: sc.Items, WarnBefore: jobs.WarnBeforeDefault()}
		for _, e := range []string{sc.ConnectorsError, sc.KeySetsError} {
			if e != "" {
				p.Errors = append(p.Errors, e)
			}
		}
		out = append(out, p)
	}
	return out
}
