package config

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/mail"
	"net/url"
	"os"
	"slices"
	"strings"

	"github.com/certrotator/certrotator/contract"
	"github.com/certrotator/certrotator/jobs"
)

// Notification sink kinds (key `notify[].kind`).
const (
	NotifySlack   = "slack"
	NotifyTeams   = "teams"
	NotifyWebhook = "webhook"
	NotifyEmail   = "email"
)

var (
	notifyKeys  = []string{"name", "kind", "url", "url_file", "secret_file", "smtp", "to", "on", "jobs"}
	smtpKeys    = []string{"address", "username", "password_file", "from", "ca_file"}
	notifyKinds = []string{NotifySlack, NotifyTeams, NotifyWebhook, NotifyEmail}
	// notifyOn are the outcome statuses a sink may ask for.
	notifyOn = []string{contract.StatusFailed, contract.StatusExpiring, jobs.StatusSuperseded, jobs.StatusUnauthenticated,
		contract.StatusSucceeded, contract.StatusSkipped}
)

// NotifyOnDefault is what a sink hears when it sets no `on`: what needs a
// person (a failure; a certificate that expires with nothing to replace
// it; a key set whose hand-uploaded key keeps ours from activating; an
// API that takes calls without any certificate).
func NotifyOnDefault() []string {
	return []string{contract.StatusFailed, contract.StatusExpiring, jobs.StatusSuperseded, jobs.StatusUnauthenticated}
}

// webhookSecretPrefix starts a Standard Webhooks secret: whsec_ + base64.
const webhookSecretPrefix = "whsec_"

// Standard Webhooks asks for signing keys of 24 to 64 bytes.
const (
	webhookKeyMin = 24
	webhookKeyMax = 64
)

// NotifySink is one entry of `notify`: where outcome events go to reach
// people. URL, the webhook signing key and the SMTP password are secrets:
// they are never logged (see LogValue) nor shown in a problem.
type NotifySink struct {
	Name string // letters, digits, - and _; names the sink's durable consumer
	Kind string // slack, teams, webhook or email
	// URL is the webhook to post to (slack, teams, webhook), from `url`
	// or the content of `url_file`.
	URL     string `json:"-"`
	URLFile string
	// SigningKey is the webhook sink's HMAC key: the bytes that the
	// `whsec_` secret in `secret_file` encodes.
	SigningKey []byte `json:"-"`
	SecretFile string
	SMTP       SMTP     // email only
	To         []string // email only: the recipients
	// On lists the statuses (failed, expiring, superseded, unauthenticated,
	// succeeded, skipped) the sink hears; defaults to NotifyOnDefault.
	On []string
	// Jobs restricts the sink to these jobs; empty means every job.
	Jobs []string
}

// SMTP is `notify[].smtp`: the mail relay of an email sink, reached with
// STARTTLS.
type SMTP struct {
	Address      string // host:port, usually port 587
	Username     string // with PasswordFile, or neither for an open relay
	Password     string `json:"-"`
	PasswordFile string
	From         string
	CAFile       string // the relay's CA when it is not a public one
}

// LogValue keeps the URL, the signing key and the SMTP password out of
// logs.
func (n NotifySink) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("name", n.Name),
		slog.String("kind", n.Kind),
		slog.String("url", redacted(n.URL)),
		slog.String("url_file", n.URLFile),
		slog.String("secret_file", n.SecretFile),
		slog.String("smtp_address", n.SMTP.Address),
		slog.String("smtp_password", redacted(n.SMTP.Password)),
		slog.Any("on", n.On),
		slog.Any("jobs", n.Jobs),
	)
}

// notifySummary is the notify part of Summary: each sink's name, kind and
// filters, never its URL or recipients' secrets.
func (c *Config) notifySummary() string {
	if len(c.Notify) == 0 {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "notify: %d sink(s)\n", len(c.Notify))
	for _, n := range c.Notify {
		jobs := "every job"
		if len(n.Jobs) > 0 {
			jobs = strings.Join(n.Jobs, ", ")
		}
		fmt.Fprintf(&b, "  %s: %s on %s, %s\n", n.Name, n.Kind, strings.Join(n.On, ", "), jobs)
	}
	return b.String()
}

// notifyList reads the `notify` list; jobNames are the configured jobs a
// sink's `jobs` may name.
func (d *decoder) notifyList(root section, jobList []jobs.Job) []NotifySink {
	items := root.list("notify")
	if items == nil {
		return nil
	}
	known := make([]string, 0, len(jobList))
	for _, j := range jobList {
		known = append(known, j.Name)
	}
	out := make([]NotifySink, 0, len(items))
	names := map[string]int{}
	for i, n := range items {
		s := d.section(n, fmt.Sprintf("notify[%d]", i), resolve(n).Line, notifyKeys...)
		sink := d.notifySink(s, known)
		if first, dup := claimName(s, names, sink.Name); dup {
			s.problem("name", "duplicate sink name %q (first at line %d): each sink has a durable consumer of its own named after it", sink.Name, first)
		}
		out = append(out, sink)
	}
	return out
}

func (d *decoder) notifySink(s section, knownJobs []string) NotifySink {
	n := NotifySink{Name: s.str("name", ""), Kind: s.str("kind", "")}
	switch {
	case n.Name == "":
		s.problem("name", "required")
	case !jobs.ValidName(n.Name) || len(n.Name) > 64:
		s.problem("name", "%q may hold only letters, digits, - and _, at most 64 (it names the sink's NATS consumer)", n.Name)
	}
	switch {
	case n.Kind == "":
		s.problem("kind", "required: one of %s", strings.Join(notifyKinds, ", "))
	case !slices.Contains(notifyKinds, n.Kind):
		s.problem("kind", "%q is not one of %s", n.Kind, strings.Join(notifyKinds, ", "))
	}
	n.On = d.notifyOn(s)
	n.Jobs = d.stringList(s, "jobs")
	for i, j := range n.Jobs {
		if !slices.Contains(knownJobs, j) {
			d.add(s.lineOf("jobs"), fmt.Sprintf("%s[%d]", s.key("jobs"), i), "%q is not a configured job (the jobs are: %s)", j, strings.Join(knownJobs, ", "))
		}
	}
	if n.Kind == NotifyEmail {
		d.notifyEmail(s, &n)
	} else if n.Kind != "" {
		d.notifyHTTP(s, &n)
	}
	return n
}

// notifyOn reads `on`, defaulting to NotifyOnDefault.
func (d *decoder) notifyOn(s section) []string {
	if !s.has("on") {
		return NotifyOnDefault()
	}
	on := d.stringList(s, "on")
	for i, v := range on {
		if !slices.Contains(notifyOn, v) {
			d.add(s.lineOf("on"), fmt.Sprintf("%s[%d]", s.key("on"), i), "%q is not one of %s", v, strings.Join(notifyOn, ", "))
		}
	}
	if len(on) == 0 {
		s.problem("on", "must name at least one of %s (remove the sink to silence it)", strings.Join(notifyOn, ", "))
	}
	return on
}

// notifyHTTP reads the URL (and, for a webhook, its signing secret) of a
// sink that posts over HTTP. The URL is a secret: no message shows it.
func (d *decoder) notifyHTTP(s section, n *NotifySink) {
	for _, k := range []string{"smtp", "to"} {
		if s.has(k) {
			s.problem(k, "only for kind email")
		}
	}
	switch {
	case s.has("url") && s.has("url_file"):
		s.problem("url_file", "set only one of url and url_file")
	case s.has("url"):
		n.URL = d.secretString(s, "url")
		if n.URL != "" && !notifyURLOK(n.URL) {
			s.problem("url", "is not an https URL (http only to a loopback address); the value is not shown, a webhook URL is a secret")
		}
	case s.has("url_file"):
		n.URLFile, n.URL = d.secretFile(s, "url_file")
		if n.URL != "" && !notifyURLOK(n.URL) {
			s.problem("url_file", "%q does not hold an https URL (http only to a loopback address); its content is not shown, a webhook URL is a secret", n.URLFile)
		}
	default:
		d.add(s.line, s.path, "needs url_file (or url): the %s webhook URL", n.Kind)
	}
	if n.Kind != NotifyWebhook {
		if s.has("secret_file") {
			s.problem("secret_file", "only for kind webhook (a %s webhook URL is its own secret)", n.Kind)
		}
		return
	}
	if !s.has("secret_file") {
		s.problem("secret_file", "required for kind webhook: a file holding the Standard Webhooks signing secret (whsec_ followed by the base64 of 24 to 64 random bytes)")
		return
	}
	var secret string
	n.SecretFile, secret = d.secretFile(s, "secret_file")
	if secret == "" {
		return
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, webhookSecretPrefix))
	switch {
	case !strings.HasPrefix(secret, webhookSecretPrefix) || err != nil:
		s.problem("secret_file", "%q does not hold a Standard Webhooks secret: whsec_ followed by standard base64 (make one with: echo whsec_$(head -c 32 /dev/urandom | base64))", n.SecretFile)
	case len(key) < webhookKeyMin || len(key) > webhookKeyMax:
		s.problem("secret_file", "%q holds a key of %d bytes; Standard Webhooks asks for %d to %d", n.SecretFile, len(key), webhookKeyMin, webhookKeyMax)
	default:
		n.SigningKey = key
	}
}

// notifyURLOK accepts https URLs, and http ones to a loopback host (a
// local relay, the demo).
func notifyURLOK(s string) bool {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		ip := net.ParseIP(u.Hostname())
		return u.Hostname() == "localhost" || ip != nil && ip.IsLoopback()
	}
	return false
}

// notifyEmail reads the relay and recipients of an email sink.
func (d *decoder) notifyEmail(s section, n *NotifySink) {
	for _, k := range []string{"url", "url_file", "secret_file"} {
		if s.has(k) {
			s.problem(k, "not for kind email (it uses smtp and to)")
		}
	}
	if !s.has("smtp") {
		s.problem("smtp", "required for kind email: {address: host:587, from: …}")
	}
	ms := s.sub("smtp", smtpKeys...)
	n.SMTP = SMTP{
		Address:  ms.str("address", ""),
		Username: ms.str("username", ""),
		From:     ms.str("from", ""),
		CAFile:   ms.str("ca_file", ""),
	}
	if s.has("smtp") {
		switch {
		case n.SMTP.Address == "":
			ms.problem("address", "required: the relay's host:port (587 for submission with STARTTLS)")
		case !isHostPort(n.SMTP.Address) || strings.HasPrefix(n.SMTP.Address, ":"):
			ms.problem("address", "%q is not host:port", n.SMTP.Address)
		}
		if n.SMTP.From == "" {
			ms.problem("from", "required: the sender address")
		} else if _, err := mail.ParseAddress(n.SMTP.From); err != nil {
			ms.problem("from", "%q is not a mail address", n.SMTP.From)
		}
	}
	if n.SMTP.CAFile != "" {
		if pem, err := os.ReadFile(n.SMTP.CAFile); err != nil {
			ms.problem("ca_file", "reading %q: %s", n.SMTP.CAFile, errors.Unwrap(err))
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			ms.problem("ca_file", "%q holds no PEM certificate", n.SMTP.CAFile)
		}
	}
	if ms.has("password_file") {
		n.SMTP.PasswordFile, n.SMTP.Password = d.secretFile(ms, "password_file")
	}
	if (n.SMTP.Username == "") != (n.SMTP.PasswordFile == "") {
		ms.problem("password_file", "set username and password_file together, or neither for a relay that needs no login")
	}
	n.To = d.stringList(s, "to")
	if len(n.To) == 0 {
		s.problem("to", "required for kind email: at least one recipient")
	}
	for i, a := range n.To {
		if _, err := mail.ParseAddress(a); err != nil {
			d.add(s.lineOf("to"), fmt.Sprintf("%s[%d]", s.key("to"), i), "%q is not a mail address", a)
		}
	}
}
