package statuspage

import (
	"embed"
	"html/template"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

//go:embed templates
var templateFS embed.FS

var pageTemplates = template.Must(template.New("").ParseFS(templateFS, "templates/status.html", "templates/credentials.html", "templates/inventory.html"))

// statusPage is what the status template renders.
type statusPage struct {
	Instance string
	Ready    bool
	Now      time.Time
	Rows     []connectorRow
	Unplaced []unplacedRow
	// Credentials are the worker's own (credentials.go).
	Credentials []credentialRow
	// Inventory is the unmanaged certificates per tenant (worker/inventory).
	Inventory []inventorySection
}

// connectorRow is one connector on the status page.
type connectorRow struct {
	// Key is the target's status key, <job>.<connector> or
	// <job>.keyset-<id>: the row's id on the page and in the live feed, so
	// that a connector and a key set never share a row.
	Key string
	// Target is the key's target token, what /history reads.
	Target                              string
	Job, Connector                      string
	Configured                          bool
	DaysLeft, DaysClass, NotAfter       string
	Thumbprint                          string
	LastUpload, LastUploadThumb         string
	Outcome, SkipReason, Updated        string
	Trigger, RequestedBy, RequestReason string
	Retrying                            bool
	ErrorCode, ErrorMessage             string
	NextRun                             string
	NextWindow                          string // the change window: "open until …", "opens …", "" for none
	Version                             int
	// RemovedAfter is, for a row not configured here, when the worker
	// removes its entry unless a replica writes it again (worker/statusview/prune.go).
	RemovedAfter string
}

// unplacedRow is a request that failed before any connector was in play
// (status key <job>._): shown apart, so that it colours no connector.
type unplacedRow struct {
	Job, Outcome, Updated, RequestID string
	ErrorCode, ErrorMessage          string
	RequestedBy, RequestReason       string
	Superseded                       bool // a later outcome of the job reached its connectors
}

const timeLayout = "2006-01-02 15:04 MST"

// buildStatusPage turns the source's entries into rows: one per configured
// connector (in config order), then connectors the bucket knows that this
// replica's config does not, then the requests that failed before any
// connector.
func (pg *page) buildStatusPage(entries []*Entry, now time.Time) statusPage {
	p := statusPage{Instance: pg.instance, Ready: pg.src.Ready(), Now: now.UTC(), Credentials: pg.credentialRows(now),
		Inventory: pg.inventorySections(now)}
	byKey := make(map[string]*Entry, len(entries))
	for _, e := range entries {
		byKey[e.Key] = e
	}
	latestRun := map[string]time.Time{} // job → latest outcome that reached a connector
	for _, e := range entries {
		if e.Record.Connector != "" && e.Updated.After(latestRun[e.Record.Job]) {
			latestRun[e.Record.Job] = e.Updated
		}
	}
	seen := map[string]bool{}
	for _, j := range pg.jobList {
		for _, c := range j.Connectors {
			key := contract.StatusKey(j.Name, c.ID)
			seen[key] = true
			e, ok := byKey[key]
			row := connectorRow{Key: key, Target: contract.ConnectorToken(c.ID), Job: j.Name, Connector: c.ID, Configured: true}
			if ok {
				row = pg.connectorRow(e, now)
				row.Configured = true
			} else {
				row.DaysLeft = "—"
			}
			row.NextRun, row.NextWindow = nextRun(j, now), windowText(j, now)
			p.Rows = append(p.Rows, row)
		}
		// B2C policy key containers: rows of their own, under their
		// status keys (<job>.keyset-<id>), after the job's connectors.
		for _, k := range j.KeySets {
			key := contract.KeySetStatusKey(j.Name, k.ID)
			seen[key] = true
			row := connectorRow{Key: key, Target: contract.KeySetToken(k.ID), Job: j.Name, Connector: k.ID, DaysLeft: "—"}
			if e, ok := byKey[key]; ok {
				row = pg.connectorRow(e, now)
			}
			row.Configured, row.NextRun = true, nextRun(j, now)
			p.Rows = append(p.Rows, row)
		}
	}
	for _, e := range entries {
		o := e.Record
		switch {
		case seen[e.Key]:
		case o.Connector == "":
			p.Unplaced = append(p.Unplaced, unplacedFrom(e, latestRun[o.Job]))
		default:
			row := pg.connectorRow(e, now)
			if pg.removeAfter > 0 {
				row.RemovedAfter = e.Updated.Add(pg.removeAfter).UTC().Format(timeLayout)
			}
			if j, ok := pg.jobs[o.Job]; ok {
				row.NextRun, row.NextWindow = nextRun(j, now), windowText(j, now)
			}
			p.Rows = append(p.Rows, row)
		}
	}
	return p
}

// connectorRow is the row of one entry, keyed by the entry's status key.
func (pg *page) connectorRow(e *Entry, now time.Time) connectorRow {
	o := e.Record
	row := connectorRow{
		Key: e.Key, Target: o.targetToken(), Job: o.Job, Connector: o.Connector, Outcome: o.Status, Updated: e.Updated.UTC().Format(timeLayout),
		Trigger: o.Trigger, Retrying: o.Status == contract.StatusFailed && !o.Final, DaysLeft: "—",
	}
	if o.Status == contract.StatusSkipped {
		row.SkipReason = o.Reason
	}
	row.RequestedBy, row.RequestReason = o.RequestedBy, o.RequestReason
	row.ErrorCode, row.ErrorMessage = o.ErrorCode, o.ErrorMessage
	if c := o.Active; c.Known() {
		row.Thumbprint = c.Thumbprint
		if !c.NotAfter.IsZero() {
			row.NotAfter = c.NotAfter.UTC().Format(timeLayout)
			row.DaysLeft, row.DaysClass = daysLeft(c.NotAfter.Sub(now), pg.warnBefore(o.Job))
		}
		row.Version = c.SourceVersion
	}
	if !o.LastSuccessAt.IsZero() {
		row.LastUpload = o.LastSuccessAt.UTC().Format(timeLayout)
		row.LastUploadThumb = o.LastSuccessCert.Thumbprint
		row.Version = max(row.Version, o.LastSuccessCert.SourceVersion)
	}
	if o.Version > 0 {
		row.Version = o.Version // the bundle in Vault as this run read it
	}
	return row
}

func unplacedFrom(e *Entry, latestRun time.Time) unplacedRow {
	o := e.Record
	r := unplacedRow{Job: o.Job, Outcome: o.Status, Updated: e.Updated.UTC().Format(timeLayout), RequestID: o.RequestID,
		Superseded: latestRun.After(e.Updated)}
	r.ErrorCode, r.ErrorMessage = o.ErrorCode, o.ErrorMessage
	r.RequestedBy, r.RequestReason = o.RequestedBy, o.RequestReason
	return r
}

// warnBefore is the job's warning thresholds, as the rotator applies them.
func (pg *page) warnBefore(job string) []time.Duration {
	j, ok := pg.jobs[job]
	if !ok || j.WarnBefore == nil {
		return jobs.WarnBeforeDefault()
	}
	return j.WarnBefore
}

// daysLeft writes the time left in whole days and classes it by the warning
// thresholds: crit once the smallest threshold is crossed (or expired),
// warn once any is, else ok.
func daysLeft(left time.Duration, thresholds []time.Duration) (string, string) {
	days := int(left.Hours() / 24)
	text := formatDays(days)
	if left <= 0 {
		return "expired", "crit"
	}
	if len(thresholds) == 0 {
		return text, "ok"
	}
	if left <= slices.Min(thresholds) {
		return text, "crit"
	}
	if left <= slices.Max(thresholds) {
		return text, "warn"
	}
	return text, "ok"
}

func formatDays(d int) string {
	if d == 1 {
		return "1 day"
	}
	return strconv.Itoa(d) + " days"
}

func nextRun(j jobs.Job, now time.Time) string {
	if j.Next == nil {
		return ""
	}
	next := j.Next.Next(now)
	if next.IsZero() {
		return ""
	}
	return next.UTC().Format(timeLayout)
}

// windowText describes the job's change windows at now for the page:
// "open until …" inside one, "opens …" outside, "" for a job without.
func windowText(j jobs.Job, now time.Time) string {
	if len(j.Windows) == 0 {
		return ""
	}
	st := j.WindowAt(now)
	switch {
	case st.Open:
		return "window open until " + st.Until.UTC().Format(timeLayout)
	case st.Next.IsZero():
		return "no window ahead"
	}
	return "window opens " + st.Next.UTC().Format(timeLayout)
}

// serveStatusPage renders the page from the watched status: a complete
// document that needs no JavaScript.
func (pg *page) serveStatusPage(rw http.ResponseWriter, _ *http.Request) {
	entries, _ := pg.src.Snapshot()
	rw.Header().Set("Content-Type", "text/html; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	if err := pageTemplates.ExecuteTemplate(rw, "page", pg.buildStatusPage(entries, pg.now())); err != nil {
		pg.log.Debug("writing status page", "error", err)
	}
}
