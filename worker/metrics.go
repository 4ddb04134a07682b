package worker

import (
	"fmt"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// Label names. The rotation job is rotation_job, never job: job is
// Prometheus' own target label, and a clash would make it rename ours (or
// overwrite the target's with honor_labels).
const (
	labelJob       = "rotation_job"
	labelConnector = "connector"
	labelOutcome   = "outcome"
	labelCode      = "code"
	labelStatus    = "status"
)

// metrics are the worker's own Prometheus series: what this replica did.
// Labels hold job names, connector ids, outcome statuses, error codes and
// HTTP statuses only: never secrets, never free text. The series every
// replica must agree on (expiry, last success, failing, next run) come from
// the status bucket instead: see statusview.Collector.
type metrics struct {
	rotations   *prometheus.CounterVec   // certrotator_rotations_total{rotation_job,outcome}
	failures    *prometheus.CounterVec   // certrotator_failures_total{rotation_job,code}
	duration    *prometheus.HistogramVec // certrotator_rotation_duration_seconds{rotation_job}
	inflight    prometheus.Gauge         // certrotator_requests_inflight
	badRequests *prometheus.CounterVec   // certrotator_bad_requests_total{rotation_job}
	graphCalls  *prometheus.CounterVec   // certrotator_graph_requests_total{status}
	vaultCalls  *prometheus.CounterVec   // certrotator_vault_requests_total{status}
	slowNATS    prometheus.CounterFunc   // certrotator_nats_slow_consumer_total, counted by the bus
	// unauthenticated is certrotator_api_unauthenticated_total{rotation_job}:
	// probes that found an API accepting calls with no client certificate.
	unauthenticated *prometheus.CounterVec
	registry        *prometheus.Registry

	// credentialExpiry is certrotator_credential_expiry_timestamp_seconds{kind,tenant}:
	// the worker's own credentials (credentials.go).
	credentialExpiry *prometheus.GaugeVec
}

// newMetrics sets the worker's registry and request counter from cfg (new
// ones by default) and registers its series there.
func (w *Worker) newMetrics(cfg Config) (*metrics, error) {
	w.registry, w.requests = cfg.Registry, cfg.Requests
	if w.registry == nil {
		w.registry = prometheus.NewRegistry()
	}
	if w.requests == nil {
		w.requests = NewRequestCounter()
	}
	m, err := newMetrics(w.registry, w.requests, func() float64 {
		if cfg.Bus == nil {
			return 0
		}
		return float64(cfg.Bus.SlowConsumers())
	})
	if err != nil {
		return nil, err
	}
	if cfg.Registry == nil {
		m.registerRuntime()
	}
	return m, nil
}

// newMetrics registers the worker's series, requests' among them;
// slowConsumers reads the bus's count of slow-consumer episodes (0 without
// a bus).
func newMetrics(reg *prometheus.Registry, requests *RequestCounter, slowConsumers func() float64) (*metrics, error) {
	m := &metrics{
		registry:    reg,
		rotations:   counterVec("certrotator_rotations_total", "Outcomes this replica published, by rotation job and outcome (succeeded, skipped, failed, expiring).", labelJob, labelOutcome),
		failures:    counterVec("certrotator_failures_total", "Failed outcomes this replica published, by rotation job and error code.", labelJob, labelCode),
		badRequests: counterVec("certrotator_bad_requests_total", "Requests rejected as malformed or naming an unknown job or connector.", labelJob),
		unauthenticated: counterVec("certrotator_api_unauthenticated_total",
			"Warnings that the API behind a connector accepted a probe call with no client certificate (at most one per connector per day).", labelJob),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "certrotator_rotation_duration_seconds",
			Help:    "Time one rotation run took, lock wait excluded.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300},
		}, []string{labelJob}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "certrotator_requests_inflight",
			Help: "Requests being handled by this worker.",
		}),
		credentialExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "certrotator_credential_expiry_timestamp_seconds",
			Help: "When the worker's own credential expires (Unix seconds): its Entra client certificate or secret, its Vault AppRole secret id. Absent when it never expires or could not be read.",
		}, []string{"kind", "tenant"}),
		graphCalls: requests.graph,
		vaultCalls: requests.vault,
		slowNATS: prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "certrotator_nats_slow_consumer_total",
			Help: "Times a subscription on the worker's own NATS connection fell behind and the client dropped messages for it.",
		}, slowConsumers),
	}
	for _, c := range m.collectors() {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("registering worker metrics: %w", err)
		}
	}
	return m, nil
}

func (m *metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.rotations, m.failures, m.duration, m.inflight, m.badRequests, m.graphCalls, m.vaultCalls, m.slowNATS, m.credentialExpiry, m.unauthenticated}
}

// registerRuntime adds the process and Go collectors when the worker owns
// the registry.
func (m *metrics) registerRuntime() {
	_ = m.registry.Register(collectors.NewGoCollector())
	_ = m.registry.Register(collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
}

// observeOutcome counts an outcome this replica published.
func (m *metrics) observeOutcome(o jobs.Outcome, jobLabel string) {
	if o.Status == jobs.StatusUnauthenticated {
		m.unauthenticated.WithLabelValues(jobLabel).Inc()
		return
	}
	m.rotations.WithLabelValues(jobLabel, o.Status).Inc()
	if o.Status == contract.StatusFailed && o.Error != nil {
		m.failures.WithLabelValues(jobLabel, o.Error.Code).Inc()
	}
}

// RequestCounter counts the Graph and Vault clients' requests by HTTP
// status, on the worker's /metrics. cmd makes it before the clients (which
// the worker's Rotator needs), hands its methods to their request hooks,
// and gives it to the worker (Config.Requests). A nil one counts nothing.
type RequestCounter struct {
	graph, vault *prometheus.CounterVec
}

// NewRequestCounter makes the counters, not yet registered anywhere.
func NewRequestCounter() *RequestCounter {
	return &RequestCounter{
		graph: counterVec("certrotator_graph_requests_total", "Requests to Microsoft Graph and Entra, by HTTP status (error when no response came).", labelStatus),
		vault: counterVec("certrotator_vault_requests_total", "Requests to Vault, by HTTP status (error when no response came).", labelStatus),
	}
}

// counterVec is a counter of the worker's, by labels: most of its series
// are.
func counterVec(name, help string, labels ...string) *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, labels)
}

// Graph counts one request to Microsoft Graph or Entra by its HTTP status;
// 0 means no response came (network error, timeout).
func (c *RequestCounter) Graph(status int) {
	if c != nil {
		c.graph.WithLabelValues(statusLabel(status)).Inc()
	}
}

// Vault counts one request to Vault by its HTTP status; 0 means no
// response came.
func (c *RequestCounter) Vault(status int) {
	if c != nil {
		c.vault.WithLabelValues(statusLabel(status)).Inc()
	}
}

// ObserveGraph counts one Graph request on the worker's counter.
func (w *Worker) ObserveGraph(status int) { w.requests.Graph(status) }

// ObserveVault counts one Vault request on the worker's counter.
func (w *Worker) ObserveVault(status int) { w.requests.Vault(status) }

// statusLabel keeps the label set small: a real HTTP status, else "error".
func statusLabel(status int) string {
	if status < 100 || status > 599 {
		return "error"
	}
	return strconv.Itoa(status)
}
