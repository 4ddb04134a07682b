package statuspage

import "time"

// credentialRow is one of the worker's own credentials on the status page
// (templates/credentials.html).
type credentialRow struct {
	Kind, Tenant, Name  string
	DaysLeft, DaysClass string
	Expires, Checked    string
	Error               string
}

// credentialRows are the last check of the worker's own credentials, days
// classed by the thresholds at which it warns.
func (pg *page) credentialRows(now time.Time) []credentialRow {
	var rows []credentialRow
	for _, st := range pg.src.Credentials() {
		r := credentialRow{Kind: st.Kind, Tenant: st.Tenant, Name: st.Name, Checked: st.Checked.UTC().Format(timeLayout)}
		if r.Name == "" {
			r.Name = st.Kind
		}
		switch {
		case st.Error != "":
			r.DaysLeft, r.DaysClass, r.Error = "unknown", "warn", st.Error
		case st.Never:
			r.DaysLeft, r.DaysClass = "never expires", "ok"
		default:
			r.DaysLeft, r.DaysClass = daysLeft(st.Expires.Sub(now), st.WarnBefore)
			r.Expires = st.Expires.UTC().Format(timeLayout)
		}
		rows = append(rows, r)
	}
	return rows
}
