package worker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/certrotator/certrotator/jobs"
)

// metrics are the worker's Prometheus series. Labels hold job names,
// connector ids and outcome statuses only: never secrets, never free text.
type metrics struct {
	rotations   *prometheus.CounterVec   // certrotator_rotations_total{job,outcome}
	duration    *prometheus.HistogramVec // certrotator_rotation_duration_seconds{job}
	expiry      *prometheus.GaugeVec     // certrotator_certificate_expiry_timestamp_seconds{job,connector}
	inflight    prometheus.Gauge         // certrotator_requests_inflight
	badRequests *prometheus.CounterVec   // certrotator_bad_requests_total{job}
	registry    *prometheus.Registry
}

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		registry: reg,
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certrotator_rotations_total",
			Help: "Outcomes published, by job and outcome (succeeded, skipped, failed, expiring).",
		}, []string{"job", "outcome"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "certrotator_rotation_duration_seconds",
			Help:    "Time one rotation run took, lock wait excluded.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{"job"}),
		expiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "certrotator_certificate_expiry_timestamp_seconds",
			Help: "Unix time at which the connector's active certificate expires, as last seen.",
		}, []string{"job", "connector"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "certrotator_requests_inflight",
			Help: "Requests being handled by this worker.",
		}),
		badRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certrotator_bad_requests_total",
			Help: "Requests rejected as malformed or naming an unknown job or connector.",
		}, []string{"job"}),
	}
	for _, c := range []prometheus.Collector{m.rotations, m.duration, m.expiry, m.inflight, m.badRequests} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering worker metrics: %w", err)
		}
	}
	return m, nil
}

// registerRuntime adds the process and Go collectors when the worker owns
// the registry.
func (m *metrics) registerRuntime() {
	_ = m.registry.Register(collectors.NewGoCollector())
	_ = m.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// observeOutcome counts an outcome and updates the expiry gauge from the
// certificate the connector holds active after it.
func (m *metrics) observeOutcome(o jobs.Outcome, jobLabel string) {
	m.rotations.WithLabelValues(jobLabel, o.Status).Inc()
	if o.Connector == "" || jobLabel != o.Job {
		return
	}
	if c := activeAfter(o); c != nil && !c.NotAfter.IsZero() {
		m.expiry.WithLabelValues(o.Job, o.Connector).Set(float64(c.NotAfter.Unix()))
	}
}

// activeAfter is the certificate active on the connector after the run: the
// uploaded one when it became active, otherwise the one it had.
func activeAfter(o jobs.Outcome) *jobs.CertInfo {
	switch {
	case o.Status == jobs.StatusSucceeded && !o.Staged:
		return o.Certificate
	case o.Previous != nil:
		return o.Previous
	case o.Status == jobs.StatusSkipped && o.Reason == jobs.ReasonAlreadyPresent:
		return o.Certificate
	}
	return nil
}
