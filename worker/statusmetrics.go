package worker

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/certrotator/certrotator/jobs"
)

// expiryMetric is the expiry gauge of a job's targets (here) and, with
// managed="false", of the certificates no job manages (inventory.go); both
// collectors give it expiryHelp, as Prometheus requires of one name.
const (
	expiryMetric = "certrotator_certificate_expiry_timestamp_seconds"
	expiryHelp   = "Unix time at which the target's active certificate expires: a job's connector or key set from the shared status bucket, or, with managed=\"false\", one no job manages, from the inventory scan."
)

// statusCollector exports the series every replica must agree on, computed
// at scrape time from the watched copy of the status bucket (statusView):
// a replica that did not do a rotation exports the same expiry as the one
// that did, so that alerts can aggregate replicas without one stale replica
// keeping an expiry alert alive. Only configured jobs and connectors are
// exported, so that a job removed from the config stops alerting.
type statusCollector struct {
	*shared
	expiry, lastSuccess, failing, nextRun *prometheus.Desc
}

func newStatusCollector(sh *shared) *statusCollector {
	lc := []string{labelJob, labelConnector}
	return &statusCollector{
		shared: sh,
		expiry: prometheus.NewDesc(expiryMetric, expiryHelp, lc, nil),
		lastSuccess: prometheus.NewDesc("certrotator_last_success_timestamp_seconds",
			"Unix time of the last succeeded upload to the connector, from the shared status bucket.", lc, nil),
		failing: prometheus.NewDesc("certrotator_connector_failing",
			"1 while the connector's latest outcome is a failure (retrying or final), else 0; from the shared status bucket.", lc, nil),
		nextRun: prometheus.NewDesc("certrotator_next_run_timestamp_seconds",
			"Unix time of the job's next scheduled run; absent for a job without a schedule.", []string{labelJob}, nil),
	}
}

// Describe sends the four descriptions.
func (c *statusCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.expiry
	ch <- c.lastSuccess
	ch <- c.failing
	ch <- c.nextRun
}

// Collect sends the current values.
func (c *statusCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	for _, j := range c.jobList {
		if j.Next == nil {
			continue
		}
		if next := j.Next.Next(now); !next.IsZero() {
			ch <- prometheus.MustNewConstMetric(c.nextRun, prometheus.GaugeValue, float64(next.Unix()), j.Name)
		}
	}
	entries, _ := c.view.snapshot()
	for _, e := range entries {
		o := e.Record
		j, ok := c.job(o.Job)
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
		if o.Status == jobs.StatusFailed {
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
