package notify

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/internal/retry"
	"github.com/certrotator/certrotator/internal/startstop"
	"github.com/certrotator/certrotator/internal/testsignal"
)

// Names and timing of the notification part of the NATS contract.
const (
	// ConsumerPrefix starts each sink's durable consumer name.
	ConsumerPrefix = contract.NotifyConsumerPrefix
	// SentBucket keeps, per sink that cannot deduplicate itself, the ids
	// of the events it was told, for SentTTL.
	SentBucket = contract.NotifyBucket
	// SentTTL outlasts any redelivery: the consumer's backlog of a sink
	// that was down for days still finds what it sent.
	SentTTL = contract.NotifyTTL
	// AckWait is how long a replica holds an event (its group window and
	// one delivery) before JetStream hands it to another.
	AckWait = 2 * time.Minute
	// QuietDefault and WindowDefault group a request's events: a group is
	// sent once no event joined it for Quiet, or Window after its first.
	QuietDefault  = 10 * time.Second
	WindowDefault = 40 * time.Second
	// startTimeout bounds one attempt to bind a sink.
	startTimeout = 30 * time.Second
	// sendTimeout bounds one delivery.
	sendTimeout = 30 * time.Second
	// fetchBatch is how many events one fetch takes: a storm fits in a few.
	fetchBatch = 500
	// maxAckPending lets a storm be held in one group.
	maxAckPending = 10000
	// InactiveThreshold removes the consumer of a sink that was taken out
	// of the config (no replica has read it for a week).
	InactiveThreshold = 7 * 24 * time.Hour
)

// BackoffDefault spaces the retries of a failing sink.
var BackoffDefault = retry.Backoff{Base: 5 * time.Second, Max: 10 * time.Minute, Jitter: 0.2}

// Config is what a Service needs.
type Config struct {
	// Sinks from the config's notify list. None: the service does nothing.
	Sinks []config.NotifySink
	// SubjectPrefix of the result subjects. Defaults to
	// contract.SubjectPrefixDefault.
	SubjectPrefix string
	// Replicas of the sent bucket (nats.replicas). Defaults to 1.
	Replicas int
	// Conn is the NATS connection cmd opened first (the bus's), shared
	// with the worker. Required when there are sinks.
	Conn *nats.Conn
	// Logger defaults to a discarding logger. It never receives a URL, a
	// signing key or a password.
	Logger *slog.Logger
	// Registerer receives the certrotator_notify_* metrics. nil: none.
	Registerer prometheus.Registerer
	// HTTPClient posts to webhooks. Defaults to a client with a timeout.
	HTTPClient *http.Client
	// Quiet and Window group a request's events (QuietDefault,
	// WindowDefault).
	Quiet, Window time.Duration
	// Backoff spaces a failing sink's retries. Defaults to BackoffDefault.
	Backoff *retry.Backoff
	// NowFunc stamps webhook timestamps and drives grouping. Defaults to
	// time.Now.
	NowFunc func() time.Time
}

// Service delivers events to every configured sink, one goroutine per
// sink. It implements startstop.Service.
type Service struct {
	startstop.Base
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	sinks   []*sink
	wg      sync.WaitGroup
	signals signals
}

// signals let tests wait on what a sink did instead of polling.
type signals struct {
	delivered testsignal.Signal[[]string] // the event ids of a delivered message
	failed    testsignal.Signal[error]    // a failed delivery
	duplicate testsignal.Signal[string]   // an event id not told again
	bound     testsignal.Signal[string]   // a sink bound after failing to at Start
	taken     testsignal.Signal[string]   // an event id held for its group
	// ack, when set, replaces a delivered message's ack (a test loses it).
	ack func(jetstream.Msg) error
}

// New checks cfg and builds the service; it opens nothing.
func New(cfg Config) (*Service, error) {
	cfg.SubjectPrefix = cmp.Or(cfg.SubjectPrefix, contract.SubjectPrefixDefault)
	cfg.Replicas = max(cfg.Replicas, 1)
	cfg.Quiet = cmp.Or(cfg.Quiet, QuietDefault)
	cfg.Window = cmp.Or(cfg.Window, WindowDefault)
	if cfg.Backoff == nil {
		b := BackoffDefault
		cfg.Backoff = &b
	}
	if cfg.NowFunc == nil {
		cfg.NowFunc = time.Now
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: sendTimeout}
	}
	if len(cfg.Sinks) > 0 && cfg.Conn == nil {
		return nil, errors.New("notify: config needs Conn")
	}
	m, err := newMetrics(cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("registering notify metrics: %w", err)
	}
	s := &Service{cfg: cfg, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)).With("component", "notify"), metrics: m}
	for _, c := range cfg.Sinks {
		snd, err := newSender(c, cfg)
		if err != nil {
			return nil, fmt.Errorf("notify sink %s: %w", c.Name, err)
		}
		s.sinks = append(s.sinks, &sink{svc: s, cfg: c, sender: snd, grouped: c.Kind != config.NotifyWebhook, dedupe: c.Kind != config.NotifyWebhook})
	}
	return s, nil
}

// newSender builds the deliverer of a sink's kind.
func newSender(c config.NotifySink, cfg Config) (sender, error) {
	switch c.Kind {
	case config.NotifySlack:
		return slackSender{client: cfg.HTTPClient, url: c.URL}, nil
	case config.NotifyTeams:
		return teamsSender{client: cfg.HTTPClient, url: c.URL}, nil
	case config.NotifyWebhook:
		if len(c.SigningKey) == 0 {
			return nil, errors.New("a webhook sink needs its signing key (secret_file)")
		}
		return webhookSender{client: cfg.HTTPClient, url: c.URL, key: c.SigningKey, now: cfg.NowFunc}, nil
	case config.NotifyEmail:
		return newEmailSender(c.SMTP, c.To)
	}
	return nil, fmt.Errorf("unknown kind %q", c.Kind)
}

// Start starts delivering: each sink binds its durable consumer (creating
// it and the sent bucket when missing) in its own goroutine, retrying with
// backoff while NATS refuses, so that a notification problem (a missing
// permission, a stream not yet there) is logged, counted and alerted but
// never keeps the worker from rotating. It fails only without a
// connection.
func (s *Service) Start(ctx context.Context) error {
	runCtx, ok, stopped := s.StartInit(ctx)
	if !ok {
		return nil
	}
	if len(s.sinks) == 0 {
		go func() { <-runCtx.Done(); stopped() }()
		return nil
	}
	js, err := jetstream.New(s.cfg.Conn)
	if err != nil {
		stopped()
		return fmt.Errorf("notify: opening JetStream: %w", err)
	}
	// The first binding is awaited (in parallel, bounded), so that the
	// consumers exist before the worker's first outcomes; a sink that
	// cannot bind yet keeps trying in the background.
	first := make([]error, len(s.sinks))
	var bound sync.WaitGroup
	for i, k := range s.sinks {
		bound.Go(func() { first[i] = k.provision(ctx, js) })
	}
	bound.Wait()
	for i, k := range s.sinks {
		s.wg.Go(func() {
			if first[i] != nil && !k.bind(runCtx, js, first[i]) {
				return
			}
			k.run(runCtx)
		})
	}
	go func() {
		<-runCtx.Done()
		s.wg.Wait()
		stopped()
	}()
	s.log.Info("notifications running", "sinks", len(s.sinks))
	return nil
}

// bind retries provisioning after the failure err until it succeeds or
// ctx ends (false). Each attempt is bounded: a missing permission is
// answered by silence, not an error.
func (k *sink) bind(ctx context.Context, js jetstream.JetStream, err error) bool {
	for attempt := 1; ; attempt++ {
		if ctx.Err() != nil {
			return false
		}
		k.svc.metrics.failures.WithLabelValues(k.cfg.Name, k.cfg.Kind).Inc()
		delay := k.svc.cfg.Backoff.Delay(attempt)
		k.svc.log.Warn("notification sink not bound; retrying", "sink", k.cfg.Name, "kind", k.cfg.Kind, "retry_in", delay, "error", err.Error())
		k.svc.signals.failed.Signal(err)
		if retry.Sleep(ctx, nil, delay) != nil {
			return false
		}
		if err = k.provision(ctx, js); err == nil {
			k.svc.log.Info("notification sink bound", "sink", k.cfg.Name, "kind", k.cfg.Kind)
			k.svc.signals.bound.Signal(k.cfg.Name)
			return true
		}
	}
}

func (k *sink) provision(ctx context.Context, js jetstream.JetStream) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	b := contract.BucketNamed(SentBucket)
	sent, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: b.Name, Description: b.Description, History: uint8(b.History), TTL: b.TTL, Replicas: k.svc.cfg.Replicas,
	})
	if err != nil {
		return fmt.Errorf("provisioning bucket %s: %w", SentBucket, err)
	}
	cons, err := js.CreateOrUpdateConsumer(ctx, contract.ResultsStream, k.consumerConfig(k.svc.cfg.SubjectPrefix))
	if err != nil {
		return fmt.Errorf("binding consumer %s: %w", contract.NotifyConsumer(k.cfg.Name), err)
	}
	k.sent, k.cons = sent, cons
	return nil
}

// consumerConfig is the sink's durable consumer: new events only (a sink
// added today is not told the last 90 days), every job's or its jobs'
// subjects, explicit acks, redelivered without limit (a sink down for a
// day gets its backlog).
func (k *sink) consumerConfig(prefix string) jetstream.ConsumerConfig {
	subjects := []string{contract.AllResults(prefix)}
	if len(k.cfg.Jobs) > 0 {
		subjects = subjects[:0]
		for _, j := range k.cfg.Jobs {
			subjects = append(subjects, contract.ResultsOf(prefix, j))
		}
	}
	cc := jetstream.ConsumerConfig{
		Durable:           contract.NotifyConsumer(k.cfg.Name),
		Description:       "certrotator notifications: sink " + k.cfg.Name + " (" + k.cfg.Kind + ")",
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		AckPolicy:         jetstream.AckExplicitPolicy,
		AckWait:           AckWait,
		MaxDeliver:        -1,
		MaxAckPending:     maxAckPending,
		InactiveThreshold: InactiveThreshold,
	}
	// One subject goes in FilterSubject, which servers before 2.10 know too.
	if len(subjects) == 1 {
		cc.FilterSubject = subjects[0]
	} else {
		cc.FilterSubjects = subjects
	}
	return cc
}
