package statusview

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// Label names, the worker's: the rotation job is rotation_job, never job
// (Prometheus' own target label).
const (
	labelJob       = "rotation_job"
	labelConnector = "connector"
)

// ExpiryMetric is the expiry gauge of a job's targets (here) and, with
// managed="false", of the certificates no job manages (package
// inventory); both collectors give it ExpiryHelp, as Prometheus requires
// of one name.
const (
	ExpiryMetric = "certrotator_certificate_expiry_timestamp_seconds"
	ExpiryHelp   = "Unix time at which the target's active certificate expires: a job's connector or key set from the shared status bucket, or, with managed=\"false\", one no job manages, from the inventory scan."
)

// Collector exports the series every replica must agree on, computed
// at scrape time from the watched copy of the status bucket (View):
// a replica that did not do a rotation exports the same expiry as the one
// that did, so that alerts can aggregate replicas without one stale replica
// keeping an expiry alert alive. Only configured jobs and connectors are
// exported, so that a job removed from the config stops alerting.
type Collector struct {
	view                                  *View
	jobList                               []jobs.Job
	now                                   func() time.Time
	expiry, lastSuccess, failing, nextRun *prometheus.Desc
}

// NewCollector returns the gauges over view for the configured jobs jj;
// now is read at each scrape.
func NewCollector(view *View, jj []jobs.Job, now func() time.Time) *Collector {
	lc := []string{labelJob, labelConnector}
	return &Collector{
		view: view, jobList: jj, now: now,
		expiry: prometheus.NewDesc(ExpiryMetric, ExpiryHelp, lc, nil),
		lastSuccess: prometheus.NewDesc("certrotator_last_success_timestamp_seconds",
			"Unix time of the last succeeded upload to the connector, from the shared status bucket.", lc, nil),
		failing: prometheus.NewDesc("certrotator_connector_failing",
			"1 while the connector's latest outcome is a failure (retrying or final), else 0; from the shared status bucket.", lc, nil),
		nextRun: prometheus.NewDesc("certrotator_next_run_timestamp_seconds",
			"Unix time of the job's next scheduled run; absent for a job without a schedule.", []string{labelJob}, nil),
	}
}

// Describe sends the four descriptions.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.expiry
	ch <- c.lastSuccess
	ch <- c.failing
	ch <- c.nextRun
}

// Collect sends the current values.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, j := range c.jobList {
		if j.Next == nil {
			continue
		}
		if next := j.Next.Next(now); !next.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.nextRun, prometheus.GaugeValue, float64(next.Unix()), j.Name)
		}
	}
	entries, _ := c.view.Snapshot()
	for _, e := range entries {
		o := e.Record
		j, ok := c.view.jobs[o.Job]
		if !ok || o.Connector == "" {
			continue
		}
		if !configuredTarget(j, o.TargetKind, o.Connector) {
			continue
		}
		if a := o.Active; !a.NotAfter.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.expiry, prometheus.GaugeValue, float64(a.NotAfter.Unix()), o.Job, o.Connector)
		}
		if !o.LastSuccessAt.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, float64(o.LastSuccessAt.Unix()), o.Job, o.Connector)
		}
		failing := 0.0
		if o.Status == contract.StatusFailed {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(c.failing, prometheus.GaugeValue, failing, o.Job, o.Connector)
	}
}

// configuredTarget reports whether the outcome's target is one the job
// binds: a connector, or a key set (whose series carry its id, B2C_1A_…, in
// the connector label).
func configuredTarget(j jobs.Job, kind, id string) bool {
	if kind == jobs.KindKeySet {
		_, ok := j.KeySet(id)
		return ok
	}
	_, ok := j.Connector(id)
	return ok
}
