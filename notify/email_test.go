package notify

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"math/big"
	"mime/quotedprintable"
	"net"
	netmail "net/mail"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/certrotator/certrotator/config"
	"github.com/certrotator/certrotator/internal/testkit"
)

// mailMsg is one message the SMTP server accepted.
type mailMsg struct {
	from string
	to   []string
	data string
	tls  bool
	user string
}

// smtpServer is a real SMTP server (emersion/go-smtp) that offers
// STARTTLS with a certificate of the test CA and AUTH PLAIN only over TLS.
type smtpServer struct {
	addr   string
	caFile string
	got    chan mailMsg
}

func newSMTPServer(t *testing.T, user, password string) *smtpServer {
	t.Helper()
	ca := testkit.CA(t)
	key := testkit.ECKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "smtp.test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{caFile: caFile, got: make(chan mailMsg, 100)}
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: s, conn: c, user: user, password: password}, nil
	}))
	srv.Domain = "smtp.test"
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}, MinVersion: tls.VersionTLS12}
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	return s
}

type smtpSession struct {
	srv            *smtpServer
	conn           *smtp.Conn
	user, password string
	authed         string
	m              mailMsg
}

func (s *smtpSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *smtpSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, password string) error {
		if user != s.user || password != s.password {
			return errors.New("bad credentials")
		}
		s.authed = user
		return nil
	}), nil
}

func (s *smtpSession) Mail(from string, _ *smtp.MailOptions) error {
	if s.user != "" && s.authed == "" {
		return smtp.ErrAuthRequired
	}
	s.m.from = from
	return nil
}

func (s *smtpSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.m.to = append(s.m.to, to)
	return nil
}

func (s *smtpSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	_, s.m.tls = s.conn.TLSConnectionState()
	s.m.data, s.m.user = string(b), s.authed
	s.srv.got <- s.m
	return nil
}

func (s *smtpSession) Reset()        { s.m = mailMsg{} }
func (s *smtpSession) Logout() error { return nil }

func (s *smtpServer) next(t *testing.T) mailMsg {
	t.Helper()
	return testkit.Receive(t, s.got, "the SMTP server received nothing")
}

// TestEmailOverSTARTTLS: a failure and a success of one request reach the
// SMTP server as one mail, over STARTTLS, logged in, to every recipient.
func TestEmailOverSTARTTLS(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	srv := newSMTPServer(t, "certrotator", "smtp-pass")
	s := startService(t, b, nil, nil, config.NotifySink{
		Name: "pki-team", Kind: config.NotifyEmail, On: []string{"failed", "succeeded"},
		To:   []string{"pki-team@example.org", "oncall@example.org"},
		SMTP: config.SMTP{Address: srv.addr, Username: "certrotator", Password: "smtp-pass", From: "certrotator@example.org", CAFile: srv.caFile},
	})
	b.publish(t, failed("contoso-api", "r1", 1))
	b.publish(t, succeeded("contoso-api", "r1", 2))
	if got := s.signals.delivered.WaitOrTimeout(t); len(got) != 2 {
		t.Fatalf("one mail told %d events, want the request's 2", len(got))
	}
	m := srv.next(t)
	if !m.tls || m.user != "certrotator" || m.from != "certrotator@example.org" || len(m.to) != 2 {
		t.Errorf("mail over TLS %v as %q from %q to %v, want STARTTLS, logged in, both recipients", m.tls, m.user, m.from, m.to)
	}
	msg, err := netmail.ReadMessage(strings.NewReader(m.data))
	if err != nil {
		t.Fatalf("reading the mail: %v", err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if err != nil {
		t.Fatalf("decoding the body: %v", err)
	}
	if subj := msg.Header.Get("Subject"); subj != "certrotator: contoso-api: 1 failed, 1 succeeded of 2 connectors" {
		t.Errorf("Subject %q", subj)
	}
	for _, want := range []string{"vault_unavailable", "connection refused (1)", "certificate A1B2C3"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("mail lacks %q:\n%s", want, body)
		}
	}
}

// TestEmailRefusesWithoutSTARTTLS: a relay that does not offer STARTTLS
// gets no mail; the failure is counted and retried.
func TestEmailRefusesWithoutSTARTTLS(t *testing.T) {
	t.Parallel()
	b := newBus(t)
	srv := smtp.NewServer(smtp.BackendFunc(func(c *smtp.Conn) (smtp.Session, error) {
		return &smtpSession{srv: &smtpServer{got: make(chan mailMsg, 1)}, conn: c}, nil
	}))
	srv.Domain = "plain.test"
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close(); <-done })
	s := startService(t, b, nil, nil, config.NotifySink{
		Name: "mail", Kind: config.NotifyEmail, On: config.NotifyOnDefault(), To: []string{"a@example.org"},
		SMTP: config.SMTP{Address: ln.Addr().String(), From: "c@example.org"},
	})
	b.publish(t, failed("contoso-api", "r1", 1))
	if err := s.signals.failed.WaitOrTimeout(t); !strings.Contains(strings.ToLower(err.Error()), "starttls") {
		t.Errorf("failure %v, want one about STARTTLS", err)
	}
	s.signals.delivered.RequireEmpty(t)
}
