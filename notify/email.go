package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strconv"

	mail "github.com/wneessen/go-mail"

	"github.com/certrotator/certrotator/config"
)

// emailSender mails the summary through an SMTP relay with STARTTLS
// required (go-mail's TLSMandatory: a relay that does not offer it gets
// nothing, not a plain-text mail).
type emailSender struct {
	smtp config.SMTP
	to   []string
	tls  *tls.Config
	host string
	port int
}

func newEmailSender(c config.SMTP, to []string) (*emailSender, error) {
	host, portText, err := net.SplitHostPort(c.Address)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q: %w", c.Address, err)
	}
	port, err := strconv.Atoi(portText)
	if err != nil {
		return nil, fmt.Errorf("smtp address %q: port is not a number", c.Address)
	}
	tc := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, fmt.Errorf("reading smtp ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("smtp ca_file %s holds no PEM certificate", c.CAFile)
		}
		tc.RootCAs = pool
	}
	return &emailSender{smtp: c, to: to, tls: tc, host: host, port: port}, nil
}

func (s *emailSender) send(ctx context.Context, evs []event) error {
	sum := summarize(plain(evs))
	m := mail.NewMsg()
	if err := m.From(s.smtp.From); err != nil {
		return fmt.Errorf("setting the mail sender: %w", err)
	}
	if err := m.To(s.to...); err != nil {
		return fmt.Errorf("setting the mail recipients: %w", err)
	}
	m.Subject(sum.Title)
	m.SetDate()
	// One Message-ID per group of events, so that a mail client folds a
	// copy that a crash between send and record let through.
	m.SetMessageIDWithValue(evs[0].ID + "@certrotator")
	m.SetBodyString(mail.TypeTextPlain, sum.plainText())
	opts := []mail.Option{
		mail.WithPort(s.port),
		mail.WithTLSPolicy(mail.TLSMandatory),
		mail.WithTLSConfig(s.tls),
		mail.WithTimeout(sendTimeout),
	}
	if s.smtp.Username != "" {
		opts = append(opts, mail.WithSMTPAuth(mail.SMTPAuthAutoDiscover), mail.WithUsername(s.smtp.Username), mail.WithPassword(s.smtp.Password))
	}
	c, err := mail.NewClient(s.host, opts...)
	if err != nil {
		return fmt.Errorf("building the smtp client for %s: %w", s.smtp.Address, err)
	}
	if err := c.DialAndSendWithContext(ctx, m); err != nil {
		return &sendError{err: fmt.Errorf("mailing through %s: %w", s.smtp.Address, err)}
	}
	return nil
}
