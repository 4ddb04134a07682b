package notify

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics counts deliveries per sink; failures feed the
// CertrotatorNotifyFailing alert (deploy/prometheus/alerts.yaml).
type metrics struct {
	sent     *prometheus.CounterVec
	failures *prometheus.CounterVec
	events   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certrotator_notify_messages_total",
			Help: "Notification messages delivered, by sink and kind (a grouped message counts once).",
		}, []string{"sink", "kind"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certrotator_notify_failures_total",
			Help: "Failed notification deliveries, by sink and kind; each is retried with backoff.",
		}, []string{"sink", "kind"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "certrotator_notify_events_total",
			Help: "Events delivered to a sink, by sink and kind.",
		}, []string{"sink", "kind"}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.sent, m.failures, m.events} {
		if err := reg.Register(c); err != nil {
			if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
				// A second service on the same registry (a test, a
				// restart) shares the counters.
				switch c {
				case m.sent:
					m.sent = are.ExistingCollector.(*prometheus.CounterVec)
				case m.failures:
					m.failures = are.ExistingCollector.(*prometheus.CounterVec)
				case m.events:
					m.events = are.ExistingCollector.(*prometheus.CounterVec)
				}
				continue
			}
			return nil, err
		}
	}
	return m, nil
}
