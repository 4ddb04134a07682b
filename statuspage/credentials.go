package worker

import "time"

// credentialRow is one of the worker's own credentials on the status page
// (templates/credentials.html).
type credentialRow struct {
	Kind, Tenant, Name  string
	DaysLeft, DaysClass string
	Expires, Checked    string
	Error               string
}

// credentialNames are the kinds as the status page says them.
var credentialNames = map[string]string{
	CredentialClientCertificate: "Entra client certificate",
	CredentialClientSecret:      "Entra client secret",
	CredentialVaultSecretID:     "Vault AppRole secret id",
}

// credentialRows are the last check of the worker's own credentials, days
// classed by the thresholds at which it warns.
func (w *Worker) credentialRows(now time.Time) []credentialRow {
	var rows []credentialRow
	for _, st := range w.Credentials() {
		r := credentialRow{Kind: st.Kind, Tenant: st.Tenant, Name: credentialNames[st.Kind], Checked: st.Checked.UTC().Format(timeLayout)}
		if r.Name == "" {
			r.Name = st.Kind
		}
		switch {
		case st.Error != "":
			r.DaysLeft, r.DaysClass, r.Error = "unknown", "warn", st.Error
		case st.Never:
			r.DaysLeft, r.DaysClass = "never expires", "ok"
		default:
			r.DaysLeft, r.DaysClass = daysLeft(st.Expires.Sub(now), w.creds.thresholds)
			r.Expires = st.Expires.UTC().Format(timeLayout)
		}
		rows = append(rows, r)
	}
	return rows
}
